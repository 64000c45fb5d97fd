/* x86 bits usable at CPL3: nothing here touches privileged state. */
#ifndef _PROCESSOR_H
#define _PROCESSOR_H

#define X86_EFLAGS_CF		0x00000001	/* carry */
#define X86_EFLAGS_FIXED	0x00000002	/* bit 1 always reads as 1 */
#define X86_EFLAGS_PF		0x00000004	/* parity */
#define X86_EFLAGS_AF		0x00000010	/* auxiliary carry */
#define X86_EFLAGS_ZF		0x00000040	/* zero */
#define X86_EFLAGS_SF		0x00000080	/* sign */
#define X86_EFLAGS_TF		0x00000100	/* trap (single step) */
#define X86_EFLAGS_IF		0x00000200
#define X86_EFLAGS_DF		0x00000400	/* direction */
#define X86_EFLAGS_OF		0x00000800	/* overflow */

#ifndef __ASSEMBLER__
#include <compiler.h>
#include <types.h>

/*
 * What Linux keeps in a task's thread_struct about its last exception;
 * here one per vCPU (struct pcpu), set for every exception the vCPU takes.
 */
struct thread_struct {
	unsigned long trap_nr;		/* X86_TRAP_* */
	unsigned long error_code;	/* 0 for a vector without one */
	unsigned long cr2;		/* the address of the last page fault */
};

/* From xen/pvsim.h, declared here to keep the hypercall headers out. */
extern bool pvsim_deterministic;
void pvsim_cpu_relax(void);

/*
 * The time-stamp counter; CR4.TSD is clear, so it reads at CPL3. Under
 * pvsim's deterministic scheduler it reads 0: the pvclock's TSC scale is
 * 0 there, so no time is made of it, and the counter's value, left in
 * memory, would make two replays of one schedule differ.
 */
static inline u64 rdtsc(void)
{
	u32 lo, hi;

	if (unlikely(READ_ONCE(pvsim_deterministic)))
		return 0;
	asm volatile("rdtsc" : "=a" (lo), "=d" (hi));
	return ((u64)hi << 32) | lo;
}

/* Busy-wait hint; lets KVM's pause-loop exiting notice a spinning vCPU. */
static __always_inline void rep_nop(void)
{
	asm volatile("pause" ::: "memory");
}

/*
 * Under pvsim's deterministic scheduler a pause never exits, and the
 * vCPU waited for never runs: there a busy-wait yields instead.
 */
static inline void cpu_relax(void)
{
	if (unlikely(READ_ONCE(pvsim_deterministic)))
		pvsim_cpu_relax();
	else
		rep_nop();
}
#endif

#endif /* _PROCESSOR_H */
