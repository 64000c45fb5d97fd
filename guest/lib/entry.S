/*
 * Exception entry and return.
 *
 * The hypervisor delivers an exception to the handler set_trap_table
 * registered for its vector, on the stack the kernel was running on,
 * aligned down to 16 bytes, with Xen's bounce frame on top:
 *
 *	rcx, r11, [error code], rip, cs, rflags, rsp, ss
 *
 * Every other register holds its value at the exception. Each entry stub
 * pops %rcx and %r11, leaving a native exception frame, pushes a 0 error
 * code where the vector has none and the vector number, and goes to
 * exc_common. That completes a struct pt_regs (ptrace.h) and calls
 * handle_exception(regs, vector). On the way back every general-purpose
 * register is reloaded from pt_regs, so a handler may change any of them
 * as well as regs->ip, and the iret hypercall resumes the kernel.
 */
#include <linkage.h>
#include <trapnr.h>
#include <xen/xen.h>

.macro idtentry vector, sym, has_error_code=0
SYM_CODE_START(\sym)
	popq	%rcx
	popq	%r11
	.if \has_error_code == 0
	pushq	$0			/* pt_regs->orig_ax: no error code */
	.endif
	pushq	$\vector
	jmp	exc_common
SYM_CODE_END(\sym)
.endm

idtentry X86_TRAP_DE,		xen_asm_exc_divide_error
idtentry X86_TRAP_DB,		xen_asm_exc_debug
idtentry X86_TRAP_BP,		xen_asm_exc_int3
idtentry X86_TRAP_OF,		xen_asm_exc_overflow
idtentry X86_TRAP_BR,		xen_asm_exc_bounds
idtentry X86_TRAP_UD,		xen_asm_exc_invalid_op
idtentry X86_TRAP_NM,		xen_asm_exc_device_not_available
idtentry X86_TRAP_OLD_MF,	xen_asm_exc_coproc_segment_overrun
idtentry X86_TRAP_TS,		xen_asm_exc_invalid_tss,		has_error_code=1
idtentry X86_TRAP_NP,		xen_asm_exc_segment_not_present,	has_error_code=1
idtentry X86_TRAP_SS,		xen_asm_exc_stack_segment,		has_error_code=1
idtentry X86_TRAP_GP,		xen_asm_exc_general_protection,		has_error_code=1
idtentry X86_TRAP_PF,		xen_asm_exc_page_fault,			has_error_code=1
idtentry X86_TRAP_SPURIOUS,	xen_asm_exc_spurious_interrupt_bug
idtentry X86_TRAP_MF,		xen_asm_exc_coprocessor_error
idtentry X86_TRAP_AC,		xen_asm_exc_alignment_check,		has_error_code=1
idtentry X86_TRAP_XF,		xen_asm_exc_simd_coprocessor_error
idtentry X86_TRAP_VE,		xen_asm_exc_virtualization_exception

/*
 * On entry: the vector at (%rsp), then pt_regs->orig_ax and the exception
 * frame. The vector's slot becomes pt_regs->di.
 */
SYM_CODE_START(exc_common)
	cld
	pushq	%rsi
	movq	8(%rsp), %rsi		/* handle_exception()'s vector */
	movq	%rdi, 8(%rsp)
	pushq	%rdx
	pushq	%rcx
	pushq	%rax
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%rbx
	pushq	%rbp
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15

	movq	%rsp, %rdi		/* struct pt_regs * */
	movq	%rsp, %rbx		/* callee-saved: the C code keeps it */
	andq	$~15, %rsp		/* the C calling convention's alignment */
	call	handle_exception
	movq	%rbx, %rsp

	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbp
	popq	%rbx
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rax
	popq	%rcx
	popq	%rdx
	popq	%rsi
	popq	%rdi
	addq	$8, %rsp		/* orig_ax */
	jmp	xen_iret
SYM_CODE_END(exc_common)

/*
 * Returns from an exception with the iret hypercall. Its stub saves %rcx,
 * %r11 and %rax, which the hypervisor restores, and takes from the stack a
 * flags word (0) above a native iret frame: rip, cs, rflags, rsp, ss. It
 * does not return.
 */
SYM_CODE_START(xen_iret)
	pushq	$0
	jmp	hypercall_page + __HYPERVISOR_iret * 32
SYM_CODE_END(xen_iret)
