/* Objects of up to a page, a frame each. */
#include <kernel.h>
#include <mm.h>
#include <slab.h>

void *kzalloc(size_t size)
{
	unsigned long addr;

	BUG_ON(size > PAGE_SIZE);
	addr = get_zeroed_page();
	return (void *)addr;
}

void kfree(const void *objp)
{
	free_page((unsigned long)objp);
}
