/*
 * Reclaim of anonymous pages, as Linux 2.6.23's mm/vmscan.c: kswapd, and
 * an allocation that finds no free frame (try_to_free_pages()), scan one
 * LRU list. Every page scanned has its young ptes cleared
 * (page_referenced()); one that was young is kept. Under pressure, and
 * always for an allocation, a page that was not is unmapped from every
 * pte the reverse map reaches (try_to_unmap()), written out if Dirty
 * reached it, and freed to the page allocator. Without pressure kswapd
 * only ages the pages.
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
static unsigned long nr_isolated;	/* pages a reclaimer took off it */
static DEFINE_SPINLOCK(lru_lock);

void lru_cache_add(struct page *page)
{
	spin_lock(&lru_lock);
	SetPageLRU(page);
	list_add_tail(&page->lru, &inactive_list);
	nr_inactive++;
	spin_unlock(&lru_lock);
}

/* Back to the page allocator: nothing maps the page any more. */
static void free_anon_page(struct page *page)
{
	__atomic_fetch_add(&page->free_seq, 1, __ATOMIC_SEQ_CST);
	ClearPageAnon(page);
	page->mapping = NULL;
	__free_page(page);
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
	nr_isolated += nr_taken;
	spin_unlock(&lru_lock);
	return nr_taken;
}

/* The write to swap, which pvsim does not model: the page is clean after it. */
static void pageout(struct page *page)
{
	if (TestClearPageDirty(page))
		race_stat_inc(writebacks);
}

/* Returns how many of the pages on page_list it freed. */
static unsigned long shrink_page_list(struct list_head *page_list,
				      bool pressure)
{
	unsigned long nr_reclaimed = 0;
	struct page *page;

	while (!list_empty(page_list)) {
		page = list_first_entry(page_list, struct page, lru);
		list_del(&page->lru);

		if (page_referenced(page) || !pressure)
			goto keep;	/* activate_locked */
		switch (try_to_unmap(page)) {
		case SWAP_FAIL:
			goto keep;	/* activate_locked */
		case SWAP_AGAIN:
			race_check_unmap_failed(page);
			goto keep;	/* keep_locked */
		case SWAP_SUCCESS:
			break;
		}
		pageout(page);
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
 * when the LRU runs empty, and adds those it freed to *nr_reclaimed.
 */
static unsigned long shrink_inactive_list(unsigned long nr_to_scan,
					  bool pressure,
					  unsigned long *nr_reclaimed)
{
	unsigned long nr_scanned = 0, nr_taken;

	while (nr_scanned < nr_to_scan) {
		LIST_HEAD(page_list);

		nr_taken = isolate_lru_pages(min(nr_to_scan - nr_scanned,
						 SWAP_CLUSTER_MAX), &page_list);
		if (!nr_taken)
			break;
		*nr_reclaimed += shrink_page_list(&page_list, pressure);
		nr_scanned += nr_taken;
		spin_lock(&lru_lock);
		nr_isolated -= nr_taken;
		spin_unlock(&lru_lock);
	}
	return nr_scanned;
}

/*
 * Direct reclaim: from DEF_PRIORITY down, each priority a scan of the
 * whole LRU, until a scan frees something or another reclaimer did. The
 * first scan finds the pages young and clears them; a later one frees
 * those not used since. Linux scans the LRU's size >> priority at each
 * priority; all of it is a handful of pages here. A priority that finds
 * the LRU empty while kswapd has its pages isolated waits for them rather
 * than count as a scan that found nothing (Linux throttles so from
 * 2.6.32, too_many_isolated; 2.6.23 would scan on, and only then call the
 * OOM killer).
 */
unsigned long try_to_free_pages(void)
{
	unsigned long nr_reclaimed = 0;
	int priority;

	for (priority = DEF_PRIORITY; priority >= 0; priority--) {
		while (!shrink_inactive_list(READ_ONCE(nr_inactive), true,
					     &nr_reclaimed) &&
		       READ_ONCE(nr_isolated) && !nr_free_pages())
			cpu_relax();
		if (nr_reclaimed || nr_free_pages())
			break;
	}
	race_stat_add(direct_reclaimed, nr_reclaimed);
	return nr_reclaimed;
}

void kswapd(bool pressure, unsigned long passes)
{
	unsigned long pass, nr_reclaimed = 0;

	if (!passes) {
		for (;;) {
			if (!shrink_inactive_list(SWAP_CLUSTER_MAX, pressure,
						  &nr_reclaimed))
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
		shrink_inactive_list(READ_ONCE(nr_inactive), pressure,
				     &nr_reclaimed);
}
