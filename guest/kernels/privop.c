/*
 * Privileged instruction at CPL3: writing %cr3 as a native kernel would.
 * A PV kernel runs in ring 3, so this is a #GP, and with no trap table the
 * guest cannot take it.
 */
#include <hypercall.h>
#include <kernel.h>
#include <page.h>

PVSIM_DESCRIPTION("executes mov to %cr3 at CPL3: a #GP the guest cannot take");

static noinline void native_write_cr3(unsigned long val)
{
	asm volatile("mov %0, %%cr3" : : "r" (val) : "memory");
}

void kernel_main(void)
{
	/*
	 * trap_init() registered handlers for every exception, which would
	 * turn the #GP into an oops: clear the table so that nothing can
	 * take it.
	 */
	HYPERVISOR_set_trap_table(NULL);

	printk("privop: writing %%cr3 from ring 3\n");
	native_write_cr3(xen_pfn_to_cr3(virt_to_pfn(xen_start_info->pt_base)));
	printk("privop: ERROR: mov to %%cr3 did not fault\n");
	xen_crash();
}
