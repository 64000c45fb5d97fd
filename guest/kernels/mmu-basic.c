/*
 * A second address space, built, used and torn down the PV way. Fresh
 * frames become an L4 -> L3 -> L2 -> L1 tree that shares the kernel's L3
 * and maps four data frames at PRIV_BASE; the tables are remapped
 * read-only, the L4 is pinned and loaded. Then the mappings are changed
 * with mmu_update and update_va_mapping, the TLB is flushed in each way
 * mmuext_op offers, and everything is undone. Every hypercall result is
 * checked: a failure prints "mmu-basic: FAIL: ..." and crashes.
 */
#include <hypercall.h>
#include <kernel.h>
#include <mm.h>
#include <pgtable.h>
#include <string.h>
#include <xen/errno.h>
#include <xen/mmu.h>

PVSIM_DESCRIPTION("builds, pins and loads a second address space, changes its mappings, tears it down");

/* L4 slot 1: nothing else maps there. */
#define PRIV_BASE	0x0000008000000000UL

#define NR_MAPPED	4		/* data frames mapped from the start */
#define EXTRA_PAGE	NR_MAPPED	/* mapped and unmapped with mmu_update */
#define UVM_PAGE	2		/* unmapped, then remapped, with update_va_mapping */
#define AD_PAGE		3		/* rewritten with MMU_PT_UPDATE_PRESERVE_AD */

/* Private data mappings start without A and D: the CPU sets them. */
#define PAGE_PRIV	__pgprot(_PAGE_PRESENT | _PAGE_RW | _PAGE_USER)

enum { L4, L3, L2, L1, NR_TABLES };

static struct page *tables[NR_TABLES];
static struct page *data[NR_MAPPED + 1];
static pte_t *l1;

static void check(int rc, const char *what)
{
	if (rc) {
		printk("mmu-basic: FAIL: %s (rc=%d)\n", what, rc);
		xen_crash();
	}
}

static void check_eq(const char *what, unsigned long got, unsigned long want)
{
	if (got != want) {
		printk("mmu-basic: FAIL: %s (got 0x%lx, want 0x%lx)\n",
		       what, got, want);
		xen_crash();
	}
}

static struct page *must_alloc_page(void)
{
	struct page *page = alloc_page();

	if (!page)
		check(-ENOMEM, "alloc_page");
	return page;
}

static unsigned long priv_va(unsigned int i)
{
	return PRIV_BASE + i * PAGE_SIZE;
}

static pte_t *priv_pte(unsigned int i)
{
	return l1 + pte_index(priv_va(i));
}

static u8 pattern(unsigned int i)
{
	return 0xa0 + i;
}

/* Checks that the page at p holds pattern(i) in every byte. */
static void check_page(const void *p, unsigned int i, const char *what)
{
	const u8 *b = p;
	unsigned int off;

	for (off = 0; off < PAGE_SIZE; off++)
		if (READ_ONCE(b[off]) != pattern(i))
			check_eq(what, READ_ONCE(b[off]), pattern(i));
}

static void check_pagetables_readonly(void)
{
	unsigned int i, level;

	for (i = 0; i < NR_TABLES; i++) {
		pte_t *pte = lookup_address((unsigned long)page_address(tables[i]),
					    &level);

		check_eq("a pagetable's linear-map entry is read-only",
			 pte && pte_present(*pte) && !pte_write(*pte), 1);
	}
}

static void build(void)
{
	pgd_t *pgd;
	pud_t *pud;
	pmd_t *pmd;
	unsigned int i;

	for (i = 0; i < NR_TABLES; i++)
		tables[i] = must_alloc_page();
	for (i = 0; i < ARRAY_SIZE(data); i++)
		data[i] = must_alloc_page();

	pgd = page_address(tables[L4]);
	pud = page_address(tables[L3]);
	pmd = page_address(tables[L2]);
	l1 = page_address(tables[L1]);

	/* The kernel and its linear map: share the boot L3. */
	native_set_pgd(pgd + pgd_index(__START_KERNEL_map),
		       *pgd_offset_k(__START_KERNEL_map));
	pgd_populate(pgd + pgd_index(PRIV_BASE), pud);
	pud_populate(pud + pud_index(PRIV_BASE), pmd);
	pmd_populate_kernel(pmd + pmd_index(PRIV_BASE), l1);
	for (i = 0; i < NR_MAPPED; i++)
		native_set_pte(priv_pte(i), pfn_pte(page_to_pfn(data[i]), PAGE_PRIV));
}

