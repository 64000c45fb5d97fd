/*
 * Shuts the domain down with the reason given as reason= on the command
 * line, so the host can check how each reason maps to an exit status.
 */
#include <cmdline.h>
#include <kernel.h>
#include <string.h>
#include <xen/sched.h>

PVSIM_DESCRIPTION("shuts down with reason=poweroff|reboot|crash|watchdog (default poweroff)");

static const struct {
	const char *name;
	unsigned int reason;
} reasons[] = {
	{ "poweroff",	SHUTDOWN_poweroff },
	{ "reboot",	SHUTDOWN_reboot },
	{ "crash",	SHUTDOWN_crash },
	{ "watchdog",	SHUTDOWN_watchdog },
};

void kernel_main(void)
{
	char buf[16];
	const char *name = get_option_str("reason", buf, sizeof(buf),
					  "poweroff");
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(reasons); i++) {
		if (!strcmp(name, reasons[i].name)) {
			printk("shutdown: reason %s (%u)\n", name,
			       reasons[i].reason);
			xen_shutdown(reasons[i].reason);
		}
	}
	panic("shutdown: unknown reason=%s", name);
}
