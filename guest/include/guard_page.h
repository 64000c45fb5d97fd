/* Test kernels' pages with an unmapped page after them. */
#ifndef _GUARD_PAGE_H
#define _GUARD_PAGE_H

#include <hypercall.h>
#include <mm.h>

/*
 * A fresh page whose linear-map successor is unmapped, so that a
 * hypervisor reading past its end (a list without a terminator, a batch
 * with a huge count) faults there rather than reading on through memory.
 * Takes two pages from the allocator; NULL if they are not adjacent or
 * the unmap fails. Inline: only the test kernels that use it carry it.
 */
static inline void *alloc_guarded_page(void)
{
	unsigned long va = (unsigned long)page_address(alloc_page());
	unsigned long guard = (unsigned long)page_address(alloc_page());

	if (guard != va + PAGE_SIZE || HYPERVISOR_update_va_mapping(guard, 0, UVMF_INVLPG))
		return NULL;
	return (void *)va;
}

#endif /* _GUARD_PAGE_H */
