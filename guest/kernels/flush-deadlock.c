/*
 * Remote flushes against pagetable updates. vCPU 0 rewrites a linear-map
 * entry with update_va_mapping(UVMF_INVLPG | UVMF_ALL), which returns only
 * once every vCPU has flushed; vCPU 1 meanwhile rewrites another entry
 * with update_va_mapping(UVMF_INVLPG), taking the hypervisor's pagetable
 * lock each time. Neither may wait on the other: vCPU 0 must not wait for
 * vCPU 1's flush while leaving a write vCPU 1 waits for under the lock.
 * iters= rounds (default 10000).
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

PVSIM_DESCRIPTION("update_va_mapping with UVMF_ALL on vCPU 0 against pagetable updates on vCPU 1");

static atomic_t running = ATOMIC_INIT(0);
static atomic_t stop = ATOMIC_INIT(0);
static unsigned long va[2];
static pte_t val[2];

static void check(int rc, const char *what, unsigned long i)
{
	if (rc) {
		printk("flush-deadlock: FAIL: %s in round %lu (rc=%d)\n", what, i, rc);
		xen_crash();
	}
}

void secondary_main(void)
{
	unsigned long i;

	atomic_inc(&running);
	for (i = 0; !atomic_read(&stop); i++)
		check(HYPERVISOR_update_va_mapping(va[1], pte_val(val[1]), UVMF_INVLPG),
		      "update_va_mapping(UVMF_INVLPG) on vCPU 1", i);
	atomic_inc(&running);
}

void kernel_main(void)
{
	unsigned long iters = get_option_ulong("iters", 10000);
	unsigned long i;
	unsigned int level;
	int n;

	for (n = 0; n < 2; n++) {
		va[n] = (unsigned long)page_address(alloc_page());
		val[n] = *lookup_address(va[n], &level);
	}
	smp_init();
	while (atomic_read(&running) < 1)
		cpu_relax();
	for (i = 0; i < iters; i++)
		check(HYPERVISOR_update_va_mapping(va[0], pte_val(val[0]),
						   UVMF_INVLPG | UVMF_ALL),
		      "update_va_mapping(UVMF_INVLPG|UVMF_ALL) on vCPU 0", i);
	atomic_set(&stop, 1);
	while (atomic_read(&running) < 2)
		cpu_relax();
	printk("flush-deadlock: %lu rounds, ok\n", iters);
	xen_poweroff();
}
