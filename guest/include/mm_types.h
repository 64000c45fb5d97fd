/*
 * Address spaces: mm_struct and vm_area_struct, as in Linux 2.6.2x, cut
 * down to what the race model needs. A process's memory is anonymous
 * vmas in the user half of its own L4; the kernel's L4 slots are shared
 * with swapper_pg_dir, so the kernel runs on whichever mm is loaded.
 */
#ifndef _MM_TYPES_H
#define _MM_TYPES_H

#include <atomic.h>
#include <list.h>
#include <pgtable.h>
#include <types.h>

/* The most pages a vma of the model has: the oracles' arrays are this long. */
#define MAX_RACE_PAGES		64

/* The user half of an address space: L4 slots below 256. */
#define TASK_SIZE		0x0000800000000000UL

struct anon_vma;
struct mm_struct;

struct vm_area_struct {
	struct mm_struct *vm_mm;
	unsigned long vm_start, vm_end;
	struct vm_area_struct *vm_next;
	pgprot_t vm_page_prot;
	/* Every vma that may map pages of this one's, for the reverse map. */
	struct anon_vma *anon_vma;
	struct list_head anon_vma_node;	/* under anon_vma->lock */
	/*
	 * The oracles' (race.h): whether the vma has ptes the reverse map
	 * cannot reach, and its place on their list of such vmas.
	 */
	bool hidden;
	struct list_head hidden_node;
};

typedef struct {
	bool pinned;		/* its pagetables are pinned (xen_pgd_pin) */
} mm_context_t;

struct mm_struct {
	struct vm_area_struct *mmap;	/* the vmas, in address order */
	pgd_t *pgd;
	atomic_t mm_users;
	/* Bit n: vCPU n may use the mm's ptes (switch_mm()). */
	unsigned long cpu_vm_mask;
	/* Bumped on every switch_mm() to the mm, after its bit is set. */
	unsigned long switch_seq;
	mm_context_t context;
	struct list_head mmlist;	/* on the list of all mms */
	unsigned int id;

	/*
	 * The oracles, per page of the vma (race.h): the page's free_seq
	 * when the mm came to map it, and the mm's word of the page then,
	 * when the pte was clean.
	 */
	u64 map_seq[MAX_RACE_PAGES];
	u64 clean_word[MAX_RACE_PAGES];
};

/* The kernel's own mm: swapper_pg_dir. */
extern struct mm_struct init_mm;

static inline pgd_t *pgd_offset(struct mm_struct *mm, unsigned long addr)
{
	return mm->pgd + pgd_index(addr);
}

#endif /* _MM_TYPES_H */
