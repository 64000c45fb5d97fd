/*
 * pvsim_op, pvsim's extension hypercall: what the race strategies and the
 * measurements need from the hypervisor and Xen does not offer. A kernel
 * probes for each operation with XENVER_get_features on pvsim's own
 * submap, and copes with a hypervisor that has none of them.
 */
#ifndef _XEN_PVSIM_H
#define _XEN_PVSIM_H

#include <compiler.h>
#include <hypercall.h>
#include <types.h>

/* pvsim's extension hypercall; Xen's own numbers end below 64. */
#define __HYPERVISOR_pvsim_op			64

/*
 * XENVER_get_features (cmd 6) with this submap_idx answers pvsim's
 * feature bits instead of Xen's.
 */
#define PVSIM_FEATURES_SUBMAP			0x7076736d	/* "pvsm" */
#define PVSIMFEAT_test_and_clear_pte_flags	0
#define PVSIMFEAT_pagetable_pending		1
#define PVSIMFEAT_trace_mark			2
#define PVSIMFEAT_exit_counters			3
/*
 * The domain runs under pvsim's deterministic scheduler: vCPUs run one at
 * a time and switch only at exits, so a busy-wait that never exits never
 * lets another vCPU run.
 */
#define PVSIMFEAT_deterministic			4

/*
 * (machine address of an L1 entry, mask): atomically against the MMU
 * setting A and D, entry &= ~mask. Returns old & mask, or -errno.
 */
#define PVSIMOP_test_and_clear_pte_flags	1
/*
 * (unsigned long mfns[], count <= PVSIM_MAX_PENDING, 1 or 0): announce
 * that the frames are becoming pagetables, or withdraw that. A faulting
 * write to an announced frame that is not a pagetable in use is emulated
 * instead of bounced.
 */
#define PVSIMOP_pagetable_pending		2
/* (static label, number): a mark in the hypervisor's exit trace. */
#define PVSIMOP_trace_mark			3
/*
 * (mfn): the hypervisor keeps vCPU n's count of VM exits as the u64 at
 * offset 8 * n of that frame, which it keeps for good.
 */
#define PVSIMOP_register_exit_counters		4
/*
 * (static label, number): an explicit scheduling point. In a
 * deterministic domain the scheduler may switch vCPUs here; elsewhere it
 * is a no-op returning 0.
 */
#define PVSIMOP_sched_point			5
/*
 * (): the domain's state here, with only the calling vCPU up, is the
 * same for every schedule, so an explorer may snapshot the domain here
 * and start each schedule from it. Returns 0; -ENOSYS from a hypervisor
 * without it, which callers ignore.
 */
#define PVSIMOP_snapshot_point			6

#define PVSIM_MAX_PENDING			512
#define PVSIM_MAX_LABEL				63

static inline long HYPERVISOR_pvsim_op(int cmd, unsigned long a1,
				       unsigned long a2, unsigned long a3)
{
	return _hypercall4(long, pvsim_op, cmd, a1, a2, a3);
}

static inline void MULTI_pvsim_op(struct multicall_entry *mcl, int cmd,
				  unsigned long a1, unsigned long a2,
				  unsigned long a3)
{
	mcl->op = __HYPERVISOR_pvsim_op;
	mcl->args[0] = cmd;
	mcl->args[1] = a1;
	mcl->args[2] = a2;
	mcl->args[3] = a3;
}

/* A result in [-4095, -1] is an error; anything else a value. */
static inline bool pvsim_op_failed(long rc)
{
	return (unsigned long)rc >= (unsigned long)-4095;
}

/* pvsim's feature bits, probed once; 0 from a hypervisor without them. */
u32 pvsim_features(void);

static inline bool pvsim_has_feature(unsigned int bit)
{
	return pvsim_features() & (1U << bit);
}

/*
 * Gives the hypervisor a page for the vCPUs' exit counters, if it takes
 * one; returns whether it did. Until then, and without, counts read 0.
 */
bool pvsim_register_exit_counters(void);

/* This vCPU's VM exits so far, or 0 when nothing counts them. */
u64 pvsim_exits(void);

/*
 * Marks in the hypervisor's exit trace, off until enabled (and only when
 * the hypervisor has them). label must be a string literal: the
 * hypervisor keeps what it read by address.
 */
extern bool pvsim_trace_marks;
bool pvsim_enable_trace_marks(void);
void __trace_mark(const char *label, unsigned long arg);

static inline void trace_mark(const char *label, unsigned long arg)
{
	if (unlikely(pvsim_trace_marks))
		__trace_mark(label, arg);
}

/*
 * Whether the domain runs under the deterministic scheduler
 * (PVSIMFEAT_deterministic), set once at boot before any vCPU can spin;
 * cpu_relax() then yields, since only an exit lets another vCPU run.
 */
extern bool pvsim_deterministic;

/*
 * An explicit scheduling point for the deterministic scheduler, a no-op
 * elsewhere. label must be a string literal, as for trace_mark().
 */
void pvsim_sched_point(const char *label, unsigned long arg);

/*
 * Tells an explorer that the domain's state here, with only this vCPU
 * up, does not depend on the schedule: it may start every schedule from
 * a snapshot taken here.
 */
void pvsim_snapshot_point(void);

#endif /* _XEN_PVSIM_H */
