/*
 * Forbidden PV MMU operations, one per case: each case does its one
 * forbidden operation, returns the result, and leaves the address space
 * as it found it, so that the cases do not depend on each other. A case
 * whose result differs from the expected error counts as a mismatch, and
 * so does a failed "nothing changed" check. The steps around the
 * forbidden operation must succeed; if one fails, the run stops there.
 */
#include <hypercall.h>
#include <kernel.h>
#include <mm.h>
#include <pgtable.h>
#include <xen/errno.h>
#include <xen/mmu.h>

PVSIM_DESCRIPTION("tries each forbidden PV MMU operation and checks the error it gets");

static const char *case_name;
static unsigned int mismatches;

static void __noreturn finish(void)
{
	if (mismatches) {
		printk("mmu-forbidden: FAIL (%u mismatches)\n", mismatches);
		xen_crash();
	}
	printk("mmu-forbidden: ok\n");
	xen_poweroff();
}

/* A step that must succeed; stops the run if it does not. */
static void must(int rc, const char *what)
{
	if (rc) {
		printk("mmu-forbidden: %s: %s: rc=%d (expected 0)\n",
		       case_name, what, rc);
		mismatches++;
		finish();
	}
}

/* A "nothing changed" check. */
static void expect_eq(const char *what, unsigned long got, unsigned long want)
{
	if (got != want) {
		printk("mmu-forbidden: %s: %s=0x%lx (expected 0x%lx)\n",
		       case_name, what, got, want);
		mismatches++;
	}
}

static struct page *must_alloc_page(void)
{
	struct page *page = alloc_page();

	if (!page)
		must(-ENOMEM, "alloc_page");
	return page;
}

/* The boot L1 entry that maps va in the linear map. */
static pte_t *linear_pte(const void *va)
{
	unsigned int level;
	pte_t *pte = lookup_address((unsigned long)va, &level);

	BUG_ON(!pte || level != PG_LEVEL_4K);
	return pte;
}

/* The boot L4 mapped writable: a pagetable with a writable mapping. */
static int writable_pagetable(void)
{
	pte_t *pte = linear_pte(swapper_pg_dir);
	pteval_t old = pte_val(ptep_get(pte));
	int rc;

	rc = xen_mmu_update(pte, old | _PAGE_RW, MMU_NORMAL_PT_UPDATE);
	if (!rc)
		must(xen_mmu_update(pte, old, MMU_NORMAL_PT_UPDATE),
		     "restoring the entry");
	expect_eq("entry", pte_val(ptep_get(pte)), old);
	return rc;
}

/* Pinning a frame that is still mapped writable. */
static int pin_writable(void)
{
	struct page *page = must_alloc_page();
	unsigned long pfn = page_to_pfn(page);
	int rc;

	rc = xen_pin_table(MMUEXT_PIN_L1_TABLE, pfn);
	if (!rc)
		must(xen_pin_table(MMUEXT_UNPIN_TABLE, pfn), "unpinning it");
	__free_page(page);
	return rc;
}

/* Mapping a frame past the domain's last: the hypervisor's. */
static int map_hypervisor_frame(void)
{
	struct page *page = must_alloc_page();
	void *va = page_address(page);
	pte_t *pte = linear_pte(va);
	pteval_t old = pte_val(ptep_get(pte));
	/* mfn == pfn, and the domain owns frames 0 to max_pfn - 1. */
	pte_t bad = mfn_pte(max_pfn + 16, PAGE_KERNEL_RO);
	int rc;

	rc = HYPERVISOR_update_va_mapping((unsigned long)va, pte_val(bad),
					  UVMF_INVLPG);
	if (!rc)
		must(HYPERVISOR_update_va_mapping((unsigned long)va, old,
						  UVMF_INVLPG),
		     "restoring the mapping");
	expect_eq("entry", pte_val(ptep_get(pte)), old);
	__free_page(page);
	return rc;
}

/*
 * Loading a frame that cannot be an L4 because it is mapped writable. It
 * holds the kernel's L4 slot, so that a wrongly accepted load still runs.
 */
