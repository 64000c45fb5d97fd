/*
 * Frames and the page allocator. Every guest frame has a struct page in
 * mem_map, indexed by pfn; a free frame sits on the allocator's free
 * list. Frames come back from alloc_page() zeroed and mapped writable in
 * the linear map, and must go back to __free_page() writable again: a
 * frame used as a pagetable is remapped read-only meanwhile (xen/mmu.h).
 */
#ifndef _MM_H
#define _MM_H

#include <list.h>
#include <page.h>
#include <pgtable.h>
#include <types.h>
#include <xen/page.h>

struct page {
	unsigned long flags;		/* PG_* bits */
	struct list_head lru;		/* on the free list while free */
};

enum pageflags {
	PG_reserved,	/* never allocated: image, boot structures, mem_map */
	PG_buddy,	/* on the free list */
};

static inline bool PageReserved(const struct page *page)
{
	return page->flags & (1UL << PG_reserved);
}

static inline void SetPageReserved(struct page *page)
{
	page->flags |= 1UL << PG_reserved;
}

static inline bool PageBuddy(const struct page *page)
{
	return page->flags & (1UL << PG_buddy);
}

static inline void __SetPageBuddy(struct page *page)
{
	page->flags |= 1UL << PG_buddy;
}

static inline void __ClearPageBuddy(struct page *page)
{
	page->flags &= ~(1UL << PG_buddy);
}

/* One struct page per frame below max_pfn (start_info->nr_pages). */
extern struct page *mem_map;
extern unsigned long max_pfn;

#define page_to_pfn(page)	((unsigned long)((page) - mem_map))
#define pfn_to_page(pfn)	(mem_map + (pfn))
#define page_to_phys(page)	PFN_PHYS(page_to_pfn(page))
#define page_address(page)	pfn_to_virt(page_to_pfn(page))
#define virt_to_page(addr)	pfn_to_page(virt_to_pfn(addr))

/* Sets up mem_map and the free list; called from start_kernel(). */
void mem_init(void);

/* A zeroed frame, or NULL when none is left. */
struct page *alloc_page(void);
void __free_page(struct page *page);

/* The same, by linear-map address; 0 means none. free_page(0) is a no-op. */
unsigned long get_zeroed_page(void);
void free_page(unsigned long addr);

unsigned long nr_free_pages(void);

#endif /* _MM_H */
