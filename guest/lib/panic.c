/* Ending the domain: power-off, crash and panic. */
#include <hypercall.h>
#include <kernel.h>
#include <smp.h>
#include <xen/sched.h>

void xen_shutdown(unsigned int reason)
{
	struct sched_shutdown r = { .reason = reason };
	int rc;

	rc = HYPERVISOR_sched_op(SCHEDOP_shutdown, &r);
	if (rc)
		printk("SCHEDOP_shutdown(%u) failed: %d\n", reason, rc);
	cpu_idle();
}

void xen_poweroff(void)
{
	xen_shutdown(SHUTDOWN_poweroff);
}

void xen_crash(void)
{
	xen_shutdown(SHUTDOWN_crash);
}

void panic(const char *fmt, ...)
{
	char msg[PRINTK_MAX];
	va_list args;

	va_start(args, fmt);
	vsnprintf(msg, sizeof(msg), fmt, args);
	va_end(args);

	printk("Kernel panic - not syncing: %s\n", msg);
	xen_crash();
}
