/*
 * Writable-pagetable benchmark. Three loops of reps= (default 2000)
 * iterations, each between two console lines that the host timestamps:
 *
 *	bench-ptwr: pinned start n=<reps>
 *	bench-ptwr: pinned end
 *	bench-ptwr: live start n=<reps>
 *	bench-ptwr: live end
 *	bench-ptwr: bounce start n=<reps>
 *	bench-ptwr: bounce end
 *
 * "pinned": lock btsq $5 and lock btrq $5 in turn on an entry of a pinned
 * L1 that is not loaded, cycling over its entries; "live": the same on the
 * L1 entry of the running address space that maps a page the loop does
 * not touch. Each write faults on the read-only alias and changes the
 * entry, and the hypervisor emulates it in full.
 * "bounce": a read of an unmapped address, whose page fault the
 * hypervisor delivers to the guest, which resumes at its fixup and
 * returns with iret.
 */
#include <bitops.h>
#include <cmdline.h>
#include <extable.h>
#include <kernel.h>
#include <mm.h>
#include <pgtable.h>
#include <xen/errno.h>
#include <xen/mmu.h>

PVSIM_DESCRIPTION("times reps= emulated lock btr on pinned and live L1 entries, and reps= page faults bounced to a fixup, between console lines");

/* L4 slot 1: the tree is never loaded, but keep clear of the kernel. */
#define BENCH_BASE	0x0000008000000000UL

/* An address nothing maps: L4 slot 0 is empty. */
#define UNMAPPED	0x00000000deadb000UL

enum { L4, L3, L2, L1, NR_TABLES };

static struct page *must_alloc_page(void)
{
	struct page *page = alloc_page();

	if (!page)
		panic("bench-ptwr: out of memory");
	return page;
}

/*
 * A pinned L4 -> L3 -> L2 -> L1 tree at BENCH_BASE whose L1 maps data
 * read-only in every entry; returns the L1's read-only alias.
 */
static pte_t *build_pinned_l1(struct page *data)
{
	struct page *tables[NR_TABLES];
	pgd_t *pgd;
	pud_t *pud;
	pmd_t *pmd;
	pte_t *pte;
	unsigned int i;
	int rc;

	for (i = 0; i < NR_TABLES; i++)
		tables[i] = must_alloc_page();
	pgd = page_address(tables[L4]);
	pud = page_address(tables[L3]);
	pmd = page_address(tables[L2]);
	pte = page_address(tables[L1]);
	pgd_populate(pgd + pgd_index(BENCH_BASE), pud);
	pud_populate(pud + pud_index(BENCH_BASE), pmd);
	pmd_populate_kernel(pmd + pmd_index(BENCH_BASE), pte);
	for (i = 0; i < PTRS_PER_PTE; i++)
		native_set_pte(pte + i, pfn_pte(page_to_pfn(data), PAGE_KERNEL_RO));

	rc = xen_make_pages_readonly(tables, NR_TABLES);
	if (rc)
		panic("bench-ptwr: making the pagetables read-only failed: %d", rc);
	rc = xen_pin_table(MMUEXT_PIN_L4_TABLE, page_to_pfn(tables[L4]));
	if (rc)
		panic("bench-ptwr: MMUEXT_PIN_L4_TABLE failed: %d", rc);
	return pte;
}

/* Reads *addr, or returns -EFAULT, as get_kernel_nofault(). */
static inline int read_nofault(const unsigned long *addr)
{
	unsigned long v;
	int err = -EFAULT;

	asm volatile("1:\tmovq (%[addr]), %[v]\n\t"
		     "xorl %[err], %[err]\n"
		     "2:\n"
		     _ASM_EXTABLE(1b, 2b)
		     : [err] "+r" (err), [v] "=r" (v)
		     : [addr] "r" (addr)
		     : "memory");
	return err;
}

static void bench_pinned(unsigned long reps)
{
	pte_t *l1 = build_pinned_l1(must_alloc_page());
	unsigned long i;

	/* One untimed write checks that it takes effect. */
	if (!test_and_clear_bit(_PAGE_BIT_ACCESSED, (unsigned long *)&l1->pte) ||
	    pte_young(ptep_get(l1)))
		panic("bench-ptwr: lock btr did not clear A in a pinned L1");

	/*
	 * Every write changes the entry: set A again, then clear it, so that
	 * each is emulated in full, compare-and-exchange included.
	 */
	printk("bench-ptwr: pinned start n=%lu\n", reps);
	for (i = 0; i < reps; i++) {
		unsigned long *pte = (unsigned long *)&l1[i / 2 % PTRS_PER_PTE].pte;

		if (i & 1)
			test_and_clear_bit(_PAGE_BIT_ACCESSED, pte);
		else
			test_and_set_bit(_PAGE_BIT_ACCESSED, pte);
	}
	printk("bench-ptwr: pinned end\n");
}

static void bench_live(unsigned long reps)
{
	unsigned long addr = (unsigned long)page_address(must_alloc_page());
	unsigned int level;
	unsigned long i;
	pte_t *ptep;

	ptep = lookup_address(addr, &level);
	if (!ptep || level != PG_LEVEL_4K)
		panic("bench-ptwr: no 4K mapping of 0x%lx", addr);
	if (!test_and_clear_bit(_PAGE_BIT_ACCESSED, (unsigned long *)&ptep->pte) ||
	    pte_young(ptep_get(ptep)))
		panic("bench-ptwr: lock btr did not clear A in a live L1");

	printk("bench-ptwr: live start n=%lu\n", reps);
	for (i = 0; i < reps; i++) {
		if (i & 1)
			test_and_clear_bit(_PAGE_BIT_ACCESSED, (unsigned long *)&ptep->pte);
		else
			test_and_set_bit(_PAGE_BIT_ACCESSED, (unsigned long *)&ptep->pte);
	}
	printk("bench-ptwr: live end\n");
}

static void bench_bounce(unsigned long reps)
{
	unsigned long i;

	/* One untimed round checks that the fault comes back. */
	if (read_nofault((const unsigned long *)UNMAPPED) != -EFAULT)
		panic("bench-ptwr: a read of 0x%lx did not fault", UNMAPPED);

	printk("bench-ptwr: bounce start n=%lu\n", reps);
	for (i = 0; i < reps; i++)
		read_nofault((const unsigned long *)UNMAPPED);
	printk("bench-ptwr: bounce end\n");
}

void kernel_main(void)
{
	unsigned long reps = get_option_ulong("reps", 2000);

	bench_pinned(reps);
	bench_live(reps);
	bench_bounce(reps);
	xen_poweroff();
}
