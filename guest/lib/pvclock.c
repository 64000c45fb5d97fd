/* The pvclock scale, and busy-waits built on it. */
#include <compiler.h>
#include <delay.h>
#include <processor.h>
#include <pvclock.h>
#include <xen/hypervisor.h>

/* The fallback when there is no clock: a pause takes some tens of ns. */
#define NS_PER_PAUSE	32

/*
 * Reads this vCPU's scale; the version is odd while the hypervisor
 * changes it, and changes when it did.
 */
static void pvclock_read_scale(u32 *mul, s8 *shift)
{
	struct vcpu_time_info *t = &xen_vcpu_info()->time;
	u32 version;

	do {
		version = READ_ONCE(t->version);
		barrier();
		*mul = READ_ONCE(t->tsc_to_system_mul);
		*shift = READ_ONCE(t->tsc_shift);
		barrier();
	} while ((version & 1) || version != READ_ONCE(t->version));
}

bool pvclock_present(void)
{
	u32 mul;
	s8 shift;

	pvclock_read_scale(&mul, &shift);
	return mul != 0;
}

u64 pvclock_cycles_to_ns(u64 cycles)
{
	u32 mul;
	s8 shift;

	pvclock_read_scale(&mul, &shift);
	if (!mul)
		return 0;
	if (shift >= 0)
		cycles <<= shift;
	else
		cycles >>= -shift;
	return ((unsigned __int128)cycles * mul) >> 32;
}

void ndelay(u64 ns)
{
	u64 start = rdtsc();

	if (!pvclock_present()) {
		for (ns /= NS_PER_PAUSE; ns; ns--)
			cpu_relax();
		return;
	}
	while (pvclock_cycles_to_ns(rdtsc() - start) < ns)
		cpu_relax();
}

void udelay(u64 us)
{
	ndelay(us * 1000);
}
