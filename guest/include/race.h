/*
 * The race between fork/exit pinning and unpinning an mm's pagetables
 * and reclaim changing its ptes: the counters the race kernel keeps, and
 * the oracles' view of a page.
 *
 * The hypervisor reads race_stats from guest memory by symbol name once
 * the domain has stopped, and each member by name, at the offset the
 * kernel's DWARF gives it (package race): members may move, but each
 * counter stays a u64. Every field changes with atomic adds only.
 */
#ifndef _RACE_H
#define _RACE_H

#include <compiler.h>
#include <mm.h>
#include <mm_types.h>
#include <types.h>

/* The bytes "pvsimsvr", little-endian. */
#define RACE_STATS_MAGIC	0x7276736d69737670UL

struct race_stats {
	u64 magic;		/* RACE_STATS_MAGIC once the kernel runs */
	u64 strategy;		/* enum pv_mmu_strategy (paravirt.h) */
	u64 forks;		/* fork+exit pairs completed */
	u64 pin_windows;	/* pins and unpins completed */
	u64 fork_exit_ns;	/* time in fork and the matching exit */
	u64 young_clears;	/* ptep_test_and_clear_young() found it young */
	u64 young_clear_ns;	/* time in those calls */
	u64 young_clear_exits;	/* VM exits during those calls */
	u64 lost_dirty;		/* oracles: lib/race.c */
	u64 ineffective_young;
	u64 use_after_free;
	u64 writebacks;		/* Dirty bits written back */
	u64 writes;		/* writes through a child's mapping */
	u64 freed;		/* pages reclaim freed */
	u64 young_calls;	/* every ptep_test_and_clear_young() */
	u64 pin_lock_waits;	/* reclaim found a pte lock a pin or unpin held */
	u64 reclaim_hidden;	/* oracle: lib/race.c */
	u64 fork_nomem;		/* forks that failed for memory */
	u64 direct_reclaimed;	/* pages an allocation reclaimed itself */
};

extern struct race_stats race_stats;

#define race_stat_add(field, n)						\
	__atomic_fetch_add(&race_stats.field, (n), __ATOMIC_RELAXED)
#define race_stat_inc(field)	race_stat_add(field, 1)

/*
 * Each mm writes to its own word of a page, picked by its id, so that
 * what reached the page through one mm's ptes can be told apart. Word 0
 * is the first mm's, the init process's, which maps every page and never
 * writes; the others take words 1 to 511 in turn, so two mms that map a
 * page at once never share one (children live a few forks, not 511).
 */
static inline unsigned long mm_slot_offset(struct mm_struct *mm)
{
	const unsigned long words = PAGE_SIZE / sizeof(u64);

	if (mm->id == 1)
		return 0;
	return (1 + (mm->id - 2) % (words - 1)) * sizeof(u64);
}

static inline u64 *page_slot(struct page *page, struct mm_struct *mm)
{
	return (u64 *)((char *)page_address(page) + mm_slot_offset(mm));
}

/*
 * The oracles (lib/race.c). index is the page's offset in its vma.
 *
 * mm came to map page at index, through a clean pte, whose free_seq was
 * then free_seq.
 */
void race_note_mapped(struct mm_struct *mm, unsigned long index,
		      struct page *page, u64 free_seq);

/*
 * vma's ptes are out of the reverse map from now on (it was never linked,
 * or is unlinked), or back in it: pin-before-visible, around the pin
 * and the unpin. The ptes stay until race_note_visible().
 */
void race_note_hidden(struct vm_area_struct *vma);
void race_note_visible(struct vm_area_struct *vma);

/*
 * A young clear of *ptep found it young; seq and mask are mm's
 * switch_seq and cpu_vm_mask from before it.
 */
void race_check_young(struct mm_struct *mm, unsigned long seq,
		      unsigned long mask, pte_t *ptep);

/*
 * pte, present, of page at index in mm was cleared: by exit, or by
 * reclaim unmapping the page.
 */
void race_check_unmapped(struct mm_struct *mm, unsigned long index, pte_t pte,
			 struct page *page);

/* try_to_unmap() left page mapped. */
void race_check_unmap_failed(struct page *page);

#endif /* _RACE_H */
