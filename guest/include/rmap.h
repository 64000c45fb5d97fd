/*
 * The reverse map of anonymous pages, as in Linux before 2.6.34: every
 * vma that may map a page is on the list of one anon_vma, the page's
 * mapping; a page's pte in a vma is at vma_address(). Reclaim walks that
 * list to reach every pte of the page.
 */
#ifndef _RMAP_H
#define _RMAP_H

#include <list.h>
#include <mm.h>
#include <mm_types.h>
#include <spinlock.h>

struct anon_vma {
	spinlock_t lock;	/* serializes the list against rmap walks */
	struct list_head head;	/* vmas, by anon_vma_node */
};

/* Gives vma a new anon_vma, with vma on it. */
void anon_vma_prepare(struct vm_area_struct *vma);
/* Puts a copy of a vma on the anon_vma of the original: fork. */
void anon_vma_link(struct vm_area_struct *vma);
void anon_vma_unlink(struct vm_area_struct *vma);

/*
 * A fresh anonymous page becomes the page of vma at address: it counts
 * one more mapping, whatever forgotten pte may still map it.
 */
void page_add_new_anon_rmap(struct page *page, struct vm_area_struct *vma,
			    unsigned long address);

/* One more pte maps the page: fork copied one. */
static inline void page_dup_rmap(struct page *page)
{
	atomic_inc(&page->_mapcount);
}

/* One pte fewer maps the page. */
static inline void page_remove_rmap(struct page *page)
{
	atomic_dec(&page->_mapcount);
}

static inline unsigned long vma_address(struct page *page,
					struct vm_area_struct *vma)
{
	return vma->vm_start + (page->index << PAGE_SHIFT);
}

/*
 * The pte that maps page at address in mm, present, with its page-table
 * lock taken (*ptlp); NULL when there is none.
 */
pte_t *page_check_address(struct page *page, struct mm_struct *mm,
			  unsigned long address, spinlock_t **ptlp);

/* How many ptes mapping page were young; clears them. */
int page_referenced(struct page *page);

/* What try_to_unmap() did, with Linux 2.6.23's values. */
enum {
	SWAP_SUCCESS = 0,	/* nothing maps the page any more */
	SWAP_AGAIN = 1,		/* a pte the walk did not clear maps it */
	SWAP_FAIL = 2,		/* a pte was young again: keep the page */
};

/*
 * Clears every pte the reverse map knows for page, moving Dirty to the
 * page, unless one is young.
 */
int try_to_unmap(struct page *page);

#endif /* _RMAP_H */
