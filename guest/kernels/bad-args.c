/*
 * Arguments a hypervisor must refuse or correct, each checked against
 * what Xen does:
 *   - a trace or scheduling-point label that is NULL, in the hypervisor's
 *     range, non-canonical, unterminated or empty is -EFAULT or -EINVAL,
 *     never an empty mark;
 *   - set_trap_table refuses a list with no terminator within 256 entries
 *     without reading the 257th (which lies on an unmapped page here: a
 *     read of it would be -EFAULT), and leaves the old table in place;
 *   - HYPERVISOR_iret clears the reserved RFLAGS bits of the frame;
 *   - a hypercall made with TF set is followed by a #DB, reported at the
 *     instruction after it, before that instruction runs (a trap).
 * A mismatch panics with the case's name; "bad-args: ok" at the end.
 */
#include <extable.h>
#include <guard_page.h>
#include <hypercall.h>
#include <kernel.h>
#include <mm.h>
#include <pgtable.h>
#include <processor.h>
#include <string.h>
#include <traps.h>
#include <xen/errno.h>
#include <xen/pvsim.h>
#include <xen/version.h>

PVSIM_DESCRIPTION("labels, an unterminated trap table, reserved RFLAGS in iret, TF across a hypercall");

/* Reserved RFLAGS bits: 3, 5, 15 and 22 up. */
#define RESERVED_FLAGS	(0x8UL | 0x20UL | 0x8000UL | 0xffffffffffc00000UL)

static void expect(const char *what, long got, long want)
{
	if (got != want)
		panic("bad-args: FAIL: %s: got %ld, want %ld", what, got, want);
	printk("bad-args: %s: %ld\n", what, got);
}

static void labels(void)
{
	static const char unterminated[PVSIM_MAX_LABEL + 8] = {
		[0 ... PVSIM_MAX_LABEL + 6] = 'x',
	};
	static const char empty[] = "";

	expect("trace_mark(NULL)",
	       HYPERVISOR_pvsim_op(PVSIMOP_trace_mark, 0, 0, 0), -EFAULT);
	expect("trace_mark(hypervisor address)",
	       HYPERVISOR_pvsim_op(PVSIMOP_trace_mark, 0xffff800000001000UL, 0, 0), -EFAULT);
	expect("trace_mark(non-canonical address)",
	       HYPERVISOR_pvsim_op(PVSIMOP_trace_mark, 0xdead000000000000UL, 0, 0), -EFAULT);
	expect("trace_mark(unterminated)",
	       HYPERVISOR_pvsim_op(PVSIMOP_trace_mark, (unsigned long)unterminated, 0, 0), -EINVAL);
	expect("trace_mark(\"\")",
	       HYPERVISOR_pvsim_op(PVSIMOP_trace_mark, (unsigned long)empty, 0, 0), -EINVAL);
	expect("sched_point(NULL)",
	       HYPERVISOR_pvsim_op(PVSIMOP_sched_point, 0, 0, 0), -EFAULT);
	expect("trace_mark(\"bad-args\")",
	       HYPERVISOR_pvsim_op(PVSIMOP_trace_mark, (unsigned long)"bad-args", 0, 0), 0);
}

/* Set by the #UD hook: the old trap table is still the one in force. */
static int ud_seen;

static int ud_hook(struct pt_regs *regs, int trapnr)
{
	if (trapnr != X86_TRAP_UD)
		return 0;
	ud_seen++;
	return fixup_exception(regs);
}

static void unterminated_trap_table(void)
{
	struct trap_info *list = alloc_guarded_page();
	int i;

	if (!list)
		panic("bad-args: cannot put an unmapped page after the list");
	_Static_assert(256 * sizeof(*list) == PAGE_SIZE, "256 entries fill the page");
	for (i = 0; i < 256; i++)
		list[i] = (struct trap_info){ .vector = i, .cs = FLAT_KERNEL_CS,
					      .address = (unsigned long)panic };
	expect("set_trap_table(256 entries, no terminator)",
	       HYPERVISOR_set_trap_table(list), -EINVAL);

	/* The old table still takes #UD to the kernel's handler. */
	trap_hook = ud_hook;
	asm volatile("1: ud2\n2:\n" _ASM_EXTABLE(1b, 2b));
	trap_hook = NULL;
	expect("#UD through the old trap table", ud_seen, 1);
}

/* The flags a #GP handler's iret restores: the case sets reserved ones. */
static int gp_hook(struct pt_regs *regs, int trapnr)
{
	if (trapnr != X86_TRAP_GP)
		return 0;
	regs->flags |= RESERVED_FLAGS | X86_EFLAGS_CF;
	return fixup_exception(regs);
}

