/*
 * Random hypercalls, as a hostile or broken guest makes them: random
 * numbers, and arguments drawn from pointers into the guest's own memory
 * (a writable page, its private pagetable, a page it remaps), addresses it
 * may not touch (unmapped, the hypervisor's, non-canonical), and garbage.
 *
 * The guest keeps itself alive, so that every call it was asked for is
 * made: it never calls what would take away its trap table, stack, per-CPU
 * base, address space or vCPU, and aims the writes it asks the hypervisor
 * to make (pagetable updates, page clears and copies) only at frames of
 * its own that it can spare. Batches (mmu_update, mmuext_op, multicall)
 * are read from a records page followed by an unmapped guard page, so a
 * huge count ends at the guard rather than walking all of memory.
 *
 * Events are taken: each vCPU registers an event callback that clears
 * what is pending (xen/events.h) and takes upcalls from the start, so
 * that the timers, IPIs and virqs the stream sets up arrive while it
 * runs; after a call that may have changed the callback, it registers its
 * own again. It sleeps only with a timeout (SCHEDOP_poll), never in
 * SCHEDOP_block, which would wait for an event the stream may never
 * raise.
 *
 * Every vCPU the domain has runs its own stream. seed= (default 1) and
 * calls= (default 10000 per vCPU) set the run; verbose=1 prints each call
 * before it is made. It ends with "hcall-fuzz: ok" if the hypervisor let
 * it live.
 */
#include <atomic.h>
#include <cmdline.h>
#include <guard_page.h>
#include <hypercall.h>
#include <kernel.h>
#include <mm.h>
#include <pgtable.h>
#include <processor.h>
#include <smp.h>
#include <string.h>
#include <ptrace.h>
#include <pvclock.h>
#include <traps.h>
#include <xen/events.h>
#include <xen/mmu.h>
#include <xen/pvsim.h>
#include <xen/sched.h>
#include <xen/vcpu.h>

PVSIM_DESCRIPTION("random hypercalls with hostile arguments on every vCPU; seed=, calls=, verbose=");

/* One vCPU's stream and the frames it may spend. */
struct fuzz {
	u64 state;
	unsigned long ncall;
	void *records, *guard, *victim, *table;
	unsigned long victim_mfn, table_mfn;
	unsigned long spares[4];	/* pagetable_pending's list */
};

static struct fuzz fuzz[NR_CPUS];
static unsigned long calls, verbose;
static atomic_t finished = ATOMIC_INIT(0);

static const char message[] = "hcall-fuzz: console_io\n";

static u64 rnd(struct fuzz *f)
{
	f->state ^= f->state << 13;
	f->state ^= f->state >> 7;
	f->state ^= f->state << 17;
	return f->state;
}

static u64 below(struct fuzz *f, u64 n)
{
	return n ? rnd(f) % n : 0;
}

/* An address the guest may not touch. */
static u64 bad(struct fuzz *f)
{
	switch (below(f, 5)) {
	case 0: return below(f, PAGE_SIZE);			/* NULL and around */
	case 1: return (u64)f->guard + below(f, PAGE_SIZE);	/* unmapped */
	case 2: return 0xffff800000000000UL + below(f, 1UL << 40); /* hypervisor */
	case 3: return (1UL << 63) | (rnd(f) >> 2);		/* non-canonical */
	}
	return rnd(f);
}

/* An argument: a pointer or a number, hostile more often than not. */
static u64 arg(struct fuzz *f)
{
	switch (below(f, 10)) {
	case 0: return 0;
	case 1: return below(f, 300);
	case 2: return (u64)f->table - 8 + below(f, 16);	/* across into its L1 */
	case 3: return (u64)f->victim + below(f, PAGE_SIZE);
	case 4: return (u64)f->table + below(f, PAGE_SIZE);
	case 5: return DOMID_SELF;
	case 6: return rnd(f) & 0xffffffffUL;
	case 7: return f->victim_mfn + below(f, 3);
	case 8: return bad(f);
	}
	return rnd(f);
}

