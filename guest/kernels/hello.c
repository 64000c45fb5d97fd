/*
 * SMP smoke test: vCPU0 starts every other vCPU, each vCPU prints one
 * line, and vCPU0 powers off once all of them have checked in.
 */
#include <atomic.h>
#include <hypercall.h>
#include <kernel.h>
#include <smp.h>
#include <xen/sched.h>

PVSIM_DESCRIPTION("every vCPU prints its id; vCPU0 waits for all and powers off");

static atomic_t checked_in = ATOMIC_INIT(0);

static void check_in(void)
{
	printk("hello from vCPU %u of %u\n", smp_processor_id(),
	       num_possible_cpus());
	atomic_inc(&checked_in);
}

/* Returning parks the vCPU in cpu_idle(), yielding forever. */
void secondary_main(void)
{
	check_in();
}

void kernel_main(void)
{
	unsigned int n = num_possible_cpus();

	smp_init();
	check_in();

	while (atomic_read(&checked_in) < (int)n)
		HYPERVISOR_sched_op(SCHEDOP_yield, NULL);

	printk("all %u vCPUs checked in\n", n);
	xen_poweroff();
}
