/*
 * Emulated pagetable writes racing on one entry: each of two vCPUs sets
 * and clears a bit of its own (the software bits 9 and 10) of the same
 * entry of a pinned L1, through the L1's read-only alias, iters= times
 * (default 20,000), and after each write reads the entry back: its own bit
 * must be as it left it, whatever the other vCPU did meanwhile. The
 * hypervisor emulates each write and makes its compare-and-exchange on the
 * vCPU's way back to the guest (ptwr's one-exit path): when the other
 * vCPU's exchange lands in between, the exchange fails and the guest makes
 * the write again. No write may be lost, none applied twice.
 */
#include <atomic.h>
#include <bitops.h>
#include <cmdline.h>
#include <hypercall.h>
#include <kernel.h>
#include <mm.h>
#include <pgtable.h>
#include <smp.h>
#include <xen/mmu.h>
#include <xen/sched.h>

PVSIM_DESCRIPTION("two vCPUs set and clear bits of their own in one pinned L1 entry through ptwr, iters= times; no write lost");

#define CONTEND_BASE	0x0000008000000000UL	/* L4 slot 1 */

enum { L4, L3, L2, L1, NR_TABLES };

static unsigned long *entry;		/* the entry, through the read-only alias */
static unsigned long iters;
static atomic_t ready = ATOMIC_INIT(0);
static atomic_t done = ATOMIC_INIT(0);

static struct page *must_alloc_page(void)
{
	struct page *page = alloc_page();

	if (!page)
		panic("ptwr-contend: out of memory");
	return page;
}

static void build(void)
{
	struct page *tables[NR_TABLES], *data = must_alloc_page();
	unsigned int i;
	pgd_t *pgd;
	pud_t *pud;
	pmd_t *pmd;
	pte_t *pte;

	for (i = 0; i < NR_TABLES; i++)
		tables[i] = must_alloc_page();
	pgd = page_address(tables[L4]);
	pud = page_address(tables[L3]);
	pmd = page_address(tables[L2]);
	pte = page_address(tables[L1]);
	pgd_populate(pgd + pgd_index(CONTEND_BASE), pud);
	pud_populate(pud + pud_index(CONTEND_BASE), pmd);
	pmd_populate_kernel(pmd + pmd_index(CONTEND_BASE), pte);
	native_set_pte(pte, pfn_pte(page_to_pfn(data), PAGE_KERNEL_RO));
	if (xen_make_pages_readonly(tables, NR_TABLES))
		panic("ptwr-contend: making the pagetables read-only failed");
	if (xen_pin_table(MMUEXT_PIN_L4_TABLE, page_to_pfn(tables[L4])))
		panic("ptwr-contend: MMUEXT_PIN_L4_TABLE failed");
	entry = (unsigned long *)&pte->pte;
}

static void contend(unsigned int cpu)
{
	unsigned int bit = 9 + cpu;
	unsigned long i, keep = READ_ONCE(*entry) & ~(3UL << 9);

	for (i = 0; i < iters; i++) {
		if (test_and_set_bit(bit, entry))
			panic("ptwr-contend: FAIL: vCPU %u: bit %u was set before its set, iteration %lu", cpu, bit, i);
		if (!(READ_ONCE(*entry) & 1UL << bit))
			panic("ptwr-contend: FAIL: vCPU %u: its set of bit %u was lost, iteration %lu", cpu, bit, i);
		if (!test_and_clear_bit(bit, entry))
			panic("ptwr-contend: FAIL: vCPU %u: bit %u was clear before its clear, iteration %lu", cpu, bit, i);
		if (READ_ONCE(*entry) & 1UL << bit)
			panic("ptwr-contend: FAIL: vCPU %u: its clear of bit %u was lost, iteration %lu", cpu, bit, i);
		if ((READ_ONCE(*entry) & ~(3UL << 9) & ~(_PAGE_ACCESSED | _PAGE_DIRTY)) != (keep & ~(_PAGE_ACCESSED | _PAGE_DIRTY)))
			panic("ptwr-contend: FAIL: vCPU %u: the rest of the entry changed: 0x%lx", cpu, READ_ONCE(*entry));
	}
	printk("ptwr-contend: vCPU %u: %lu sets and clears of bit %u\n", cpu, iters, bit);
	atomic_inc(&done);
}

void secondary_main(void)
{
	while (!atomic_read(&ready))
		HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
	contend(smp_processor_id());
}

void kernel_main(void)
{
	iters = get_option_ulong("iters", 20000);
	build();
	smp_init();
	atomic_set(&ready, 1);
	contend(0);
	while (atomic_read(&done) < (int)num_possible_cpus())
		HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
	if (READ_ONCE(*entry) & 3UL << 9)
		panic("ptwr-contend: FAIL: a bit is left set: 0x%lx", READ_ONCE(*entry));
	printk("ptwr-contend: ok\n");
	xen_poweroff();
}
