/*
 * Other vCPUs' hypercalls between the entries of a multicall. vCPU 0
 * issues multicalls of 64 entries, each a test_and_clear_pte_flags of the
 * Accessed bit of one L1 entry E (of a page nobody touches); vCPU 1 keeps
 * setting that bit with update_va_mapping. Each entry is a hypercall of
 * its own, as in Xen's do_multicall, taking and releasing the pagetable
 * lock, so vCPU 1's update can run between two entries: an entry after
 * the first then finds the bit set. Were the lock held across the
 * multicall, only the first entry of each could. The kernel counts such
 * entries over up to iters= multicalls (default 2000) and stops at the
 * first 10.
 */
#include <atomic.h>
#include <cmdline.h>
#include <hypercall.h>
#include <kernel.h>
#include <mm.h>
#include <pgtable.h>
#include <processor.h>
#include <smp.h>
#include <xen/pvsim.h>

PVSIM_DESCRIPTION("update_va_mapping on vCPU 1 between the entries of vCPU 0's multicalls");

#define ENTRIES	64

static unsigned long va;
static pte_t val;
static atomic_t running = ATOMIC_INIT(0);
static atomic_t stop = ATOMIC_INIT(0);

void secondary_main(void)
{
	atomic_inc(&running);
	while (!atomic_read(&stop))
		if (HYPERVISOR_update_va_mapping(va, pte_val(val) | _PAGE_ACCESSED, UVMF_INVLPG))
			panic("multicall-interleave: FAIL: update_va_mapping");
	atomic_inc(&running);
}

void kernel_main(void)
{
	static struct multicall_entry mc[ENTRIES];
	unsigned long iters = get_option_ulong("iters", 2000);
	unsigned long i, between = 0;
	unsigned int level, j;
	pte_t *ptep;
	u64 ptr;

	va = (unsigned long)page_address(alloc_page());
	ptep = lookup_address(va, &level);
	val = *ptep;
	ptr = PFN_PHYS(virt_to_mfn(ptep)) + ((unsigned long)ptep & ~PAGE_MASK);
	cpu_up(1);
	while (atomic_read(&running) < 1)
		cpu_relax();
	for (i = 0; i < iters && between < 10; i++) {
		for (j = 0; j < ENTRIES; j++)
			MULTI_pvsim_op(&mc[j], PVSIMOP_test_and_clear_pte_flags, ptr, _PAGE_ACCESSED, 0);
		if (HYPERVISOR_multicall(mc, ENTRIES))
			panic("multicall-interleave: FAIL: multicall");
		for (j = 1; j < ENTRIES; j++) {
			if (pvsim_op_failed(mc[j].result))
				panic("multicall-interleave: FAIL: entry %u: %ld", j, (long)mc[j].result);
			if (mc[j].result & _PAGE_ACCESSED)
				between++;
		}
	}
	atomic_set(&stop, 1);
	while (atomic_read(&running) < 2)
		cpu_relax();
	printk("multicall-interleave: %lu multicalls, %lu entries found vCPU 1's update before them\n",
	       i, between);
	xen_poweroff();
}