static void iret_reserved_flags(void)
{
	unsigned long flags;

	trap_hook = gp_hook;
	asm volatile("clc\n"
		     "1: mov %%rax, %%cr3\n2:\n"		/* #GP at CPL3 */
		     "pushfq\npopq %0\n"
		     _ASM_EXTABLE(1b, 2b)
		     : "=r" (flags) : "a" (0UL) : "cc", "memory");
	trap_hook = NULL;
	expect("CF set through iret", !!(flags & X86_EFLAGS_CF), 1);
	expect("reserved RFLAGS bits after iret", flags & RESERVED_FLAGS, 0);
}

/* Where each #DB of the single-step case was reported. */
static unsigned long db_ip[8];
static unsigned int nr_db;

/* The #DB at which the case clears TF; set by the case's asm. */
unsigned long ss_stop;

static int db_hook(struct pt_regs *regs, int trapnr)
{
	if (trapnr != X86_TRAP_DB)
		return 0;
	if (nr_db < ARRAY_SIZE(db_ip))
		db_ip[nr_db] = regs->ip;
	nr_db++;
	if (regs->ip == ss_stop)
		regs->flags &= ~X86_EFLAGS_TF;
	return 1;
}

/*
 * Hypercall nr with TF set: a #DB after each instruction, and one after the
 * hypercall, reported at the stub's ret. The hypercall returns through the
 * executor's final batch if it made pagetable writes, and from the
 * executor's saved frame if it ran a round trip too.
 */
static void single_step(const char *name, unsigned int nr, unsigned long rdi,
			unsigned long rsi, unsigned long rdx, unsigned long r10, long want)
{
	unsigned long stub = (unsigned long)&hypercall_page[nr];
	unsigned long ret_ip;
	unsigned int i;
	long rax;

	printk("bad-args: %s with TF set\n", name);
	/* The stub: mov $nr, %eax (5 bytes), the doorbell store (9), ret. */
	ret_ip = stub + 5 + 9;
	nr_db = 0;
	trap_hook = db_hook;
	/* Set here: a call in between may change %r10. */
	register unsigned long r10_asm asm("r10") = r10;
	asm volatile("lea 2f(%%rip), %%rcx\n"
		     "mov %%rcx, ss_stop(%%rip)\n"
		     "pushfq\n"
		     "orq $0x100, (%%rsp)\n"
		     "popfq\n"
		     "call *%[stub]\n"
		     "1: nop\n"
		     "2: nop\n"
		     : "=a" (rax), "+D" (rdi), "+S" (rsi), "+d" (rdx), "+r" (r10_asm)
		     : [stub] "r" (stub)
		     : "rcx", "r8", "r9", "r11", "cc", "memory");
	trap_hook = NULL;
	for (i = 0; i < nr_db && i < ARRAY_SIZE(db_ip); i++)
		printk("bad-args: #DB %u at %p\n", i, (void *)db_ip[i]);
	expect("hypercall result", rax, want);
	expect("single-step traps", nr_db, 5);
	expect("#DB after the call, at the stub", db_ip[0] == stub, 1);
	expect("#DB after mov $nr, %eax", db_ip[1] == stub + 5, 1);
	expect("#DB after the hypercall, before its ret", db_ip[2] == ret_ip, 1);
	expect("#DB after ret", db_ip[3] == ss_stop - 1, 1);
	expect("#DB after nop", db_ip[4] == ss_stop, 1);
}

/*
 * An mmu_update that rewrites the L1 entry of a page of ours with the
 * value it has, keeping Accessed and Dirty: its write is a round trip in
 * the executor, so the hypercall returns from the executor's saved frame.
 */
static void update_with_tf(void)
{
	static struct mmu_update req;
	unsigned long va = (unsigned long)page_address(alloc_page());
	unsigned int level;
	pte_t *ptep = lookup_address(va, &level);

	req.ptr = (PFN_PHYS(virt_to_mfn(ptep)) + ((unsigned long)ptep & ~PAGE_MASK)) |
		  MMU_PT_UPDATE_PRESERVE_AD;
	req.val = pte_val(*ptep);
	single_step("mmu_update(MMU_PT_UPDATE_PRESERVE_AD)", __HYPERVISOR_mmu_update,
		    (unsigned long)&req, 1, 0, DOMID_SELF, 0);
}

void kernel_main(void)
{
	labels();
	unterminated_trap_table();
	iret_reserved_flags();
	single_step("xen_version", __HYPERVISOR_xen_version, XENVER_version, 0, 0, 0,
		    HYPERVISOR_xen_version(XENVER_version, NULL));
	update_with_tf();
	printk("bad-args: ok\n");
	xen_poweroff();
}
