/*
 * Page fault with no trap table: the guest registered no handlers, so the
 * fault cannot be delivered and the hypervisor must report a triple fault
 * at do_null_write().
 */
#include <kernel.h>

PVSIM_DESCRIPTION("writes through a NULL pointer with no trap table: an undeliverable page fault");

/* Address 0 is unmapped: the kernel lives at the top of the address space. */
static noinline void do_null_write(void)
{
	WRITE_ONCE(*(unsigned long *)NULL, 0xdead);
}

void kernel_main(void)
{
	printk("triple-fault: writing through a NULL pointer\n");
	do_null_write();
	printk("triple-fault: ERROR: the NULL write did not fault\n");
	xen_crash();
}
