/*
 * Kernel entry points, the Xen ELF notes, the hypercall page and the boot
 * stack.
 *
 * vCPU0 enters startup_64 in ring 3 with %rsi pointing at start_info and
 * %rsp on a small stack set up by the domain builder. Secondary vCPUs enter
 * secondary_startup_64 with %rsp and their GS base already set from the
 * vcpu_guest_context built by cpu_up().
 */
#include <elfnote.h>
#include <linkage.h>
#include <page.h>
#include <xen/elfnote.h>

	ELFNOTE Xen, XEN_ELFNOTE_GUEST_OS,	.asciz "pvsim-test"
	ELFNOTE Xen, XEN_ELFNOTE_XEN_VERSION,	.asciz "xen-3.0"
	ELFNOTE Xen, XEN_ELFNOTE_LOADER,	.asciz "generic"
	ELFNOTE Xen, XEN_ELFNOTE_VIRT_BASE,	.quad __START_KERNEL_map
	ELFNOTE Xen, XEN_ELFNOTE_PADDR_OFFSET,	.quad 0
	ELFNOTE Xen, XEN_ELFNOTE_ENTRY,		.quad startup_64
	ELFNOTE Xen, XEN_ELFNOTE_HYPERCALL_PAGE, .quad hypercall_page

	/*
	 * kernel.lds puts .head.text first, so the page-aligned hypercall
	 * page sits at __START_KERNEL_map and needs no padding.
	 */
	.section .head.text, "ax"

/*
 * The hypervisor writes a 32-byte stub per hypercall here before boot.
 * Until then the page is int3, so a call into an unfilled page traps at
 * once instead of running off into whatever follows.
 */
	.balign PAGE_SIZE
	.globl	hypercall_page
	.type	hypercall_page, @function
hypercall_page:
	.fill	PAGE_SIZE, 1, 0xcc
	.size	hypercall_page, PAGE_SIZE

SYM_FUNC_START(startup_64)
	cld
	leaq	init_stack + THREAD_SIZE(%rip), %rsp
	xorl	%ebp, %ebp		/* terminates frame-pointer walks */

	/* Zero .bss; rep stosb leaves %rsi, the start_info pointer, alone. */
	leaq	__bss_start(%rip), %rdi
	leaq	__bss_stop(%rip), %rcx
	subq	%rdi, %rcx
	xorl	%eax, %eax
	rep stosb

	movq	%rsi, %rdi
	call	start_kernel
	ud2				/* start_kernel() does not return */
SYM_FUNC_END(startup_64)

SYM_FUNC_START(secondary_startup_64)
	cld
	xorl	%ebp, %ebp
	call	start_secondary
	ud2				/* start_secondary() does not return */
SYM_FUNC_END(secondary_startup_64)

	.bss
	.balign PAGE_SIZE
	.globl	init_stack
	.type	init_stack, @object
init_stack:
	.skip	THREAD_SIZE
	.size	init_stack, THREAD_SIZE
