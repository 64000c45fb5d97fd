/*
 * pv_mmu_ops and the strategies that fill it. The ops that differ are
 * the two reclaim uses on ptes of other mms, which may be pinned,
 * unpinned, or in between: clearing Accessed (page_referenced and
 * try_to_unmap) and clearing the pte (try_to_unmap).
 */
#include <hypercall.h>
#include <kernel.h>
#include <mm.h>
#include <mm_types.h>
#include <paravirt.h>
#include <smp.h>
#include <string.h>
#include <xen/mmu.h>
#include <xen/pvsim.h>

enum pv_mmu_strategy pv_mmu_strategy;

const char *const pv_mmu_strategy_names[NR_STRATEGIES] = {
	[STRATEGY_NONE]			= "none",
	[STRATEGY_GENERIC_SET_PTE]	= "generic-set-pte",
	[STRATEGY_PRESERVE_AD]		= "preserve-ad",
	[STRATEGY_PVOP_HYPERCALL]	= "pvop-hypercall",
	[STRATEGY_PIN_BEFORE_VISIBLE]	= "pin-before-visible",
	[STRATEGY_LOCK_PTE_PAGES]	= "lock-pte-pages",
	[STRATEGY_HV_PIN_AWARE]		= "hv-pin-aware",
};

struct pv_mmu_ops pv_mmu_ops = {
	.set_pte_at = xen_set_pte_at,
	.flush_tlb_page = xen_flush_tlb_page,
};

/* mmu_update of one entry, which works on a table in any state. */
static void xen_update_pte(pte_t *ptep, pte_t pte, unsigned int cmd)
{
	int rc = xen_mmu_update(ptep, pte_val(pte), cmd);

	if (rc) {
		printk("mmu_update of the pte at %p to %lx (cmd %u) failed: %d\n",
		       ptep, pte_val(pte), cmd, rc);
		xen_crash();
	}
}

/*
 * As Linux 2.6.23's: for the mm this vCPU runs on (current->mm there) or
 * init_mm, an update_va_mapping of addr; for any other mm, or when that
 * fails, a plain store, which the hypervisor traps and emulates when the
 * table is pinned (ptwr).
 */
void xen_set_pte_at(struct mm_struct *mm, unsigned long addr, pte_t *ptep,
		    pte_t pte)
{
	if (mm == &init_mm || test_bit(smp_processor_id(), &mm->cpu_vm_mask)) {
		if (HYPERVISOR_update_va_mapping(addr, pte_val(pte), 0) == 0)
			return;
	}
	native_set_pte(ptep, pte);
}

void xen_flush_tlb_page(struct vm_area_struct *vma, unsigned long addr)
{
	unsigned long self = 1UL << smp_processor_id();
	unsigned long mask = READ_ONCE(vma->vm_mm->cpu_vm_mask);
	int rc = 0;

	if (mask & self)
		rc = xen_invlpg(addr);
	mask &= ~self;
	if (!rc && mask)
		rc = xen_invlpg_mask(addr, &mask);
	if (rc) {
		printk("flush_tlb_page of %lx on vCPUs %lx failed: %d\n",
		       addr, mask, rc);
		xen_crash();
	}
}

/*
 * generic-set-pte and preserve-ad: Linux's generic code, which reads the
 * pte and writes back a changed copy with set_pte_at(), here one
 * mmu_update. What the MMU sets between the read and the write is lost;
 * with MMU_PT_UPDATE_PRESERVE_AD the hypervisor ORs A and D back in, so
 * nothing is lost, but nothing is cleared either.
 */
static int update_clear_flag(pte_t *ptep, pteval_t flag, unsigned int cmd)
{
	pte_t pte = ptep_get(ptep);

	if (!(pte_val(pte) & flag))
		return 0;
	xen_update_pte(ptep, __pte(pte_val(pte) & ~flag), cmd);
	return 1;
}

