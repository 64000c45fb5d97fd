/*
 * The registers an exception saves: struct pt_regs, laid out as on Linux
 * x86-64. lib/entry.S builds it on the stack by pushing from ss down to
 * r15.
 */
#ifndef _PTRACE_H
#define _PTRACE_H

#include <types.h>

struct pt_regs {
	/* Pushed by the entry code. */
	unsigned long r15;
	unsigned long r14;
	unsigned long r13;
	unsigned long r12;
	unsigned long bp;
	unsigned long bx;
	unsigned long r11;
	unsigned long r10;
	unsigned long r9;
	unsigned long r8;
	unsigned long ax;
	unsigned long cx;
	unsigned long dx;
	unsigned long si;
	unsigned long di;
	/* The error code, or 0 for a vector without one. */
	unsigned long orig_ax;
	/* The frame the hypervisor delivered, as a CPU's iret frame. */
	unsigned long ip;
	unsigned long cs;	/* bits 0..15 only are the selector */
	unsigned long flags;
	unsigned long sp;
	unsigned long ss;
};

_Static_assert(sizeof(struct pt_regs) == 21 * 8, "pt_regs");
_Static_assert(offsetof(struct pt_regs, di) == 14 * 8, "pt_regs.di");
_Static_assert(offsetof(struct pt_regs, orig_ax) == 15 * 8, "pt_regs.orig_ax");
_Static_assert(offsetof(struct pt_regs, ip) == 16 * 8, "pt_regs.ip");

/*
 * Xen clears the RPL of the code selector in a frame it delivers from
 * guest kernel mode; user mode keeps RPL 3.
 */
static inline bool user_mode(const struct pt_regs *regs)
{
	return regs->cs & 3;
}

#endif /* _PTRACE_H */
