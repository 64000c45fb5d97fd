/*
 * vCPU bring-up and per-CPU data.
 *
 * The number of vCPUs is found as Linux's xen_fill_possible_map() does:
 * VCPUOP_is_up succeeds for every vCPU the domain has and fails with
 * -ENOENT past the last one. cpu_up() starts a vCPU from a
 * vcpu_guest_context: its own stack, the boot page tables, and a GS base
 * pointing at its struct pcpu.
 */
#include <hypercall.h>
#include <kernel.h>
#include <page.h>
#include <processor.h>
#include <smp.h>
#include <string.h>
#include <traps.h>
#include <xen/errno.h>
#include <xen/sched.h>
#include <xen/vcpu.h>

/* head.S */
extern char secondary_startup_64[];
extern char init_stack[];

struct pcpu pcpu_area[NR_CPUS];

/* Stacks of vCPUs 1..NR_CPUS-1; vCPU0 runs on init_stack from head.S. */
static char secondary_stacks[NR_CPUS - 1][THREAD_SIZE] __aligned(PAGE_SIZE);

static unsigned int nr_cpu_ids = 1;

unsigned int num_possible_cpus(void)
{
	return nr_cpu_ids;
}

bool cpu_online(unsigned int cpu)
{
	return cpu < nr_cpu_ids &&
	       __atomic_load_n(&pcpu_area[cpu].online, __ATOMIC_ACQUIRE);
}

static struct pcpu *pcpu_init(unsigned int cpu)
{
	struct pcpu *p = &pcpu_area[cpu];

	p->self = p;
	p->cpu = cpu;
	return p;
}

void smp_prepare_boot_cpu(void)
{
	struct pcpu *p = pcpu_init(0);
	int rc;

	p->top_of_stack = (unsigned long)init_stack + THREAD_SIZE;

	rc = HYPERVISOR_set_segment_base(SEGBASE_GS_KERNEL, (unsigned long)p);
	if (rc)
		panic("set_segment_base(SEGBASE_GS_KERNEL) failed: %d", rc);
	BUG_ON(smp_processor_id() != 0 || this_pcpu() != p);
	__atomic_store_n(&p->online, true, __ATOMIC_RELEASE);
}

void xen_fill_possible_map(void)
{
	unsigned int cpu;

	for (cpu = 1; cpu < NR_CPUS; cpu++)
		if (HYPERVISOR_vcpu_op(VCPUOP_is_up, cpu, NULL) < 0)
			break;
	nr_cpu_ids = cpu;

	if (cpu == NR_CPUS && HYPERVISOR_vcpu_op(VCPUOP_is_up, cpu, NULL) >= 0)
		printk("smp: using only the first %u vCPUs (NR_CPUS)\n",
		       NR_CPUS);
}

int cpu_up(unsigned int cpu)
{
	struct vcpu_guest_context ctxt;
	unsigned long stack_top;
	struct pcpu *p;
	int rc;

	if (cpu == 0 || cpu >= nr_cpu_ids)
		return -EINVAL;
	if (cpu_online(cpu))
		return -EBUSY;

	p = pcpu_init(cpu);
	stack_top = (unsigned long)secondary_stacks[cpu - 1] + THREAD_SIZE;
	p->top_of_stack = stack_top;
	p->xen_cr3 = __pa(xen_start_info->pt_base);

	memset(&ctxt, 0, sizeof(ctxt));
	ctxt.flags = VGCF_in_kernel;
	ctxt.user_regs.rip = (unsigned long)secondary_startup_64;
	ctxt.user_regs.rsp = stack_top;
	ctxt.user_regs.rflags = X86_EFLAGS_FIXED | X86_EFLAGS_IF;
	ctxt.user_regs.cs = FLAT_KERNEL_CS;
	ctxt.user_regs.ss = FLAT_KERNEL_SS;
	ctxt.user_regs.ds = FLAT_KERNEL_DS;
	ctxt.user_regs.es = FLAT_KERNEL_DS;
	ctxt.kernel_ss = FLAT_KERNEL_SS;
	ctxt.kernel_sp = stack_top;
	/* Share vCPU0's boot page tables. */
	ctxt.ctrlreg[3] = xen_pfn_to_cr3(virt_to_pfn(xen_start_info->pt_base));
	ctxt.gs_base_kernel = (unsigned long)p;

	rc = HYPERVISOR_vcpu_op(VCPUOP_initialise, cpu, &ctxt);
	if (rc)
		return rc;
	rc = HYPERVISOR_vcpu_op(VCPUOP_up, cpu, NULL);
	if (rc)
		return rc;

	while (!cpu_online(cpu))
		HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
	return 0;
}

void smp_init(void)
{
	unsigned int cpu;
	int rc;

	for (cpu = 1; cpu < nr_cpu_ids; cpu++) {
		rc = cpu_up(cpu);
		if (rc)
			panic("smp: cannot bring up vCPU %u: %d", cpu, rc);
	}
}

void __weak secondary_main(void)
{
}

void cpu_idle(void)
{
	for (;;)
		HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
}

void start_secondary(void)
{
	cpu_init_exception_handling();
	__atomic_store_n(&this_pcpu()->online, true, __ATOMIC_RELEASE);
	secondary_main();
	cpu_idle();
}
