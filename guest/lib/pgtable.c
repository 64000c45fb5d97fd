/* Walking the boot pagetables, and the A and D bits of an entry. */
#include <bitops.h>
#include <paravirt.h>
#include <pgtable.h>

pgd_t *swapper_pg_dir;

pte_t *lookup_address(unsigned long addr, unsigned int *level)
{
	pgd_t *pgd = pgd_offset_k(addr);
	pud_t *pud;
	pmd_t *pmd;

	*level = PG_LEVEL_NONE;
	if (!pgd_present(*pgd))
		return NULL;

	pud = pud_offset(pgd, addr);
	if (!pud_present(*pud))
		return NULL;
	*level = PG_LEVEL_1G;
	if (pud_large(*pud))
		return (pte_t *)pud;

	pmd = pmd_offset(pud, addr);
	if (!pmd_present(*pmd))
		return NULL;
	*level = PG_LEVEL_2M;
	if (pmd_large(*pmd))
		return (pte_t *)pmd;

	*level = PG_LEVEL_4K;
	return pte_offset_kernel(pmd, addr);
}

/*
 * Reclaim's entry points for changing a pte of any mm, pinned or not:
 * each runs the strategy's pv-op, or the native code itself, so that a
 * fault in the native code names the function.
 */
noinline int ptep_test_and_clear_young(struct vm_area_struct *vma,
				       unsigned long addr, pte_t *ptep)
{
	if (pv_mmu_ops.ptep_test_and_clear_young)
		return pv_mmu_ops.ptep_test_and_clear_young(vma, addr, ptep);

	if (!pte_young(*ptep))
		return 0;
	return test_and_clear_bit(_PAGE_BIT_ACCESSED,
				  (unsigned long *)&ptep->pte);
}

noinline pte_t ptep_get_and_clear(struct mm_struct *mm, unsigned long addr,
				  pte_t *ptep)
{
	if (pv_mmu_ops.ptep_get_and_clear)
		return pv_mmu_ops.ptep_get_and_clear(mm, addr, ptep);

	return native_ptep_get_and_clear(ptep);
}
