/* The life of an mm (lib/fork.c, lib/mmap.c): fork, and the last mmput(). */
#ifndef _SCHED_H
#define _SCHED_H

#include <mm_types.h>
#include <spinlock.h>

/* Every mm but init_mm is on init_mm.mmlist, under mmlist_lock. */
extern spinlock_t mmlist_lock;

/* Sets up init_mm; before any other mm. */
void fork_init(void);

/*
 * A new mm with a user-less pgd and no vmas, one user, on the mmlist;
 * NULL when out of memory.
 */
struct mm_struct *mm_alloc(void);

/*
 * fork's copy of oldmm: its vmas, ptes and reverse map, pinned; NULL
 * when out of memory, with what was copied torn down.
 */
struct mm_struct *dup_mm(struct mm_struct *oldmm);

/* Drops a user; the last one tears the mm down and frees it. */
void mmput(struct mm_struct *mm);

void exit_mmap(struct mm_struct *mm);

#endif /* _SCHED_H */