/*
 * A frame the guest can spare: the victim, its L1, or one it does not
 * have. Never the records page: a batch that wrote into its own records
 * would go on with requests the guest did not make.
 */
static u64 spare_mfn(struct fuzz *f)
{
	switch (below(f, 3)) {
	case 0: return f->victim_mfn;
	case 1: return f->table_mfn;
	}
	return (1UL << 20) + (rnd(f) & 0xfffffffUL);	/* past memory */
}

/* A pagetable entry value: a spare frame with some flags, or garbage. */
static u64 pte(struct fuzz *f)
{
	static const u64 flags[] = { 0, _PAGE_PRESENT, _PAGE_PRESENT | _PAGE_RW,
		_PAGE_PRESENT | _PAGE_RW | _PAGE_USER, _PAGE_PRESENT | _PAGE_PSE };

	if (!below(f, 5))
		return rnd(f);
	return PFN_PHYS(spare_mfn(f)) | flags[below(f, ARRAY_SIZE(flags))] |
	       (rnd(f) & _PAGE_NX);
}

/*
 * A batch's address: the records page, at a record boundary, or a bad one.
 * Only records the guest made are read: a request read from anywhere else,
 * or across two records, is a plain write to whatever frame its address
 * names (Xen's mmu_update on a page that is not a pagetable), and that
 * would be the guest's own undoing, not the hypervisor's.
 */
static u64 batch(struct fuzz *f, unsigned long size)
{
	if (below(f, 8))
		return (u64)f->records + (below(f, 4) ? 0 : below(f, PAGE_SIZE / size) * size);
	return bad(f);
}

/* A machine address in a spare frame: an entry if it is 8-byte aligned. */
static u64 spare_entry(struct fuzz *f)
{
	return PFN_PHYS(spare_mfn(f)) + below(f, PAGE_SIZE);
}

/* A batch's count: a few, a page's worth, or a count of a hostile size. */
static u64 count(struct fuzz *f)
{
	switch (below(f, 8)) {
	case 0: return 1UL << 40;
	case 1: return arg(f);
	case 2: return 100 + below(f, 300);
	}
	return below(f, 6);
}

static unsigned long call(struct fuzz *f, unsigned int nr, u64 a1, u64 a2, u64 a3,
			  u64 a4, u64 a5)
{
	register u64 r10 asm("r10") = a4;
	register u64 r8 asm("r8") = a5;
	unsigned long res;

	if (verbose)
		printk("hcall-fuzz: vCPU %u call %lu: %u(0x%lx, 0x%lx, 0x%lx, 0x%lx, 0x%lx)\n",
		       smp_processor_id(), f->ncall, nr, a1, a2, a3, a4, a5);
	asm volatile("call *%[stub]"
		     : "=a" (res), "+D" (a1), "+S" (a2), "+d" (a3), "+r" (r10), "+r" (r8)
		     : [stub] "r" (hypercall_page[nr].stub)
		     : "memory", "rcx", "r9", "r11");
	return res;
}

/*
 * Fills the records page with mmu_update requests on the spare frames: the
 * private L1's entries (a pagetable update), or a plain write to a spare
 * frame that is not a pagetable.
 */
static void mmu_updates(struct fuzz *f)
{
	struct mmu_update *u = f->records;
	unsigned int i;

	for (i = 0; i < PAGE_SIZE / sizeof(*u); i++) {
		u[i].ptr = (below(f, 2) ? PFN_PHYS(f->table_mfn) + below(f, PAGE_SIZE) :
			    spare_entry(f)) | below(f, 8);
		if (below(f, 4))
			u[i].ptr &= ~7UL;	/* mostly aligned and NORMAL */
		u[i].val = pte(f);
	}
}

static void mmuext_ops(struct fuzz *f)
{
	struct mmuext_op *op = f->records;
	unsigned int i;

	for (i = 0; i < PAGE_SIZE / sizeof(*op); i++) {
		op[i].cmd = below(f, 20);
		if (op[i].cmd == MMUEXT_NEW_BASEPTR)
			op[i].cmd = MMUEXT_TLB_FLUSH_LOCAL;	/* keep our address space */
		/* Pins and unpins may name any frame; clears and copies only spares. */
		op[i].arg1.mfn = op[i].cmd <= MMUEXT_UNPIN_TABLE && below(f, 2) ?
				 arg(f) : spare_mfn(f);
		op[i].arg2.src_mfn = arg(f);
	}
}