static int unvalidated_cr3(void)
{
	struct page *page = must_alloc_page();
	pgd_t *pgd = page_address(page);
	int rc;

	native_set_pgd(pgd + pgd_index(__START_KERNEL_map),
		       *pgd_offset_k(__START_KERNEL_map));
	rc = xen_write_cr3(page_to_phys(page));
	if (!rc)
		must(xen_write_cr3(__pa(swapper_pg_dir)),
		     "switching back to the boot L4");
	__free_page(page);
	return rc;
}

/* Unpinning a table that is no longer pinned. */
static int unpin_twice(void)
{
	struct page *page = must_alloc_page();
	unsigned long pfn = page_to_pfn(page);
	int rc;

	must(xen_make_pages_readonly(&page, 1), "remapping it read-only");
	must(xen_pin_table(MMUEXT_PIN_L1_TABLE, pfn), "MMUEXT_PIN_L1_TABLE");
	must(xen_pin_table(MMUEXT_UNPIN_TABLE, pfn), "the first MMUEXT_UNPIN_TABLE");
	rc = xen_pin_table(MMUEXT_UNPIN_TABLE, pfn);
	must(xen_make_pages_readwrite(&page, 1), "remapping it writable");
	__free_page(page);
	return rc;
}

/* Pinning a table that is pinned already. */
static int pin_twice(void)
{
	struct page *page = must_alloc_page();
	unsigned long pfn = page_to_pfn(page);
	int rc;

	must(xen_make_pages_readonly(&page, 1), "remapping it read-only");
	must(xen_pin_table(MMUEXT_PIN_L1_TABLE, pfn), "the first MMUEXT_PIN_L1_TABLE");
	rc = xen_pin_table(MMUEXT_PIN_L1_TABLE, pfn);
	/* Still pinned, once. */
	must(xen_pin_table(MMUEXT_UNPIN_TABLE, pfn), "MMUEXT_UNPIN_TABLE");
	must(xen_make_pages_readwrite(&page, 1), "remapping it writable");
	__free_page(page);
	return rc;
}

/* Writing one of the hypervisor's L4 slots, with an otherwise valid entry. */
static int hypervisor_l4_slot(void)
{
	pgd_t *pgd = pgd_offset_k(HYPERVISOR_VIRT_START);
	pgdval_t old = READ_ONCE(pgd->pgd);
	pgdval_t val = pgd_val(*pgd_offset_k(__START_KERNEL_map));
	int rc;

	rc = xen_mmu_update(pgd, val, MMU_NORMAL_PT_UPDATE);
	if (!rc)
		must(xen_mmu_update(pgd, old, MMU_NORMAL_PT_UPDATE),
		     "restoring the entry");
	expect_eq("entry", READ_ONCE(pgd->pgd), old);
	return rc;
}

/*
 * A superpage in entry 0 of a pinned, empty L2 or L3 (pin_cmd): a
 * read-only 2 MiB or 1 GiB page at machine address 0.
 */
static int superpage(unsigned int pin_cmd)
{
	struct page *page = must_alloc_page();
	unsigned long pfn = page_to_pfn(page);
	u64 *entry = page_address(page);
	pte_t val = pfn_pte(0, __pgprot(_PAGE_PRESENT | _PAGE_USER |
				       _PAGE_ACCESSED | _PAGE_PSE));
	int rc;

	must(xen_make_pages_readonly(&page, 1), "remapping it read-only");
	must(xen_pin_table(pin_cmd, pfn), "pinning the empty table");
	rc = xen_mmu_update(entry, pte_val(val), MMU_NORMAL_PT_UPDATE);
	if (!rc)
		must(xen_mmu_update(entry, 0, MMU_NORMAL_PT_UPDATE),
		     "clearing the entry");
	expect_eq("entry", READ_ONCE(*entry), 0);
	must(xen_pin_table(MMUEXT_UNPIN_TABLE, pfn), "MMUEXT_UNPIN_TABLE");
	must(xen_make_pages_readwrite(&page, 1), "remapping it writable");
	__free_page(page);
	return rc;
}

