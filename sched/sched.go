// Package sched is the vocabulary of deterministic scheduling that the VMM
// and the explorer share: a scheduling point, as the VMM offers it at an
// exit before handling it, and a Scheduler, which names the vCPU that runs
// next. hv asks; explore decides.
//
// In a deterministic domain (hv.Config.Scheduler set) the vCPUs run one at
// a time: the vCPU holding the CPU runs until its next exit, and at each
// scheduling point the Scheduler names the vCPU that runs next. A point is
// any exit the guest makes on purpose or by faulting, taken before the
// hypervisor handles it: every hypercall but trace marks (which only
// annotate), and every exception. What runs between two points is one
// vCPU's guest code alone, so the sequence of decisions, the schedule,
// fixes the whole run: the same schedule gives the same exits, the same
// memory, the same trace.
//
// The guest's time comes from the hypervisor too. The pvclock publishes a
// logical clock that advances at every point and a TSC scale of zero, and
// the trace stamps events with the logical clock instead of wall time.
// Guest busy-waits must exit (SCHEDOP_yield): a guest learns it runs
// deterministically from the pvsim feature bit xen.PVSimFeatDeterministic.
package sched

import (
	"fmt"

	"github.com/pvsim/pvsim/fingerprint"
	"github.com/pvsim/pvsim/trace"
)

// VCPUMask is a set of vCPUs, bit i for vCPU i (ptops.VCPUMask).
type VCPUMask = uint64

// maxVCPUs bounds the vCPU ids a mask can name.
const maxVCPUs = 64

// Scheduler decides who runs at each scheduling point of a deterministic
// domain. Next is called on the thread of the vCPU at the point, one call
// at a time; it returns the id of a vCPU in p.Runnable.
type Scheduler interface {
	Next(p *Point) int
}

// Point is one scheduling point.
type Point struct {
	// Step counts the points of the domain since it booted, from 1.
	Step uint64
	// VCPU is the vCPU at the point: the one that ran up to it.
	VCPU int
	// Kind and Nr are the exit: a hypercall and its number, or a trap and
	// its vector.
	Kind trace.Kind
	Nr   uint16
	// Yield is set for SCHEDOP_yield: the vCPU waits for another.
	Yield bool
	// Label is an explicit point's label (pvsim_op sched_point).
	Label string
	// Runnable are the vCPUs that may run next: those that are up.
	Runnable VCPUMask
	// State names the domain's state at the point, when the domain keeps
	// fingerprints (hv.Config.Fingerprint): equal states have the same
	// future. Zero otherwise.
	State fingerprint.Digest
}

// DefaultNext is the schedule without decisions: the vCPU at the point
// runs on, unless it yields, when the next runnable vCPU after it does.
func DefaultNext(p *Point) int {
	if !p.Yield {
		return p.VCPU
	}
	for i := 1; i <= maxVCPUs; i++ {
		if c := (p.VCPU + i) % maxVCPUs; p.Runnable&(1<<c) != 0 {
			return c
		}
	}
	return p.VCPU
}

// Default takes no decisions: DefaultNext at every point.
type Default struct{}

// Next implements Scheduler.
func (Default) Next(p *Point) int { return DefaultNext(p) }

// Error reports a scheduler that chose a vCPU that cannot run.
type Error struct {
	Step     uint64
	VCPU     int
	Runnable VCPUMask
}

func (e *Error) Error() string {
	return fmt.Sprintf("schedule: at step %d it chose vCPU %d, which is not up (runnable %#x)", e.Step, e.VCPU, uint64(e.Runnable))
}