/* A vcpu_op that leaves every vCPU up. */
/*
 * A vcpu_op command: not down, and not the two that take a place in guest
 * memory to write to from then on (foreign_abi gives them one).
 */
static u64 vcpu_cmd(struct fuzz *f)
{
	u64 cmd = below(f, 16);

	switch (cmd) {
	case VCPUOP_down:
	case VCPUOP_register_runstate_memory_area:
	case VCPUOP_register_vcpu_info:
		return VCPUOP_is_up;
	}
	return cmd;
}

static void multicalls(struct fuzz *f)
{
	struct multicall_entry *mc = f->records;
	unsigned int i, j;

	for (i = 0; i < PAGE_SIZE / sizeof(*mc); i++) {
		for (j = 0; j < ARRAY_SIZE(mc[i].args); j++)
			mc[i].args[j] = arg(f);
		switch (below(f, 8)) {
		case 0:
			mc[i].op = __HYPERVISOR_xen_version;
			mc[i].args[0] = below(f, 16);
			break;
		case 1:
			mc[i].op = __HYPERVISOR_console_io;
			mc[i].args[0] = CONSOLEIO_read;
			break;
		case 2:
			mc[i].op = __HYPERVISOR_vcpu_op;
			mc[i].args[0] = vcpu_cmd(f);
			mc[i].args[1] = below(f, 4);
			break;
		case 3:
			mc[i].op = __HYPERVISOR_update_va_mapping;
			mc[i].args[0] = (u64)f->victim;
			mc[i].args[1] = pte(f);
			break;
		case 4:
			mc[i].op = __HYPERVISOR_mmu_update;	/* a bad batch */
			mc[i].args[0] = bad(f);
			mc[i].args[3] = DOMID_SELF;
			break;
		case 5:
			mc[i].op = __HYPERVISOR_multicall;	/* nested: refused */
			break;
		case 6:
			mc[i].op = 64 + below(f, 1000);
			break;
		default:
			mc[i].op = __HYPERVISOR_mmuext_op;
			mc[i].args[0] = bad(f);
			mc[i].args[3] = DOMID_SELF;
		}
	}
}

/*
 * pvsim_op: entries and frames only among the spares (the operations write
 * where they are told), labels good and bad.
 */
static void pvsim_op(struct fuzz *f)
{
	u64 label = below(f, 2) ? (u64)message : below(f, 2) ? arg(f) : bad(f);

	f->spares[below(f, ARRAY_SIZE(f->spares))] = spare_mfn(f);
	switch (below(f, 8)) {
	case 0:
		call(f, __HYPERVISOR_pvsim_op, PVSIMOP_test_and_clear_pte_flags,
		     spare_entry(f) | (below(f, 8) ? 0 : below(f, 8)), rnd(f), 0, 0);
		break;
	case 1:
		call(f, __HYPERVISOR_pvsim_op, PVSIMOP_pagetable_pending,
		     below(f, 4) ? (u64)f->spares : bad(f), count(f), below(f, 3), 0);
		break;
	case 2:
		call(f, __HYPERVISOR_pvsim_op, PVSIMOP_trace_mark, label, arg(f), 0, 0);
		break;
	case 3:
		call(f, __HYPERVISOR_pvsim_op, PVSIMOP_sched_point, label, 0, 0, 0);
		break;
	case 4:
		call(f, __HYPERVISOR_pvsim_op, PVSIMOP_register_exit_counters, spare_mfn(f), 0, 0, 0);
		break;
	case 5:
		call(f, __HYPERVISOR_pvsim_op, PVSIMOP_snapshot_point, 0, 0, 0, 0);
		break;
	default:
		call(f, __HYPERVISOR_pvsim_op, below(f, 2) ? 0 : 7 + below(f, 100), arg(f), arg(f),
		     arg(f), 0);
	}
}

