/*
 * Reclaim: kswapd scans the LRU of anonymous pages. Every page scanned
 * has its young ptes cleared; one that was not referenced since the last
 * scan is written back, as shrink_page_list() pages out an inactive
 * page. Under pressure every page is written back, unmapped and freed,
 * referenced or not, as at the lowest scan priority. Freed pages go to
 * the anon pool (swap.h says why).
 */
#include <kernel.h>
#include <processor.h>
#include <race.h>
#include <rmap.h>
#include <spinlock.h>
#include <string.h>
#include <swap.h>

static LIST_HEAD(inactive_list);
static unsigned long nr_inactive;	/* pages on inactive_list */
static DEFINE_SPINLOCK(lru_lock);

static LIST_HEAD(anon_page_pool);
static DEFINE_SPINLOCK(pool_lock);

void lru_cache_add(struct page *page)
{
	spin_lock(&lru_lock);
	SetPageLRU(page);
	list_add_tail(&page->lru, &inactive_list);
	nr_inactive++;
	spin_unlock(&lru_lock);
}

struct page *alloc_anon_page(void)
{
	struct page *page = NULL;

	spin_lock(&pool_lock);
	if (!list_empty(&anon_page_pool)) {
		page = list_first_entry(&anon_page_pool, struct page, lru);
		list_del(&page->lru);
	}
	spin_unlock(&pool_lock);

	if (page) {
		memset(page_address(page), 0, PAGE_SIZE);
		ClearPageDirty(page);
		return page;
	}
	page = alloc_page();
	if (!page)
		panic("out of memory for an anonymous page");
	return page;
}

static void free_anon_page(struct page *page)
{
	spin_lock(&pool_lock);
	list_add(&page->lru, &anon_page_pool);
	spin_unlock(&pool_lock);
}

static unsigned long isolate_lru_pages(unsigned long nr_to_scan,
				       struct list_head *dst)
{
	unsigned long nr_taken = 0;
	struct page *page;

	spin_lock(&lru_lock);
	while (nr_taken < nr_to_scan && !list_empty(&inactive_list)) {
		page = list_first_entry(&inactive_list, struct page, lru);
		list_del(&page->lru);
		ClearPageLRU(page);
		list_add_tail(&page->lru, dst);
		nr_taken++;
	}
	nr_inactive -= nr_taken;
	spin_unlock(&lru_lock);
	return nr_taken;
}

/*
 * clear_page_dirty_for_io() and the write: the ptes' Dirty bits move to
 * the page, and the page is written back clean.
 */
static void pageout(struct page *page)
{
	if (page_mkclean(page))
		set_page_dirty(page);
	if (PageDirty(page))
		ClearPageDirty(page);
}

static unsigned long shrink_page_list(struct list_head *page_list,
				      bool pressure)
{
	unsigned long nr_reclaimed = 0;
	struct page *page;

	while (!list_empty(page_list)) {
		page = list_first_entry(page_list, struct page, lru);
		list_del(&page->lru);

		if (page_referenced(page) && !pressure)
			goto keep;	/* in use: activate_locked */
		pageout(page);
		if (!pressure)
			goto keep;

		try_to_unmap(page);
		if (page_mapped(page))
			goto keep;
		__atomic_fetch_add(&page->free_seq, 1, __ATOMIC_SEQ_CST);
		free_anon_page(page);
		race_stat_inc(freed);
		nr_reclaimed++;
		continue;
keep:
		lru_cache_add(page);
	}
	return nr_reclaimed;
}

/*
 * Scans up to nr_to_scan pages from the head of the LRU, a cluster at a
 * time; kept pages go back to the tail. Returns the pages scanned, fewer
 * when the LRU runs empty.
 */
static unsigned long shrink_inactive_list(unsigned long nr_to_scan,
					  bool pressure)
{
	unsigned long nr_scanned = 0, nr_taken;

	while (nr_scanned < nr_to_scan) {
		LIST_HEAD(page_list);

		nr_taken = isolate_lru_pages(min(nr_to_scan - nr_scanned,
						 SWAP_CLUSTER_MAX), &page_list);
		if (!nr_taken)
			break;
		shrink_page_list(&page_list, pressure);
		nr_scanned += nr_taken;
	}
	return nr_scanned;
}

void kswapd(bool pressure, unsigned long passes)
{
	unsigned long pass;

	if (!passes) {
		for (;;) {
			if (!shrink_inactive_list(SWAP_CLUSTER_MAX, pressure))
				cpu_relax();
		}
	}

	/*
	 * A pass scans each page on the LRU as it starts, once: the pages
	 * it keeps queue up behind the rest. An empty LRU ends a pass
	 * rather than waiting for pages, which may never come once fork
	 * and exit are done.
	 */
	for (pass = 0; pass < passes; pass++)
		shrink_inactive_list(READ_ONCE(nr_inactive), pressure);
}
