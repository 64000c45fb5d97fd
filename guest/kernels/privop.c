/*
 * Privileged instruction at CPL3 that Xen does not emulate for a PV
 * kernel: lidt, as a native kernel loads its IDT (a PV kernel registers a
 * trap table instead). A PV kernel runs in ring 3, so this is a #GP, and
 * with no trap table the guest cannot take it.
 */
#include <hypercall.h>
#include <kernel.h>
#include <page.h>

PVSIM_DESCRIPTION("executes lidt at CPL3: a #GP Xen does not emulate, which the guest cannot take");

struct desc_ptr {
	unsigned short size;
	unsigned long address;
} __attribute__((packed));

static noinline __attribute__((noclone)) void native_load_idt(const struct desc_ptr *dtr)
{
	asm volatile("lidt %0" : : "m" (*dtr));
}

void kernel_main(void)
{
	static const struct desc_ptr idt = { .size = 4095, .address = 0 };

	/*
	 * trap_init() registered handlers for every exception, which would
	 * turn the #GP into an oops: clear the table so that nothing can
	 * take it.
	 */
	HYPERVISOR_set_trap_table(NULL);

	printk("privop: loading the IDT from ring 3\n");
	native_load_idt(&idt);
	printk("privop: ERROR: lidt did not fault\n");
	xen_crash();
}
