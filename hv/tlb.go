package hv

import (
	"runtime"
	"time"
)

// Remote TLB flushes. Xen's flush semantics are implemented for real even
// though shadow paging hides stale-TLB effects: each target vCPU is kicked
// out of KVM_RUN and flushes in its own context, through its executor,
// before the requesting hypercall returns.

// rekick is how often a requester kicks a target that has not flushed yet:
// a target kicked while it could not enter its executor (at CPL0 in a
// stub, or with an injection pending) needs another kick later.
const rekick = 200 * time.Microsecond

// flushRemote flushes the TLBs of the vCPUs in v.remote and waits until
// they have. The caller holds no lock; while it waits it serves requests
// made to v, so that two vCPUs flushing each other do not deadlock.
func (v *vcpu) flushRemote() {
	targets := v.remote
	v.remote = 0
	var want [MaxVCPUs]uint64
	for _, t := range v.d.vcpus {
		if targets&(1<<t.id) != 0 && t.state.Load() == vcpuUp {
			want[t.id] = t.flushGen.Add(1)
			t.kick()
		}
	}
	last := time.Now()
	for {
		pending := false
		for _, t := range v.d.vcpus {
			if want[t.id] != 0 && t.flushDone.Load() < want[t.id] {
				pending = true
				if time.Since(last) > rekick {
					t.kick()
				}
			}
		}
		if !pending || v.d.stopping.Load() {
			return
		}
		if time.Since(last) > rekick {
			last = time.Now()
		}
		if v.flushGen.Load() != v.flushDone.Load() && v.exec.canEnter() {
			v.serveFlush()
		}
		runtime.Gosched()
	}
}

// serveFlush flushes v's TLB for the requests made so far.
func (v *vcpu) serveFlush() {
	gen := v.flushGen.Load()
	rax := v.run.regs.RAX // the guest's, unless the executor is running
	wasParked := v.exec.parked
	v.exec.FlushTLB()
	v.exec.round()
	if !wasParked && !v.inHypercall && !v.inTrap {
		// Entered only for this: leave with the guest's RAX. Inside a
		// hypercall or a trap the executor stays parked until its end.
		v.exec.finish(rax)
	}
	v.stats.RemoteFlushes++
	v.flushDone.Store(gen)
}