static void ignore_port(evtchn_port_t port)
{
}

/*
 * The upcall returns with upcalls masked (IF clear in the frame the iret
 * hypercall takes): the stream may have moved this vCPU's vcpu_info
 * (VCPUOP_register_vcpu_info) to where the handler does not clear what is
 * pending, and would otherwise take the same upcall for ever.
 */
static int fuzz_trap(struct pt_regs *regs, int trapnr)
{
	if (trapnr != XEN_UPCALL_VECTOR)
		return 0;
	xen_evtchn_do_upcall(ignore_port);
	regs->flags &= ~X86_EFLAGS_IF;
	return 1;
}

/* Registers this vCPU's event callback, and takes upcalls. */
static void take_events(void)
{
	if (HYPERVISOR_set_callbacks((unsigned long)xen_hypervisor_callback, 0, 0))
		panic("hcall-fuzz: set_callbacks refused the event callback");
	WRITE_ONCE(xen_vcpu_info()->evtchn_upcall_mask, 0);
}

/*
 * sched_op and the timers: SCHEDOP_poll of random ports with a timeout
 * under a millisecond (or refused before it sleeps), timers at random
 * times and near ones, and the other commands, none of which blocks.
 */
static void sched_and_timers(struct fuzz *f)
{
	u32 *ports = f->records;
	u64 now = pvclock_cycles_to_ns(rdtsc());
	u64 poll[3] = { below(f, 4) ? (u64)ports : bad(f), below(f, 140), now + 1 + below(f, 1000000) };
	unsigned int i;

	for (i = 0; i < 8; i++)
		ports[i] = below(f, 2) ? below(f, 64) : rnd(f);
	switch (below(f, 5)) {
	case 0:
		call(f, __HYPERVISOR_sched_op, SCHEDOP_yield, arg(f), 0, 0, 0);
		break;
	case 1:
		call(f, __HYPERVISOR_sched_op, SCHEDOP_poll, below(f, 4) ? (u64)poll : bad(f), 0, 0, 0);
		break;
	case 2:
		call(f, __HYPERVISOR_set_timer_op, below(f, 2) ? now + below(f, 2000000) : arg(f), 0, 0, 0, 0);
		break;
	case 3:
		/* set_singleshot_timer and the others for this or another vCPU. */
		poll[0] = below(f, 2) ? now + below(f, 2000000) : rnd(f);
		poll[1] = below(f, 2);
		call(f, __HYPERVISOR_vcpu_op, VCPUOP_set_periodic_timer + below(f, 4), below(f, 3),
		     below(f, 4) ? (u64)poll : bad(f), 0, 0);
		break;
	default:
		call(f, __HYPERVISOR_sched_op, 4 + below(f, 12), arg(f), 0, 0, 0);
	}
}

/*
 * The ABI foreign kernels boot with: descriptor tables (on frames the
 * guest can spare), callbacks, event channels (argument structures of
 * random bytes), the virtual I/O privilege level and VM assists.
 */
