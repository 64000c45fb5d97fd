/* Boot of vCPU0: from head.S to the test kernel's kernel_main(). */
#include <kernel.h>
#include <mm.h>
#include <pgtable.h>
#include <smp.h>
#include <string.h>

struct start_info *xen_start_info;

void start_kernel(struct start_info *si)
{
	xen_start_info = si;
	if (strncmp(si->magic, "xen-3.0-x86_64", sizeof(si->magic)))
		panic("start_info has a bad magic string");

	smp_prepare_boot_cpu();
	xen_fill_possible_map();
	paging_init();
	mem_init();

	kernel_main();
	xen_poweroff();
}
