/*
 * Remote TLB flushes. Every secondary vCPU spins in guest code without
 * making a hypercall, so only a kick can take it out of the guest; vCPU0
 * then asks for flushes on all vCPUs, with mmuext_op and with
 * update_va_mapping's UVMF_ALL, and each call must return only after every
 * vCPU has flushed in its own context.
 */
#include <atomic.h>
#include <cmdline.h>
#include <hypercall.h>
#include <kernel.h>
#include <mm.h>
#include <pgtable.h>
#include <processor.h>
#include <smp.h>
#include <xen/mmu.h>
#include <xen/sched.h>

PVSIM_DESCRIPTION("vCPU0 flushes the TLBs of vCPUs spinning without hypercalls");

static atomic_t spinning = ATOMIC_INIT(0);
static atomic_t stop = ATOMIC_INIT(0);

void secondary_main(void)
{
	atomic_inc(&spinning);
	while (!atomic_read(&stop))
		cpu_relax();
}

static void check(int rc, const char *what, int round)
{
	if (rc) {
		printk("tlb-shootdown: FAIL: %s in round %d (rc=%d)\n", what, round, rc);
		xen_crash();
	}
}

void kernel_main(void)
{
	unsigned int n = num_possible_cpus();
	unsigned long rounds = get_option_ulong("rounds", 20);
	struct page *page = alloc_page();
	unsigned long va = (unsigned long)page_address(page);
	unsigned int level;
	pte_t *ptep = lookup_address(va, &level);
	unsigned long i;

	smp_init();
	while (atomic_read(&spinning) < (int)n - 1)
		HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
	printk("tlb-shootdown: %u vCPUs, %lu rounds\n", n, rounds);

	for (i = 0; i < rounds; i++) {
		check(xen_flush_tlb_all(), "MMUEXT_TLB_FLUSH_ALL", i);
		check(xen_invlpg_all(va), "MMUEXT_INVLPG_ALL", i);
		check(HYPERVISOR_update_va_mapping(va, pte_val(*ptep),
						   UVMF_INVLPG | UVMF_ALL),
		      "update_va_mapping(UVMF_INVLPG|UVMF_ALL)", i);
	}
	atomic_set(&stop, 1);
	printk("tlb-shootdown: ok\n");
	xen_poweroff();
}
