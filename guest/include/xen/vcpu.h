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

#endif /* _XEN_VCPU_H */
