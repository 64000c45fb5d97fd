/* Spins forever without a hypercall, for the host's hang detection. */
#include <kernel.h>
#include <processor.h>

PVSIM_DESCRIPTION("prints a line, then spins forever in spin_forever() without hypercalls");

static noinline void __noreturn spin_forever(void)
{
	/* Not cpu_relax(): a deterministic domain would make it yield. */
	for (;;)
		rep_nop();
}

void kernel_main(void)
{
	printk("hang: spinning forever\n");
	spin_forever();
}
