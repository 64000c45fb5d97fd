/*
 * Frames and the page allocator. Every guest frame has a struct page in
 * mem_map, indexed by pfn; a free frame sits on the allocator's free
 * list. Frames come back from alloc_page() zeroed and mapped writable in
 * the linear map, and must go back to __free_page() writable again: a
 * frame used as a pagetable is remapped read-only meanwhile (xen/mmu.h).
 * The rest of struct page serves the address spaces of mm_types.h: the
 * reverse map of anonymous pages (rmap.h) and split page-table locks.
 */
#ifndef _MM_H
#define _MM_H

#include <atomic.h>
#include <bitops.h>
#include <list.h>
#include <page.h>
#include <pgtable.h>
#include <spinlock.h>
#include <types.h>
#include <xen/page.h>

struct anon_vma;

struct page {
	unsigned long flags;		/* PG_* bits */
	/*
	 * How many ptes map the page, counted from 0: Linux counts from -1,
	 * which a zeroed mem_map would not give.
	 */
	atomic_t _mapcount;
	/*
	 * An anonymous page's anon_vma (Linux keeps it in the address_space
	 * pointer, tagged PAGE_MAPPING_ANON) and its page offset in the vma.
	 */
	struct anon_vma *mapping;
	unsigned long index;
	spinlock_t ptl;			/* a pte page's split page-table lock */
	/* On the free list while free; on the LRU while anonymous. */
	struct list_head lru;
	/* How often reclaim has freed the page: the use-after-free oracle. */
	u64 free_seq;
};

enum pageflags {
	PG_reserved,	/* never allocated: image, boot structures, mem_map */
	PG_buddy,	/* on the free list */
	PG_lru,		/* on the LRU */
	PG_dirty,	/* holds data not written back yet */
	PG_anon,	/* an anonymous page: mapping is its anon_vma */
	PG_pinned,	/* a pagetable frame of a pinned mm */
	/*
	 * Not Linux's: a pte page whose split lock xen_pgd_pin() or
	 * xen_pgd_unpin() holds (lock-pte-pages), for the race's count of
	 * reclaim waiting on it.
	 */
	PG_pin_locked,
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

/*
 * Flags that change while other vCPUs look at the page: atomic bit
 * operations, as in Linux's page-flags.h.
 */
#define PAGEFLAG(uname, lname)						\
static inline bool Page##uname(const struct page *page)			\
{									\
	return test_bit(PG_##lname, &page->flags);			\
}									\
static inline void SetPage##uname(struct page *page)			\
{									\
	set_bit(PG_##lname, &page->flags);				\
}									\
static inline void ClearPage##uname(struct page *page)			\
{									\
	clear_bit(PG_##lname, &page->flags);				\
}									\
static inline bool TestSetPage##uname(struct page *page)		\
{									\
	return test_and_set_bit(PG_##lname, &page->flags);		\
}									\
static inline bool TestClearPage##uname(struct page *page)		\
{									\
	return test_and_clear_bit(PG_##lname, &page->flags);		\
}

PAGEFLAG(LRU, lru)
PAGEFLAG(Dirty, dirty)
PAGEFLAG(Anon, anon)
PAGEFLAG(Pinned, pinned)
PAGEFLAG(PinLocked, pin_locked)

static inline void set_page_dirty(struct page *page)
{
	if (!PageDirty(page))
		SetPageDirty(page);
}

static inline int page_mapcount(struct page *page)
{
	return atomic_read(&page->_mapcount);
}

static inline bool page_mapped(struct page *page)
{
	return page_mapcount(page) > 0;
}

/* One struct page per frame below max_pfn (start_info->nr_pages). */
extern struct page *mem_map;
extern unsigned long max_pfn;

#define page_to_pfn(page)	((unsigned long)((page) - mem_map))
#define pfn_to_page(pfn)	(mem_map + (pfn))
#define page_to_phys(page)	PFN_PHYS(page_to_pfn(page))
#define page_address(page)	pfn_to_virt(page_to_pfn(page))
#define virt_to_page(addr)	pfn_to_page(virt_to_pfn(addr))

/* The page an entry maps. */
static inline struct page *pte_page(pte_t pte)
{
	return mem_map + mfn_to_pfn(pte_mfn(pte));
}

struct mm_struct;
struct vm_area_struct;

/* The split page-table lock of the pte page *pmd points at. */
static inline spinlock_t *pte_lockptr(struct mm_struct *mm, pmd_t *pmd)
{
	return &pte_page(__pte(pmd_val(*pmd)))->ptl;
}

/*
 * Address spaces (lib/memory.c). Tables are allocated and populated with
 * native stores, so only while the mm is not pinned.
 */
pgd_t *pgd_alloc(struct mm_struct *mm);
void pgd_free(struct mm_struct *mm, pgd_t *pgd);

/* The pmd that maps address in mm, or NULL if a table on the way is none. */
pmd_t *mm_find_pmd(struct mm_struct *mm, unsigned long address);

/* Maps a fresh anonymous page at every pte of vma that is none. */
void make_pages_present(struct vm_area_struct *vma);

/*
 * fork: the child's ptes for vma, copied from the parent's; -ENOMEM when
 * a table cannot be allocated, with the ptes copied so far left for
 * exit to clear.
 */
int copy_page_range(struct mm_struct *dst_mm, struct mm_struct *src_mm,
		    struct vm_area_struct *vma);

/* exit: clears every pte of the mm's vmas, then frees its tables. */
void unmap_vmas(struct mm_struct *mm);
void free_pgtables(struct mm_struct *mm);

/* Sets up mem_map and the free list; called from start_kernel(). */
void mem_init(void);

/*
 * A zeroed frame. When none is free, reclaims pages itself
 * (try_to_free_pages()) and tries again; NULL when that freed none.
 */
struct page *alloc_page(void);
void __free_page(struct page *page);

/*
 * Not Linux's: keeps all but nr_left free frames off the free list, as if
 * the rest of memory were in use, until release_held_pages(). The race
 * kernel's lowmem= makes fork run short of memory with it.
 */
void hold_free_pages(unsigned long nr_left);
void release_held_pages(void);

/* The same, by linear-map address; 0 means none. free_page(0) is a no-op. */
unsigned long get_zeroed_page(void);
void free_page(unsigned long addr);

unsigned long nr_free_pages(void);

#endif /* _MM_H */
