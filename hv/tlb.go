package hv

import (
	"sync/atomic"
	"time"
)

// Remote TLB flushes. Xen's flush semantics are implemented for real even
// though shadow paging hides stale-TLB effects: each target vCPU is kicked
// out of KVM_RUN and flushes in its own context, through its executor,
// before the requesting hypercall returns.

// flushState is the vCPU's side of remote TLB flushes (tlb.go). Other
// vCPUs' threads read and write it, atomically.
type flushState struct {
	// A requester bumps gen and kicks; the vCPU flushes in its own context
	// and publishes the generation it served in done.
	gen, done atomic.Uint64
	// A vCPU waiting in flushRemote sleeps on wake (or timer) while
	// waiting is set.
	waiting atomic.Bool
	wake    chan struct{}
	timer   *time.Timer
}

// rekick is how often a requester kicks a target that has not flushed yet:
// a target kicked while it could not enter its executor (at CPL0 in a
// stub, or with an injection pending) needs another kick later.
const rekick = 200 * time.Microsecond

// flushRemote flushes the TLBs of the vCPUs in v.remote and waits until
// they have. The caller holds no lock. It sleeps while it waits, leaving
// the host CPU to the vCPUs it waits for, and wakes when one of them has
// flushed or when another vCPU asks it for a flush, which it then serves,
// so that two vCPUs flushing each other do not deadlock.
func (v *vcpu) flushRemote() {
	targets := v.mm.remote
	v.mm.remote = 0
	if v.d.det != nil {
		// The targets are not running: each flushes before it next runs
		// guest code (serveFlush, or its final batch).
		for _, t := range v.d.vcpus {
			if targets&(1<<t.id) != 0 && t.state.Load() == Up {
				t.flush.gen.Add(1)
			}
		}
		return
	}
	var want [MaxVCPUs]uint64
	v.flush.waiting.Store(true)
	defer v.flush.waiting.Store(false)
	for _, t := range v.d.vcpus {
		if targets&(1<<t.id) != 0 && t.state.Load() == Up {
			want[t.id] = t.flush.gen.Add(1)
			t.kick()
			t.wakeFlushWaiter()
		}
	}
	for {
		pending := false
		for _, t := range v.d.vcpus {
			if want[t.id] != 0 && t.flush.done.Load() < want[t.id] {
				pending = true
			}
		}
		if !pending || v.d.stopping.Load() {
			return
		}
		if v.flush.gen.Load() != v.flush.done.Load() && v.exec.CanEnter() {
			v.serveFlush()
			continue
		}
		v.flush.timer.Reset(rekick)
		select {
		case <-v.flush.wake:
		case <-v.flush.timer.C:
			// A target kicked where it could not flush needs another kick.
			for _, t := range v.d.vcpus {
				if want[t.id] != 0 && t.flush.done.Load() < want[t.id] {
					t.kick()
				}
			}
		case <-v.d.stopCh:
			return
		}
	}
}

// wakeFlushWaiter wakes v if it waits in flushRemote.
func (v *vcpu) wakeFlushWaiter() {
	if v.flush.waiting.Load() {
		select {
		case v.flush.wake <- struct{}{}:
		default:
		}
	}
}

// serveFlush flushes v's TLB for the requests made so far.
func (v *vcpu) serveFlush() {
	gen := v.flush.gen.Load()
	rax := v.run.Regs.RAX // the guest's, unless the executor is running
	wasParked := v.exec.Parked()
	v.exec.FlushTLB()
	v.exec.Round()
	if !wasParked && !v.hc.active && !v.traps.active {
		// Entered only for this: leave with the guest's RAX. Inside a
		// hypercall or a trap the executor stays parked until its end.
		v.exec.Finish(rax)
	}
	v.stats.RemoteFlushes++
	v.flush.done.Store(gen)
	for _, u := range v.d.vcpus {
		u.wakeFlushWaiter()
	}
}
