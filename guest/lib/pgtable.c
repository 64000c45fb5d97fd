/* Walking the boot pagetables. */
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
