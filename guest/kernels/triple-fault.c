/*
 * Page fault with no trap table: the guest takes back the handlers the
 * runtime registered, so the fault cannot be delivered and the hypervisor
 * must report a triple fault at do_null_write().
 */
#include <hypercall.h>
#include <kernel.h>

PVSIM_DESCRIPTION("writes through a NULL pointer with no trap table: an undeliverable page fault");

/* Address 0 is unmapped: the kernel lives at the top of the address space. */
static noinline void do_null_write(void)
{
	WRITE_ONCE(*(unsigned long *)NULL, 0xdead);
}

void kernel_main(void)
{
	/*
	 * trap_init() registered handlers for every exception, which would
	 * turn the fault into an oops: clear the table so that nothing can
	 * take it.
	 */
	HYPERVISOR_set_trap_table(NULL);

	printk("triple-fault: writing through a NULL pointer\n");
	do_null_write();
	printk("triple-fault: ERROR: the NULL write did not fault\n");
	xen_crash();
}
