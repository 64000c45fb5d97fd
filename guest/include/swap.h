/*
 * Reclaim of anonymous pages (lib/vmscan.c): one LRU list, scanned by
 * kswapd(), and the pool reclaimed pages go to.
 *
 * A reclaimed page is not handed back to the page allocator: a pte that
 * the reverse map did not know of may still map it, and as a pagetable
 * frame it would make the hypervisor refuse the pin that validates it.
 * Anonymous pages come from the pool first.
 */
#ifndef _SWAP_H
#define _SWAP_H

#include <compiler.h>
#include <mm.h>
#include <types.h>

/* Pages isolated from the LRU per pass. */
#define SWAP_CLUSTER_MAX	32UL

void lru_cache_add(struct page *page);

/* A zeroed, clean page for anonymous memory: from the pool, or a fresh one. */
struct page *alloc_anon_page(void);

/*
 * Scans the LRU: passes times over the pages on it, or for ever when
 * passes is 0. Every page scanned has its young ptes cleared
 * (page_referenced) and is written back; under pressure every page is
 * also unmapped and, once nothing maps it, freed.
 */
void kswapd(bool pressure, unsigned long passes);

#endif /* _SWAP_H */