static void foreign_abi(struct fuzz *f)
{
	u64 *rec = f->records;
	unsigned int i;

	for (i = 0; i < 8; i++)
		rec[i] = below(f, 2) ? rnd(f) : spare_mfn(f);
	switch (below(f, 13)) {
	case 12:
		/* The user GS only: the kernel's bases are the guest's own. */
		call(f, __HYPERVISOR_set_segment_base, below(f, 2) ? SEGBASE_GS_USER_SEL : SEGBASE_GS_USER,
		     arg(f), 0, 0, 0);
		break;
	case 8:
		/*
		 * Grant table operations on records of random bytes; the frame
		 * lists setup_table and get_status_frames write are in the victim.
		 */
		rec[1] = rec[2] = below(f, 4) ? (u64)f->victim + below(f, 64) : bad(f);
		call(f, __HYPERVISOR_grant_table_op, below(f, 2) ? below(f, 11) : arg(f),
		     below(f, 4) ? (u64)rec : bad(f), below(f, 4) ? below(f, 3) : arg(f), 0, 0);
		break;
	case 9:
		call(f, below(f, 2) ? __HYPERVISOR_sysctl : __HYPERVISOR_domctl,
		     below(f, 4) ? (u64)rec : bad(f), 0, 0, 0, 0);
		break;
	case 10:
		if (below(f, 2))
			call(f, __HYPERVISOR_set_debugreg, below(f, 10), arg(f), 0, 0, 0);
		else
			call(f, __HYPERVISOR_get_debugreg, below(f, 10), 0, 0, 0, 0);
		break;
	case 11:
		/* Areas the hypervisor writes from then on: in the victim. */
		if (below(f, 2)) {
			rec[0] = below(f, 4) ? (u64)f->victim + below(f, 128) : bad(f);
			call(f, __HYPERVISOR_vcpu_op, VCPUOP_register_runstate_memory_area, below(f, 3),
			     below(f, 4) ? (u64)rec : bad(f), 0, 0);
		} else {
			rec[0] = spare_mfn(f);
			rec[1] = below(f, 4200);
			call(f, __HYPERVISOR_vcpu_op, VCPUOP_register_vcpu_info, below(f, 3),
			     below(f, 4) ? (u64)rec : bad(f), 0, 0);
		}
		break;
	case 7:
		/* A memory_map buffer in the victim: the only memory it writes. */
		rec[1] = below(f, 4) ? (u64)f->victim + below(f, 64) : bad(f);
		call(f, __HYPERVISOR_memory_op, below(f, 2) ? 9 : below(f, 40), below(f, 4) ? (u64)rec : bad(f), 0, 0, 0);
		break;
	case 0:
		call(f, __HYPERVISOR_set_gdt, below(f, 4) ? (u64)rec : bad(f),
		     below(f, 4) ? below(f, 1100) : arg(f), 0, 0, 0);
		break;
	case 1:
		/* A machine address: only a spare frame's, or none the guest has. */
		call(f, __HYPERVISOR_update_descriptor, below(f, 4) ? spare_entry(f) : rnd(f) | 1UL << 40, rnd(f), 0, 0, 0);
		break;
	case 2:
		call(f, __HYPERVISOR_callback_op, below(f, 3), below(f, 4) ? (u64)rec : bad(f), 0, 0, 0);
		take_events();
		break;
	case 3:
		call(f, __HYPERVISOR_set_callbacks, arg(f), arg(f), arg(f), 0, 0);
		take_events();
		break;
	case 4:
		call(f, __HYPERVISOR_event_channel_op, below(f, 16), below(f, 4) ? (u64)rec : bad(f), 0, 0, 0);
		break;
	case 5:
		call(f, __HYPERVISOR_physdev_op, below(f, 2) ? 6 : below(f, 40), below(f, 4) ? (u64)rec : bad(f), 0, 0, 0);
		break;
	default:
		call(f, __HYPERVISOR_vm_assist, below(f, 3), below(f, 2) ? below(f, 8) : arg(f), 0, 0, 0);
	}
}

