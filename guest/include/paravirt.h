/*
 * pv_mmu_ops: how the kernel changes ptes of an mm that may be pinned, in
 * the middle of being pinned or unpinned, or not at all. Linux 2.6.2x
 * called these through paravirt_ops; each strategy of the race kernel
 * fills the table its own way at boot (paravirt_set_strategy()). A NULL
 * op runs the native code.
 */
#ifndef _PARAVIRT_H
#define _PARAVIRT_H

#include <mm_types.h>
#include <pgtable.h>
#include <types.h>

/* The strategies, in the order race_stats.strategy numbers them. */
enum pv_mmu_strategy {
	STRATEGY_NONE,			/* native locked bit operations */
	STRATEGY_GENERIC_SET_PTE,	/* read, then mmu_update the new pte */
	STRATEGY_PRESERVE_AD,		/* the same, with PRESERVE_AD */
	STRATEGY_PVOP_HYPERCALL,	/* PVSIMOP_test_and_clear_pte_flags */
	STRATEGY_PIN_BEFORE_VISIBLE,	/* fork pins before it links the rmap */
	STRATEGY_LOCK_PTE_PAGES,	/* pin and unpin hold the pte locks */
	STRATEGY_HV_PIN_AWARE,		/* pin announces its frames */
	NR_STRATEGIES
};

extern enum pv_mmu_strategy pv_mmu_strategy;
extern const char *const pv_mmu_strategy_names[NR_STRATEGIES];

struct pv_mmu_ops {
	/*
	 * Clear Accessed or the whole entry, returning whether the bit was
	 * set or what the entry held.
	 */
	int (*ptep_test_and_clear_young)(struct vm_area_struct *vma,
					 unsigned long addr, pte_t *ptep);
	pte_t (*ptep_get_and_clear)(struct mm_struct *mm, unsigned long addr,
				    pte_t *ptep);
	void (*set_pte_at)(struct mm_struct *mm, unsigned long addr,
			   pte_t *ptep, pte_t pte);
	void (*flush_tlb_page)(struct vm_area_struct *vma, unsigned long addr);
};

extern struct pv_mmu_ops pv_mmu_ops;

/*
 * Fills pv_mmu_ops for the strategy called name; panics on an unknown
 * name, or when the hypervisor lacks what the strategy needs.
 */
void paravirt_set_strategy(const char *name);

/* An entry of an mm's pagetable, the hypercall way if it is pinned. */
void xen_set_pte_at(struct mm_struct *mm, unsigned long addr, pte_t *ptep,
		    pte_t pte);

/* Invalidates addr on every vCPU that has the vma's mm loaded. */
void xen_flush_tlb_page(struct vm_area_struct *vma, unsigned long addr);

static inline void set_pte_at(struct mm_struct *mm, unsigned long addr,
			      pte_t *ptep, pte_t pte)
{
	pv_mmu_ops.set_pte_at(mm, addr, ptep, pte);
}

static inline void flush_tlb_page(struct vm_area_struct *vma,
				  unsigned long addr)
{
	pv_mmu_ops.flush_tlb_page(vma, addr);
}

pte_t ptep_get_and_clear(struct mm_struct *mm, unsigned long addr,
			 pte_t *ptep);

#endif /* _PARAVIRT_H */