static int superpage_l2(void)
{
	return superpage(MMUEXT_PIN_L2_TABLE);
}

static int superpage_l3(void)
{
	return superpage(MMUEXT_PIN_L3_TABLE);
}

/*
 * Three mmu_update requests, the second one forbidden: the batch stops
 * there, with the first applied and the third not.
 */
static int partial_batch(void)
{
	struct page *a = must_alloc_page(), *b = must_alloc_page();
	pte_t *pte_a = linear_pte(page_address(a));
	pte_t *pte_b = linear_pte(page_address(b));
	pte_t *pte_l4 = linear_pte(swapper_pg_dir);
	pteval_t old_a = pte_val(ptep_get(pte_a));
	pteval_t old_b = pte_val(ptep_get(pte_b));
	pteval_t old_l4 = pte_val(ptep_get(pte_l4));
	struct mmu_update req[] = {
		/* Map a read-only: fine. */
		{ virt_to_machine(pte_a).maddr | MMU_NORMAL_PT_UPDATE,
		  old_a & ~_PAGE_RW },
		/* Map the boot L4 writable: forbidden. */
		{ virt_to_machine(pte_l4).maddr | MMU_NORMAL_PT_UPDATE,
		  old_l4 | _PAGE_RW },
		/* Map b read-only: fine, but never reached. */
		{ virt_to_machine(pte_b).maddr | MMU_NORMAL_PT_UPDATE,
		  old_b & ~_PAGE_RW },
	};
	unsigned int done = ~0U;
	int rc;

	rc = HYPERVISOR_mmu_update(req, ARRAY_SIZE(req), &done, DOMID_SELF);
	expect_eq("success_count", done, 1);
	expect_eq("entry of request 1", pte_val(ptep_get(pte_a)), req[0].val);
	expect_eq("entry of request 2", pte_val(ptep_get(pte_l4)), old_l4);
	expect_eq("entry of request 3", pte_val(ptep_get(pte_b)), old_b);

	if (pte_val(ptep_get(pte_l4)) != old_l4)
		must(xen_mmu_update(pte_l4, old_l4, MMU_NORMAL_PT_UPDATE),
		     "restoring the boot L4's entry");
	must(HYPERVISOR_update_va_mapping((unsigned long)page_address(a), old_a,
					  UVMF_INVLPG),
	     "restoring a's entry");
	must(HYPERVISOR_update_va_mapping((unsigned long)page_address(b), old_b,
					  UVMF_INVLPG),
	     "restoring b's entry");
	__free_page(a);
	__free_page(b);
	return rc;
}

static const struct {
	const char *name;
	int (*fn)(void);
	int expected;
} cases[] = {
	{ "writable-pagetable",		writable_pagetable,	-EINVAL },
	{ "pin-writable",		pin_writable,		-EINVAL },
	{ "map-hypervisor-frame",	map_hypervisor_frame,	-EPERM },
	{ "unvalidated-cr3",		unvalidated_cr3,	-EINVAL },
	{ "unpin-twice",		unpin_twice,		-EINVAL },
	{ "pin-twice",			pin_twice,		-EINVAL },
	{ "hypervisor-l4-slot",		hypervisor_l4_slot,	-EINVAL },
	{ "superpage-l2",		superpage_l2,		-EINVAL },
	{ "superpage-l3",		superpage_l3,		-EINVAL },
	{ "partial-batch",		partial_batch,		-EINVAL },
};

void kernel_main(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		unsigned long free_before = nr_free_pages();
		int rc;

		case_name = cases[i].name;
		rc = cases[i].fn();
		printk("mmu-forbidden: %s: rc=%d (expected %d)\n",
		       case_name, rc, cases[i].expected);
		if (rc != cases[i].expected)
			mismatches++;
		expect_eq("free frames after the case", nr_free_pages(),
			  free_before);
	}
	finish();
}