static void one(struct fuzz *f)
{
	switch (below(f, 11)) {
	case 0:
		mmu_updates(f);
		call(f, __HYPERVISOR_mmu_update, batch(f, sizeof(struct mmu_update)), count(f), below(f, 2) ? 0 : arg(f),
		     below(f, 4) ? DOMID_SELF : arg(f), 0);
		break;
	case 1:
		mmuext_ops(f);
		call(f, __HYPERVISOR_mmuext_op, batch(f, sizeof(struct mmuext_op)), count(f), below(f, 2) ? 0 : arg(f),
		     below(f, 4) ? DOMID_SELF : arg(f), 0);
		break;
	case 2:
		/* Only the victim's mapping: any other may be one the guest lives on. */
		call(f, __HYPERVISOR_update_va_mapping, (u64)f->victim, pte(f), arg(f), 0, 0);
		break;
	case 3:
		multicalls(f);
		call(f, __HYPERVISOR_multicall, batch(f, sizeof(struct multicall_entry)), count(f),
		     0, 0, 0);
		break;
	case 4:
		call(f, __HYPERVISOR_xen_version, below(f, 16), arg(f), 0, 0, 0);
		break;
	case 5:
		/* Output only from the message: bad buffers, but no garbage on the console. */
		if (below(f, 4))
			call(f, __HYPERVISOR_console_io, below(f, 3), below(f, sizeof(message)),
			     (u64)message, 0, 0);
		else
			call(f, __HYPERVISOR_console_io, below(f, 3), arg(f), bad(f), 0, 0);
		break;
	case 6:
		pvsim_op(f);
		break;
	case 7:
		call(f, __HYPERVISOR_vcpu_op, vcpu_cmd(f), below(f, 4), arg(f), 0, 0);
		break;
	case 8:
		sched_and_timers(f);
		break;
	case 9:
		foreign_abi(f);
		break;
	default: {
		/* Any other number the guest can live through. */
		unsigned int nr = below(f, 64);

		switch (nr) {
		case __HYPERVISOR_set_trap_table:
		case __HYPERVISOR_stack_switch:
		case __HYPERVISOR_iret:
		case __HYPERVISOR_set_segment_base:
		case __HYPERVISOR_sched_op:
		case __HYPERVISOR_vcpu_op:
		case __HYPERVISOR_console_io:
		case __HYPERVISOR_mmuext_op:
		case __HYPERVISOR_mmu_update:
		case __HYPERVISOR_update_va_mapping:
		case __HYPERVISOR_multicall:
		case __HYPERVISOR_pvsim_op:
		case __HYPERVISOR_update_descriptor:	/* writes where it is told */
		case __HYPERVISOR_memory_op:		/* so does memory_map */
		case __HYPERVISOR_grant_table_op:	/* and setup_table */
			nr = __HYPERVISOR_xen_version;
		}
		call(f, nr, arg(f), arg(f), arg(f), arg(f), arg(f));
	}
	}
}

static void run(unsigned int cpu)
{
	struct fuzz *f = &fuzz[cpu];

	take_events();
	for (f->ncall = 0; f->ncall < calls; f->ncall++)
		one(f);
	atomic_inc(&finished);
}

void secondary_main(void)
{
	run(smp_processor_id());
}

/* Sets up vCPU cpu's pages: the records page with its guard, the victim, the L1. */
static void setup(unsigned int cpu, unsigned long seed)
{
	struct fuzz *f = &fuzz[cpu];
	struct page *table;

	f->state = (seed * 0x9e3779b97f4a7c15UL + cpu) | 1;
	f->records = alloc_guarded_page();
	if (!f->records)
		panic("hcall-fuzz: cannot put a guard page after the records");
	f->guard = f->records + PAGE_SIZE;
	f->victim = page_address(alloc_page());
	table = alloc_page();
	f->table = page_address(table);
	if (f->table != f->victim + PAGE_SIZE)
		panic("hcall-fuzz: the victim and the L1 are not adjacent");
	f->victim_mfn = virt_to_mfn(f->victim);
	f->table_mfn = virt_to_mfn(f->table);
	if (xen_make_pages_readonly(&table, 1) || xen_pin_table(MMUEXT_PIN_L1_TABLE, f->table_mfn))
		panic("hcall-fuzz: cannot pin the private L1");
}

void kernel_main(void)
{
	unsigned long seed = get_option_ulong("seed", 1);
	unsigned int cpu, ncpus = num_possible_cpus();

	calls = get_option_ulong("calls", 10000);
	trap_hook = fuzz_trap;
	verbose = get_option_ulong("verbose", 0);
	for (cpu = 0; cpu < ncpus; cpu++)
		setup(cpu, seed);
	printk("hcall-fuzz: seed %lu, %lu calls on each of %u vCPUs\n", seed, calls, ncpus);
	smp_init();
	run(0);
	while ((unsigned int)atomic_read(&finished) < ncpus)
		cpu_relax();
	printk("hcall-fuzz: ok\n");
	xen_poweroff();
}
