/* vcpu_op hypercall: bring up and query the domain's other vCPUs. */
#ifndef _XEN_VCPU_H
#define _XEN_VCPU_H

#include <xen/xen.h>

/* arg: struct vcpu_guest_context *; sets the initial state of a down vCPU. */
#define VCPUOP_initialise	0
/* arg: NULL; starts an initialised vCPU. */
#define VCPUOP_up		1
/* arg: NULL; stops a vCPU. */
#define VCPUOP_down		2
/* arg: NULL; returns 1 if running, 0 if down, -ENOENT if no such vCPU. */
#define VCPUOP_is_up		3
/* arg: struct vcpu_register_runstate_memory_area *: where Xen keeps the
 * vCPU's struct vcpu_runstate_info. */
#define VCPUOP_register_runstate_memory_area	5
/* arg: struct vcpu_register_vcpu_info *: moves the vCPU's vcpu_info. */
#define VCPUOP_register_vcpu_info	10

/* The timers: each raises VIRQ_TIMER on its vCPU. */
#define VCPUOP_set_periodic_timer	6	/* arg: struct vcpu_set_periodic_timer * */
#define VCPUOP_stop_periodic_timer	7	/* arg: NULL */
#define VCPUOP_set_singleshot_timer	8	/* arg: struct vcpu_set_singleshot_timer *; this vCPU only */
#define VCPUOP_stop_singleshot_timer	9	/* arg: NULL; this vCPU only */

struct vcpu_set_periodic_timer {
	uint64_t period_ns;
};

struct vcpu_set_singleshot_timer {
	uint64_t timeout_abs_ns;	/* system time */
	uint32_t flags;
};
#define VCPU_SSHOTTMR_future	(1U << 0)	/* -ETIME if timeout_abs_ns has passed */

#endif /* _XEN_VCPU_H */
