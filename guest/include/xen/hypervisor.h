/*
 * The shared info page: the hypervisor's per-domain and per-vCPU state
 * that the guest reads in memory rather than through hypercalls.
 */
#ifndef _XEN_HYPERVISOR_H
#define _XEN_HYPERVISOR_H

#include <compiler.h>
#include <smp.h>
#include <xen/xen.h>

/*
 * The shared info page through the linear map, once xen_setup_shared_info()
 * has found it; until then, and if the hypervisor provides none, a zeroed
 * stand-in.
 */
extern struct shared_info *HYPERVISOR_shared_info;

/* Maps start_info->shared_info; called from start_kernel(). */
void xen_setup_shared_info(void);

/* This vCPU's slot in the shared info page. */
static inline struct vcpu_info *xen_vcpu_info(void)
{
	return &HYPERVISOR_shared_info->vcpu_info[smp_processor_id()];
}

/*
 * CR2 of the last page fault delivered to this vCPU. A PV kernel cannot
 * read %cr2; the hypervisor leaves its value in vcpu_info.
 */
static inline unsigned long xen_read_cr2(void)
{
	return READ_ONCE(xen_vcpu_info()->arch.cr2);
}

#endif /* _XEN_HYPERVISOR_H */
