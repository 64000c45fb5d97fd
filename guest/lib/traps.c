/*
 * The trap table and the C side of exception entry: every exception the
 * hypervisor delivers comes to handle_exception() from lib/entry.S.
 */
#include <extable.h>
#include <hypercall.h>
#include <kernel.h>
#include <smp.h>
#include <traps.h>
#include <xen/errno.h>
#include <xen/hypervisor.h>

/* Entry stubs, in lib/entry.S. */
void xen_asm_exc_divide_error(void);
void xen_asm_exc_debug(void);
void xen_asm_exc_int3(void);
void xen_asm_exc_overflow(void);
void xen_asm_exc_bounds(void);
void xen_asm_exc_invalid_op(void);
void xen_asm_exc_device_not_available(void);
void xen_asm_exc_coproc_segment_overrun(void);
void xen_asm_exc_invalid_tss(void);
void xen_asm_exc_segment_not_present(void);
void xen_asm_exc_stack_segment(void);
void xen_asm_exc_general_protection(void);
void xen_asm_exc_page_fault(void);
void xen_asm_exc_spurious_interrupt_bug(void);
void xen_asm_exc_coprocessor_error(void);
void xen_asm_exc_alignment_check(void);
void xen_asm_exc_simd_coprocessor_error(void);
void xen_asm_exc_virtualization_exception(void);

/*
 * DPL 0: no software interrupt instruction may raise these, and events
 * stay as they were on delivery. The hypervisor never delivers NMI,
 * double fault or machine check to a PV guest.
 */
#define TRAP(nr, handler)						\
	{ .vector = (nr), .flags = 0, .cs = FLAT_KERNEL_CS,		\
	  .address = (unsigned long)(handler) }

static const struct trap_info trap_table[] = {
	TRAP(X86_TRAP_DE, xen_asm_exc_divide_error),
	TRAP(X86_TRAP_DB, xen_asm_exc_debug),
	TRAP(X86_TRAP_BP, xen_asm_exc_int3),
	TRAP(X86_TRAP_OF, xen_asm_exc_overflow),
	TRAP(X86_TRAP_BR, xen_asm_exc_bounds),
	TRAP(X86_TRAP_UD, xen_asm_exc_invalid_op),
	TRAP(X86_TRAP_NM, xen_asm_exc_device_not_available),
	TRAP(X86_TRAP_OLD_MF, xen_asm_exc_coproc_segment_overrun),
	TRAP(X86_TRAP_TS, xen_asm_exc_invalid_tss),
	TRAP(X86_TRAP_NP, xen_asm_exc_segment_not_present),
	TRAP(X86_TRAP_SS, xen_asm_exc_stack_segment),
	TRAP(X86_TRAP_GP, xen_asm_exc_general_protection),
	TRAP(X86_TRAP_PF, xen_asm_exc_page_fault),
	TRAP(X86_TRAP_SPURIOUS, xen_asm_exc_spurious_interrupt_bug),
	TRAP(X86_TRAP_MF, xen_asm_exc_coprocessor_error),
	TRAP(X86_TRAP_AC, xen_asm_exc_alignment_check),
	TRAP(X86_TRAP_XF, xen_asm_exc_simd_coprocessor_error),
	TRAP(X86_TRAP_VE, xen_asm_exc_virtualization_exception),
	{ 0, 0, 0, 0 }		/* address 0 ends the table */
};

/* What die() calls each exception, as Linux does. */
static const char *const trap_str[] = {
	[X86_TRAP_DE] = "divide error",
	[X86_TRAP_DB] = "debug",
	[X86_TRAP_BP] = "int3",
	[X86_TRAP_OF] = "overflow",
	[X86_TRAP_BR] = "bounds",
	[X86_TRAP_UD] = "invalid opcode",
	[X86_TRAP_NM] = "device not available",
	[X86_TRAP_OLD_MF] = "coprocessor segment overrun",
	[X86_TRAP_TS] = "invalid TSS",
	[X86_TRAP_NP] = "segment not present",
	[X86_TRAP_SS] = "stack segment",
	[X86_TRAP_GP] = "general protection fault",
	[X86_TRAP_PF] = "page fault",
	[X86_TRAP_SPURIOUS] = "spurious interrupt bug",
	[X86_TRAP_MF] = "fpu exception",
	[X86_TRAP_AC] = "alignment check",
	[X86_TRAP_XF] = "simd exception",
	[X86_TRAP_VE] = "virtualization exception",
};

int (*trap_hook)(struct pt_regs *regs, int trapnr);

/*
 * The kernel stack the hypervisor switches to when this vCPU enters the
 * kernel from user mode, as Linux's xen_load_sp0(). pvsim kernels never
 * leave kernel mode, but each vCPU registers its stack all the same.
 */
static void xen_load_sp0(unsigned long sp0)
{
	int rc;

	rc = HYPERVISOR_stack_switch(FLAT_KERNEL_SS, sp0);
	if (rc == -ENOSYS && smp_processor_id() == 0)
		printk("traps: stack_switch is not implemented (%d)\n", rc);
	else if (rc && rc != -ENOSYS)
		panic("stack_switch failed on vCPU %u: %d", smp_processor_id(), rc);
}

void cpu_init_exception_handling(void)
{
	int rc;

	/* The hypervisor keeps a trap table per vCPU, as Xen does. */
	rc = HYPERVISOR_set_trap_table(trap_table);
	if (rc == -ENOSYS && smp_processor_id() == 0)
		printk("traps: set_trap_table is not implemented (%d): an exception will end the domain\n",
		       rc);
	else if (rc && rc != -ENOSYS)
		panic("set_trap_table failed on vCPU %u: %d", smp_processor_id(), rc);

	xen_load_sp0(this_pcpu()->top_of_stack);
}

void trap_init(void)
{
	cpu_init_exception_handling();
}

static void do_error_trap(struct pt_regs *regs, unsigned long error_code,
			  const char *str, unsigned long trapnr)
{
	if (fixup_exception(regs))
		return;
	die(str, regs, error_code);
}

static void do_general_protection(struct pt_regs *regs, unsigned long error_code)
{
	if (fixup_exception(regs))
		return;
	die("general protection fault", regs, error_code);
}

void handle_exception(struct pt_regs *regs, unsigned long trapnr)
{
	struct thread_struct *thread = &this_pcpu()->thread;
	unsigned long error_code = regs->orig_ax;
	unsigned long address = 0;

	/* First: a page fault taken while handling this one overwrites it. */
	if (trapnr == X86_TRAP_PF)
		address = xen_read_cr2();

	thread->trap_nr = trapnr;
	thread->error_code = error_code;
	if (trapnr == X86_TRAP_PF)
		thread->cr2 = address;

	if (trap_hook && trap_hook(regs, trapnr))
		return;

	switch (trapnr) {
	case X86_TRAP_PF:
		do_page_fault(regs, error_code, address);
		break;
	case X86_TRAP_GP:
		do_general_protection(regs, error_code);
		break;
	default:
		do_error_trap(regs, error_code,
			      trapnr < ARRAY_SIZE(trap_str) && trap_str[trapnr] ?
			      trap_str[trapnr] : "unknown exception", trapnr);
		break;
	}
}
