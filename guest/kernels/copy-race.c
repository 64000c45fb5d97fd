/*
 * A hypervisor's copy into guest memory against a type change. vCPU 1
 * asks mmuext_op to write its done count into a page P, through P's
 * writable linear mapping; vCPU 0 meanwhile turns P into a pagetable and
 * back: it remaps P read-only, pins it as an L1, unpins it and remaps it
 * writable, and checks that the entry the count goes to did not change
 * while P had no writable mapping. A write that passed the writability
 * check before the remap but landed after the pin would change a
 * validated L1 behind the type system's back (the count, 1 to 7, is a
 * present entry half the time), which the audit reports too. The check
 * and the store must be one step against type changes, as a write through
 * a read-only mapping is for a CPU with CR0.WP set. iters= rounds
 * (default 10000).
 */
#include <atomic.h>
#include <cmdline.h>
#include <hypercall.h>
#include <kernel.h>
#include <mm.h>
#include <pgtable.h>
#include <processor.h>
#include <smp.h>
#include <xen/errno.h>
#include <xen/mmu.h>

PVSIM_DESCRIPTION("mmuext_op writing its done count into a page another vCPU pins as an L1");

/* The entry of P the done count goes to. */
#define SLOT	17

static struct page *page;
static u32 *count;			/* &P[SLOT], through the linear map */
static atomic_t running = ATOMIC_INIT(0);
static atomic_t stop = ATOMIC_INIT(0);
static unsigned long writes, refused;

/* vCPU 1: writes of 1 to 7 into P, each by a hypercall of its own. */
void secondary_main(void)
{
	static struct mmuext_op ops[7];
	unsigned int i, n;
	int rc;

	for (i = 0; i < ARRAY_SIZE(ops); i++)
		ops[i].cmd = MMUEXT_TLB_FLUSH_LOCAL;
	atomic_inc(&running);
	for (n = 0; !atomic_read(&stop); n++) {
		rc = HYPERVISOR_mmuext_op(ops, n % 7 + 1, (unsigned int *)count, DOMID_SELF);
		if (rc == 0)
			writes++;
		else if (rc == -EFAULT)
			refused++;
		else
			panic("copy-race: FAIL: mmuext_op returned %d", rc);
	}
	atomic_inc(&running);
}

/* vCPU 0's round: P becomes an L1 and writable again; nothing wrote it meanwhile. */
static void round(unsigned long i)
{
	u64 before, after;
	int rc;

	if ((rc = xen_make_pages_readonly(&page, 1)))
		panic("copy-race: FAIL: remapping P read-only in round %lu: %d", i, rc);
	before = READ_ONCE(*(u64 *)count);
	if ((rc = xen_pin_table(MMUEXT_PIN_L1_TABLE, page_to_pfn(page))))
		panic("copy-race: FAIL: pinning P in round %lu: %d", i, rc);
	if ((rc = xen_pin_table(MMUEXT_UNPIN_TABLE, page_to_pfn(page))))
		panic("copy-race: FAIL: unpinning P in round %lu: %d", i, rc);
	after = READ_ONCE(*(u64 *)count);
	/* The pin makes each present entry what Xen stores for it. */
	if (after != xen_l1e(before))
		panic("copy-race: FAIL: round %lu: entry %d of P changed from %#lx to %#lx while P had no writable mapping",
		      i, SLOT, before, after);
	if ((rc = xen_make_pages_readwrite(&page, 1)))
		panic("copy-race: FAIL: remapping P writable in round %lu: %d", i, rc);
}

void kernel_main(void)
{
	unsigned long iters = get_option_ulong("iters", 10000);
	unsigned long i;

	page = alloc_page();
	count = (u32 *)((u64 *)page_address(page) + SLOT);
	if (num_possible_cpus() < 2)
		panic("copy-race: needs 2 vCPUs");
	cpu_up(1);
	while (atomic_read(&running) < 1)
		cpu_relax();
	for (i = 0; i < iters; i++)
		round(i);
	atomic_set(&stop, 1);
	while (atomic_read(&running) < 2)
		cpu_relax();
	printk("copy-race: %lu rounds, %lu writes, %lu refused, ok\n", iters, writes, refused);
	xen_poweroff();
}
