/*
 * Batching hypercalls into multicalls, as Linux's arch/x86/xen/multicalls.h
 * (2.6.24; 2.6.23 without callbacks): a CPU opens a batch, queues entries
 * into its buffer, which is issued as one HYPERVISOR_multicall when it
 * fills or when the batch is issued; callbacks run after the multicall
 * that carried the entries queued before them.
 */
#ifndef _XEN_MULTICALLS_H
#define _XEN_MULTICALLS_H

#include <types.h>
#include <xen/xen.h>

/* Room for one entry and its argument space (the mmuext_op, say). */
struct multicall_space {
	struct multicall_entry *mc;
	void *args;
};

/* Open a batch on this CPU. */
void xen_mc_batch(void);

/*
 * Queue an entry with args bytes of argument space, issuing the buffer
 * first if either is full.
 */
struct multicall_space __xen_mc_entry(size_t args);

/* Issue the buffer now; a failed entry is a BUG. */
void xen_mc_flush(void);

/*
 * Close the batch. Linux issues it unless the CPU is in the lazy mode
 * given; this kernel has no lazy modes, so it always issues.
 */
void xen_mc_issue(unsigned int mode);

/* Run fn(data) once the multicall carrying what is queued so far ran. */
void xen_mc_callback(void (*fn)(void *), void *data);

#endif /* _XEN_MULTICALLS_H */
