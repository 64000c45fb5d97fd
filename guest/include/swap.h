/*
 * Reclaim of anonymous pages (lib/vmscan.c): one LRU list, scanned by
 * kswapd() and by allocations that find no free frame. A reclaimed page
 * goes back to the page allocator: it is freed only once nothing maps it.
 */
#ifndef _SWAP_H
#define _SWAP_H

#include <compiler.h>
#include <mm.h>
#include <types.h>

/* Pages isolated from the LRU per pass. */
#define SWAP_CLUSTER_MAX	32UL
/* The first of direct reclaim's priorities; it ends at 0. */
#define DEF_PRIORITY		12

void lru_cache_add(struct page *page);

/*
 * Direct reclaim, for an allocation that found no free frame: scans the
 * LRU until it frees pages, at most DEF_PRIORITY + 1 times; returns how
 * many it freed.
 */
unsigned long try_to_free_pages(void);

/*
 * Scans the LRU: passes times over the pages on it, or for ever when
 * passes is 0. Every page scanned has its young ptes cleared
 * (page_referenced); under pressure a page that was not young is also
 * unmapped and, once nothing maps it, written out and freed.
 */
void kswapd(bool pressure, unsigned long passes);

#endif /* _SWAP_H */
