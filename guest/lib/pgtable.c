/* Walking the boot pagetables, and the accessed bit of an entry. */
#include <bitops.h>
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

noinline int ptep_test_and_clear_young(struct vm_area_struct *vma,
				       unsigned long addr, pte_t *ptep)
{
	int ret = 0;

	if (pte_young(*ptep))
		ret = test_and_clear_bit(_PAGE_BIT_ACCESSED,
					 (unsigned long *)&ptep->pte);
	return ret;
}
