/*
 * vCPUs and per-CPU data. Each vCPU's GS base points at its struct pcpu,
 * so per-CPU fields are one %gs-relative load away, as on Linux x86-64.
 */
#ifndef _SMP_H
#define _SMP_H

#include <compiler.h>
#include <processor.h>
#include <types.h>

#define NR_CPUS		32

struct pcpu {
	struct pcpu *self;	/* at %gs:0: turns the GS base into a pointer */
	unsigned int cpu;	/* this vCPU's id */
	bool online;		/* set once the vCPU runs kernel code */
	unsigned long top_of_stack; /* this vCPU's kernel stack ends here */
	unsigned long xen_cr3;	/* pseudo-physical address of the loaded L4 */
	struct thread_struct thread; /* the last exception taken */
} __aligned(64);

_Static_assert(offsetof(struct pcpu, self) == 0, "pcpu.self must be first");

extern struct pcpu pcpu_area[NR_CPUS];

static inline struct pcpu *this_pcpu(void)
{
	struct pcpu *p;

	asm volatile("movq %%gs:%c1, %0"
		     : "=r" (p) : "i" (offsetof(struct pcpu, self)));
	return p;
}

static inline unsigned int smp_processor_id(void)
{
	unsigned int cpu;

	asm volatile("movl %%gs:%c1, %0"
		     : "=r" (cpu) : "i" (offsetof(struct pcpu, cpu)));
	return cpu;
}

/* Number of vCPUs the domain has (at most NR_CPUS are used). */
unsigned int num_possible_cpus(void);
bool cpu_online(unsigned int cpu);

/* Boot-time setup, called from start_kernel(). */
void smp_prepare_boot_cpu(void);
void xen_fill_possible_map(void);

/*
 * Starts vCPU cpu and waits until it runs; it then calls secondary_main().
 * Returns 0 or a negative Xen error.
 */
int cpu_up(unsigned int cpu);

/* Brings up every possible vCPU; panics if one fails. */
void smp_init(void);

/*
 * What a secondary vCPU runs once up. A kernel that starts secondaries
 * defines it; if it returns, the vCPU idles in cpu_idle(). The library's
 * default does nothing.
 */
void secondary_main(void);

/* Yields this vCPU to the hypervisor forever. */
void __noreturn cpu_idle(void);

/* Entry of a secondary vCPU, called from head.S. */
void __noreturn start_secondary(void);

#endif /* _SMP_H */
