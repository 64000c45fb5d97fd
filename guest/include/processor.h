/* x86 bits usable at CPL3: nothing here touches privileged state. */
#ifndef _PROCESSOR_H
#define _PROCESSOR_H

#define X86_EFLAGS_FIXED	0x00000002	/* bit 1 always reads as 1 */
#define X86_EFLAGS_IF		0x00000200

#ifndef __ASSEMBLER__
/* Busy-wait hint; lets KVM's pause-loop exiting notice a spinning vCPU. */
static inline void cpu_relax(void)
{
	asm volatile("pause" ::: "memory");
}
#endif

#endif /* _PROCESSOR_H */
