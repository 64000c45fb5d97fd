/*
 * Exceptions: the trap table, the C side of exception entry and the
 * oops. A PV kernel registers its handlers with set_trap_table; the
 * hypervisor delivers each exception to lib/entry.S, which calls
 * handle_exception(). An exception at an instruction listed in the
 * exception table (extable.h) resumes at its fixup; any other one oopses
 * and crashes the domain.
 */
#ifndef _TRAPS_H
#define _TRAPS_H

#include <compiler.h>
#include <ptrace.h>
#include <trapnr.h>
#include <types.h>

/* Page fault error code bits, as in Linux's asm/trap_pf.h. */
#define X86_PF_PROT	(1UL << 0)	/* 0: not present, 1: protection */
#define X86_PF_WRITE	(1UL << 1)	/* 0: read, 1: write */
#define X86_PF_USER	(1UL << 2)	/* 0: kernel mode, 1: user mode */
#define X86_PF_RSVD	(1UL << 3)	/* a reserved bit was set */
#define X86_PF_INSTR	(1UL << 4)	/* an instruction fetch */
#define X86_PF_PK	(1UL << 5)	/* a protection key */

/*
 * Registers the trap table and this vCPU's kernel stack with the
 * hypervisor. trap_init() does it for vCPU0 at boot; start_secondary()
 * for the others.
 */
void trap_init(void);
void cpu_init_exception_handling(void);

/* Called from lib/entry.S with the registers of every exception. */
void handle_exception(struct pt_regs *regs, unsigned long trapnr);

/*
 * If set, called first for every exception, after the vCPU's
 * thread_struct has been filled in; a test kernel uses it to look at the
 * registers of a trap. Returning nonzero ends the handling: execution
 * resumes with regs, which the hook may have changed.
 */
extern int (*trap_hook)(struct pt_regs *regs, int trapnr);

void do_page_fault(struct pt_regs *regs, unsigned long error_code,
		   unsigned long address);

/* The oops: prints str, the registers and a backtrace, then panics. */
void __noreturn die(const char *str, struct pt_regs *regs, long err);

/* Oops helpers, for a caller that prints a header of its own first. */
void oops_begin(void);
void __noreturn oops_end(void);
void __die(const char *str, struct pt_regs *regs, long err);
void show_regs(struct pt_regs *regs);

#endif /* _TRAPS_H */
