/*
 * Pinning benchmark. For n = 1, 2, 4, ... up to max= (default 64) L1
 * tables, it builds an L4 -> L3 -> L2 -> n L1s tree whose L1s map a pool
 * of PTRS_PER_PTE data frames read-only, one entry per frame, and pins and
 * unpins the L4 reps= (default 20) times between two console lines, which
 * the host timestamps:
 *
 *	bench-pin: n=<n> frames=<n+3> start
 *	bench-pin: n=<n> end
 *
 * Then it rewrites one entry of a pinned L1 reps*32 times, one mmu_update
 * each, between "bench-write: start" and "bench-write: end".
 */
#include <cmdline.h>
#include <hypercall.h>
#include <kernel.h>
#include <mm.h>
#include <pgtable.h>
#include <xen/mmu.h>

PVSIM_DESCRIPTION("times reps= pin/unpin pairs of trees of 1..max= L1s, then reps*32 mmu_updates, between console lines");

/* L4 slot 1: the trees are never loaded, but keep clear of the kernel. */
#define BENCH_BASE	0x0000008000000000UL

#define WRITES_PER_REP	32

static struct page *pool[PTRS_PER_PTE];
/* L4, L3, L2, then up to PTRS_PER_PMD L1s. */
static struct page *tables[3 + PTRS_PER_PMD];

static struct page *must_alloc_page(void)
{
	struct page *page = alloc_page();

	if (!page)
		panic("bench-pin: out of memory");
	return page;
}

/* Every entry of the L1 maps a pool frame read-only. */
static void fill_l1(pte_t *pte)
{
	unsigned int i;

	for (i = 0; i < PTRS_PER_PTE; i++)
		native_set_pte(pte + i, pfn_pte(page_to_pfn(pool[i]), PAGE_KERNEL_RO));
}

static void pin_unpin(unsigned long pfn)
{
	int rc;

	rc = xen_pin_table(MMUEXT_PIN_L4_TABLE, pfn);
	if (rc)
		panic("bench-pin: MMUEXT_PIN_L4_TABLE failed: %d", rc);
	rc = xen_pin_table(MMUEXT_UNPIN_TABLE, pfn);
	if (rc)
		panic("bench-pin: MMUEXT_UNPIN_TABLE failed: %d", rc);
}

static void bench_pin(unsigned int n, unsigned long reps)
{
	unsigned int i, nr = n + 3;
	unsigned long l4_pfn, r;
	pgd_t *pgd;
	pud_t *pud;
	pmd_t *pmd;
	int rc;

	for (i = 0; i < nr; i++)
		tables[i] = must_alloc_page();
	pgd = page_address(tables[0]);
	pud = page_address(tables[1]);
	pmd = page_address(tables[2]);
	pgd_populate(pgd + pgd_index(BENCH_BASE), pud);
	pud_populate(pud + pud_index(BENCH_BASE), pmd);
	for (i = 0; i < n; i++) {
		pte_t *pte = page_address(tables[3 + i]);

		fill_l1(pte);
		pmd_populate_kernel(pmd + pmd_index(BENCH_BASE) + i, pte);
	}
	rc = xen_make_pages_readonly(tables, nr);
	if (rc)
		panic("bench-pin: making %u pagetables read-only failed: %d", nr, rc);
	l4_pfn = page_to_pfn(tables[0]);

	/* One untimed round checks the tree first. */
	pin_unpin(l4_pfn);
	printk("bench-pin: n=%u frames=%u start\n", n, nr);
	for (r = 0; r < reps; r++)
		pin_unpin(l4_pfn);
	printk("bench-pin: n=%u end\n", n);

	rc = xen_make_pages_readwrite(tables, nr);
	if (rc)
		panic("bench-pin: making %u pagetables writable failed: %d", nr, rc);
	for (i = 0; i < nr; i++)
		__free_page(tables[i]);
}

static void bench_write(unsigned long reps)
{
	struct page *page = must_alloc_page();
	unsigned long pfn = page_to_pfn(page);
	pte_t *pte = page_address(page);
	pteval_t val[2];
	struct mmu_update req;
	unsigned long i, n = reps * WRITES_PER_REP;
	unsigned int done;
	int rc;

	fill_l1(pte);
	rc = xen_make_pages_readonly(&page, 1);
	if (rc)
		panic("bench-write: making the L1 read-only failed: %d", rc);
	rc = xen_pin_table(MMUEXT_PIN_L1_TABLE, pfn);
	if (rc)
		panic("bench-write: MMUEXT_PIN_L1_TABLE failed: %d", rc);

	/* Entry 0 maps pool[0]; flip it between pool[1] and pool[0]. */
	val[0] = pte_val(pfn_pte(page_to_pfn(pool[1]), PAGE_KERNEL_RO));
	val[1] = pte_val(pfn_pte(page_to_pfn(pool[0]), PAGE_KERNEL_RO));
	req.ptr = virt_to_machine(pte).maddr | MMU_NORMAL_PT_UPDATE;

	printk("bench-write: start\n");
	for (i = 0; i < n; i++) {
		req.val = val[i & 1];
		rc = HYPERVISOR_mmu_update(&req, 1, &done, DOMID_SELF);
		if (rc)
			panic("bench-write: mmu_update failed: %d", rc);
	}
	printk("bench-write: end\n");

	rc = xen_pin_table(MMUEXT_UNPIN_TABLE, pfn);
	if (rc)
		panic("bench-write: MMUEXT_UNPIN_TABLE failed: %d", rc);
	rc = xen_make_pages_readwrite(&page, 1);
	if (rc)
		panic("bench-write: making the L1 writable failed: %d", rc);
	__free_page(page);
}

void kernel_main(void)
{
	unsigned long reps = get_option_ulong("reps", 20);
	unsigned long max_l1s = get_option_ulong("max", 64);
	unsigned int i, n;

	if (max_l1s < 1 || max_l1s > PTRS_PER_PMD)
		panic("bench-pin: max=%lu: want 1 to %d L1 tables", max_l1s,
		      PTRS_PER_PMD);

	for (i = 0; i < ARRAY_SIZE(pool); i++)
		pool[i] = must_alloc_page();

	for (n = 1; ; n = min(2 * n, (unsigned int)max_l1s)) {
		bench_pin(n, reps);
		if (n == max_l1s)
			break;
	}
	bench_write(reps);

	for (i = 0; i < ARRAY_SIZE(pool); i++)
		__free_page(pool[i]);
	xen_poweroff();
}
