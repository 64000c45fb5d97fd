/*
 * Hypercall round-trip benchmark: iters= calls of xen_version between the
 * "bench: start" and "bench: end" lines, which the host timestamps.
 */
#include <cmdline.h>
#include <hypercall.h>
#include <kernel.h>
#include <xen/version.h>

PVSIM_DESCRIPTION("times iters= (default 10000) xen_version hypercalls between two console lines");

#define WARMUP_ITERS	100

void kernel_main(void)
{
	unsigned long iters = get_option_ulong("iters", 10000);
	unsigned long i;
	int rc;

	for (i = 0; i < WARMUP_ITERS; i++) {
		rc = HYPERVISOR_xen_version(XENVER_version, NULL);
		if (rc < 0)
			panic("xen_version failed: %d", rc);
	}

	printk("bench: start\n");
	for (i = 0; i < iters; i++)
		HYPERVISOR_xen_version(XENVER_version, NULL);
	printk("bench: end\n");

	xen_poweroff();
}
