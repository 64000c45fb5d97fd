/*
 * Time from Xen's pvclock: the hypervisor puts in each vCPU's vcpu_info
 * the scale that turns time-stamp counter ticks into nanoseconds.
 */
#ifndef _PVCLOCK_H
#define _PVCLOCK_H

#include <types.h>

/*
 * Nanoseconds in cycles TSC ticks, scaled as pvclock does; 0 when the
 * hypervisor publishes no scale (tsc_to_system_mul 0): then there is no
 * clock, and every time reads 0.
 */
u64 pvclock_cycles_to_ns(u64 cycles);

/* Whether the hypervisor publishes a clock. */
bool pvclock_present(void);

#endif /* _PVCLOCK_H */
