package hv

// Remote TLB flushes (package tlb): each target vCPU is kicked out of
// KVM_RUN and flushes in its own context, through its executor, before the
// requesting hypercall returns.

// flushRemote flushes the TLBs of the vCPUs in v.mm.remote and waits until
// they have.
//
// Precondition: v holds no lock and has no queued executor stores another
// vCPU may wait for.
func (v *vcpu) flushRemote() {
	targets := v.mm.remote
	v.mm.remote = 0
	var want [MaxVCPUs]uint64
	for _, t := range v.d.vcpus {
		if targets&(1<<t.id) != 0 && t.state.Load() == Up {
			want[t.id] = t.flush.Request()
			if v.d.det == nil {
				t.kick()
				t.flush.Wake()
			}
		}
	}
	if v.d.det != nil {
		// The targets are not running: each flushes before it next runs
		// guest code (serveFlush, or its final batch).
		return
	}
	v.flush.Wait(v.d.flushers, want[:len(v.d.vcpus)], v.kickFn, v.serveFn, v.d.stopCh)
}

// serveFlush flushes v's TLB for the requests made so far.
func (v *vcpu) serveFlush() {
	gen, _ := v.flush.Pending()
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
	v.flush.Served(gen)
	for _, u := range v.d.vcpus {
		u.flush.Wake()
	}
}
