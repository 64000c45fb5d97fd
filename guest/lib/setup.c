/* Boot of vCPU0: from head.S to the test kernel's kernel_main(). */
#include <kernel.h>
#include <mm.h>
#include <pgtable.h>
#include <smp.h>
#include <string.h>
#include <traps.h>
#include <xen/hypervisor.h>
#include <xen/pvsim.h>

struct start_info *xen_start_info;

/* Stands in for the shared info page until it is found, as on Linux. */
static struct shared_info xen_dummy_shared_info;
struct shared_info *HYPERVISOR_shared_info = &xen_dummy_shared_info;

/*
 * pvsim's shared info page is a frame of the domain's own memory, so its
 * machine (= pseudo-physical) address is in the linear map.
 */
void xen_setup_shared_info(void)
{
	if (xen_start_info->shared_info)
		HYPERVISOR_shared_info = __va(xen_start_info->shared_info);
}

void start_kernel(struct start_info *si)
{
	xen_start_info = si;
	if (strncmp(si->magic, "xen-3.0-x86_64", sizeof(si->magic)))
		panic("start_info has a bad magic string");

	smp_prepare_boot_cpu();
	xen_fill_possible_map();
	paging_init();
	xen_setup_shared_info();
	/* Before anything spins: cpu_relax() depends on it. */
	pvsim_deterministic = pvsim_has_feature(PVSIMFEAT_deterministic);
	trap_init();
	mem_init();

	kernel_main();
	xen_poweroff();
}