void kernel_main(void)
{
	unsigned long free_before = nr_free_pages();
	unsigned long l4_pfn;
	pteval_t old, val;
	unsigned int i;

	printk("mmu-basic: building an address space at 0x%lx\n", PRIV_BASE);
	build();
	l4_pfn = page_to_pfn(tables[L4]);

	/* With NR_TABLES <= XEN_MC_BATCH, this is one multicall. */
	check(xen_make_pages_readonly(tables, NR_TABLES),
	      "multicall of update_va_mapping making the pagetables read-only");
	check_pagetables_readonly();
	printk("mmu-basic: pagetables remapped read-only\n");

	check(xen_pin_table(MMUEXT_PIN_L4_TABLE, l4_pfn), "MMUEXT_PIN_L4_TABLE");
	printk("mmu-basic: L4 pinned\n");

	check(xen_write_cr3(PFN_PHYS(l4_pfn)), "MMUEXT_NEW_BASEPTR to the new L4");
	printk("mmu-basic: running on the new L4\n");

	for (i = 0; i < NR_MAPPED; i++) {
		memset((void *)priv_va(i), pattern(i), PAGE_SIZE);
		check_page(page_address(data[i]), i,
			   "a private write, read through the linear map");
	}
	printk("mmu-basic: private writes show through the linear map\n");

	/* Map a fifth frame, read it, unmap it. */
	memset(page_address(data[EXTRA_PAGE]), pattern(EXTRA_PAGE), PAGE_SIZE);
	val = pte_val(pfn_pte(page_to_pfn(data[EXTRA_PAGE]), PAGE_PRIV));
	check(xen_mmu_update(priv_pte(EXTRA_PAGE), val, MMU_NORMAL_PT_UPDATE),
	      "mmu_update mapping a fifth frame");
	check_eq("the new L1 entry", pte_val(ptep_get(priv_pte(EXTRA_PAGE))), xen_l1e(val));
	check_page((void *)priv_va(EXTRA_PAGE), EXTRA_PAGE,
		   "the fifth frame, read through its private address");
	check(xen_mmu_update(priv_pte(EXTRA_PAGE), 0, MMU_NORMAL_PT_UPDATE),
	      "mmu_update unmapping the fifth frame");
	check_eq("the cleared L1 entry", pte_val(ptep_get(priv_pte(EXTRA_PAGE))), 0);
	check(xen_invlpg_all(priv_va(EXTRA_PAGE)), "MMUEXT_INVLPG_ALL");
	printk("mmu-basic: mmu_update mapped and unmapped a frame\n");

	check(HYPERVISOR_update_va_mapping(priv_va(UVM_PAGE), 0, UVMF_INVLPG),
	      "update_va_mapping unmapping a page");
	check_eq("the cleared L1 entry", pte_val(ptep_get(priv_pte(UVM_PAGE))), 0);
	printk("mmu-basic: update_va_mapping unmapped a page\n");

	check(xen_flush_tlb_all(), "MMUEXT_TLB_FLUSH_ALL");
	check(xen_flush_tlb(), "MMUEXT_TLB_FLUSH_LOCAL");
	val = pte_val(pfn_pte(page_to_pfn(data[UVM_PAGE]), PAGE_PRIV));
	check(HYPERVISOR_update_va_mapping(priv_va(UVM_PAGE), val,
					   UVMF_TLB_FLUSH | UVMF_ALL),
	      "update_va_mapping with UVMF_TLB_FLUSH|UVMF_ALL remapping the page");
	check_page((void *)priv_va(UVM_PAGE), UVM_PAGE, "the remapped page");
	printk("mmu-basic: TLB flushed, page remapped\n");

	/*
	 * Write to the page, so the CPU sets A and D in its entry, then
	 * rewrite the entry without them: PRESERVE_AD must keep them.
	 */
	WRITE_ONCE(*(u8 *)priv_va(AD_PAGE), pattern(AD_PAGE));
	old = pte_val(ptep_get(priv_pte(AD_PAGE)));
	check_eq("the accessed bit after touching the page",
		 old & _PAGE_ACCESSED, _PAGE_ACCESSED);
	val = pte_val(pfn_pte(page_to_pfn(data[AD_PAGE]), PAGE_PRIV));
	check(xen_mmu_update(priv_pte(AD_PAGE), val, MMU_PT_UPDATE_PRESERVE_AD),
	      "mmu_update with MMU_PT_UPDATE_PRESERVE_AD");
	check_eq("the L1 entry after MMU_PT_UPDATE_PRESERVE_AD",
		 pte_val(ptep_get(priv_pte(AD_PAGE))),
		 xen_l1e(val) | (old & (_PAGE_ACCESSED | _PAGE_DIRTY)));
	printk("mmu-basic: MMU_PT_UPDATE_PRESERVE_AD kept the accessed bit\n");

	check(xen_write_cr3(__pa(swapper_pg_dir)),
	      "MMUEXT_NEW_BASEPTR back to the boot L4");
	printk("mmu-basic: back on the boot L4\n");

	check(xen_pin_table(MMUEXT_UNPIN_TABLE, l4_pfn), "MMUEXT_UNPIN_TABLE");
	printk("mmu-basic: L4 unpinned\n");

	check(xen_make_pages_readwrite(tables, NR_TABLES),
	      "multicall of update_va_mapping making the pagetables writable");
	for (i = 0; i < NR_TABLES; i++)
		__free_page(tables[i]);
	for (i = 0; i < ARRAY_SIZE(data); i++)
		__free_page(data[i]);
	check_eq("free frames after the teardown", nr_free_pages(), free_before);
	printk("mmu-basic: pagetables writable again, frames freed\n");

	printk("mmu-basic: ok\n");
	xen_poweroff();
}