static int generic_ptep_test_and_clear_young(struct vm_area_struct *vma,
					     unsigned long addr, pte_t *ptep)
{
	return update_clear_flag(ptep, _PAGE_ACCESSED, MMU_NORMAL_PT_UPDATE);
}

static int preserve_ad_ptep_test_and_clear_young(struct vm_area_struct *vma,
						 unsigned long addr,
						 pte_t *ptep)
{
	return update_clear_flag(ptep, _PAGE_ACCESSED,
				 MMU_PT_UPDATE_PRESERVE_AD);
}

static pte_t generic_ptep_get_and_clear(struct mm_struct *mm,
				       unsigned long addr, pte_t *ptep)
{
	pte_t pte = ptep_get(ptep);

	xen_update_pte(ptep, __pte(0), MMU_NORMAL_PT_UPDATE);
	return pte;
}

/* pvop-hypercall: the hypervisor clears the bits atomically, in any state. */
static unsigned long pvsim_clear_pte_flags(pte_t *ptep, unsigned long mask)
{
	long rc = HYPERVISOR_pvsim_op(PVSIMOP_test_and_clear_pte_flags,
				      virt_to_machine(ptep).maddr, mask, 0);

	if (pvsim_op_failed(rc)) {
		printk("test_and_clear_pte_flags(%lx) of the pte at %p failed: %ld\n",
		       mask, ptep, rc);
		xen_crash();
	}
	return rc;
}

static int pvsim_ptep_test_and_clear_young(struct vm_area_struct *vma,
					   unsigned long addr, pte_t *ptep)
{
	return pvsim_clear_pte_flags(ptep, _PAGE_ACCESSED) != 0;
}

static pte_t pvsim_ptep_get_and_clear(struct mm_struct *mm,
				      unsigned long addr, pte_t *ptep)
{
	return __pte(pvsim_clear_pte_flags(ptep, ~0UL));
}

static void __noreturn unknown_strategy(const char *name)
{
	char list[128];
	size_t len = 0;
	unsigned int i;

	for (i = 0; i < NR_STRATEGIES && len < sizeof(list); i++)
		len += snprintf(list + len, sizeof(list) - len, " %s",
				pv_mmu_strategy_names[i]);
	panic("strategy=%s is unknown; valid:%s", name, list);
}

static void require_feature(unsigned int bit, const char *what)
{
	if (!pvsim_has_feature(bit))
		panic("strategy=%s needs pvsim_op %s, which this hypervisor lacks",
		      pv_mmu_strategy_names[pv_mmu_strategy], what);
}

void paravirt_set_strategy(const char *name)
{
	unsigned int i;

	for (i = 0; i < NR_STRATEGIES; i++)
		if (!strcmp(name, pv_mmu_strategy_names[i]))
			break;
	if (i == NR_STRATEGIES)
		unknown_strategy(name);
	pv_mmu_strategy = i;

	switch (pv_mmu_strategy) {
	case STRATEGY_GENERIC_SET_PTE:
		pv_mmu_ops.ptep_test_and_clear_young =
			generic_ptep_test_and_clear_young;
		pv_mmu_ops.ptep_get_and_clear = generic_ptep_get_and_clear;
		break;
	case STRATEGY_PRESERVE_AD:
		pv_mmu_ops.ptep_test_and_clear_young =
			preserve_ad_ptep_test_and_clear_young;
		pv_mmu_ops.ptep_get_and_clear = generic_ptep_get_and_clear;
		break;
	case STRATEGY_PVOP_HYPERCALL:
		require_feature(PVSIMFEAT_test_and_clear_pte_flags,
				"test_and_clear_pte_flags");
		pv_mmu_ops.ptep_test_and_clear_young =
			pvsim_ptep_test_and_clear_young;
		pv_mmu_ops.ptep_get_and_clear = pvsim_ptep_get_and_clear;
		break;
	case STRATEGY_HV_PIN_AWARE:
		require_feature(PVSIMFEAT_pagetable_pending,
				"pagetable_pending");
		break;
	default:
		/* Native ops; the difference is in fork or in the pin. */
		break;
	}
}
