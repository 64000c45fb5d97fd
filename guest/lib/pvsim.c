/*
 * pvsim_op: feature probing, the exit counters, trace marks and the
 * deterministic scheduler's points.
 */
#include <hypercall.h>
#include <kernel.h>
#include <mm.h>
#include <processor.h>
#include <smp.h>
#include <xen/errno.h>
#include <xen/pvsim.h>
#include <xen/sched.h>
#include <xen/version.h>

bool pvsim_trace_marks;
bool pvsim_deterministic;

static u32 features;
static bool features_probed;
static u64 *exit_counters;

u32 pvsim_features(void)
{
	struct xen_feature_info fi = { .submap_idx = PVSIM_FEATURES_SUBMAP };

	if (!READ_ONCE(features_probed)) {
		if (HYPERVISOR_xen_version(XENVER_get_features, &fi) == 0)
			WRITE_ONCE(features, fi.submap);
		WRITE_ONCE(features_probed, true);
	}
	return READ_ONCE(features);
}

bool pvsim_register_exit_counters(void)
{
	struct page *page;
	long rc;

	if (!pvsim_has_feature(PVSIMFEAT_exit_counters))
		return false;
	/* The hypervisor keeps the frame: it is never freed. */
	page = alloc_page();
	if (!page)
		panic("pvsim: no page for the exit counters");
	rc = HYPERVISOR_pvsim_op(PVSIMOP_register_exit_counters,
				 virt_to_mfn(page_address(page)), 0, 0);
	if (rc) {
		printk("pvsim: register_exit_counters failed: %ld; exits are not counted\n",
		       rc);
		return false;
	}
	WRITE_ONCE(exit_counters, page_address(page));
	return true;
}

u64 pvsim_exits(void)
{
	u64 *counters = READ_ONCE(exit_counters);

	return counters ? READ_ONCE(counters[smp_processor_id()]) : 0;
}

bool pvsim_enable_trace_marks(void)
{
	pvsim_trace_marks = pvsim_has_feature(PVSIMFEAT_trace_mark);
	return pvsim_trace_marks;
}

void __trace_mark(const char *label, unsigned long arg)
{
	long rc = HYPERVISOR_pvsim_op(PVSIMOP_trace_mark,
				      (unsigned long)label, arg, 0);

	/* A hypervisor that stops taking them: stop making them. */
	if (rc == -ENOSYS)
		WRITE_ONCE(pvsim_trace_marks, false);
}

/*
 * cpu_relax() in a deterministic domain: the vCPU that a busy-wait waits
 * for runs only once this one exits, so yield instead of pausing.
 */
void pvsim_cpu_relax(void)
{
	HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
}

/* Hints both: an error, -ENOSYS from a hypervisor without them, is moot. */
void pvsim_sched_point(const char *label, unsigned long arg)
{
	HYPERVISOR_pvsim_op(PVSIMOP_sched_point, (unsigned long)label, arg, 0);
}

void pvsim_snapshot_point(void)
{
	HYPERVISOR_pvsim_op(PVSIMOP_snapshot_point, 0, 0, 0);
}
