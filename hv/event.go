package hv

import (
	"encoding/binary"

	"github.com/pvsim/pvsim/evtchn"
	"github.com/pvsim/pvsim/hvimage"
	"github.com/pvsim/pvsim/internal/kvm"
	"github.com/pvsim/pvsim/traps"
	"github.com/pvsim/pvsim/xen"
)

// Event delivery (Xen's x86_64 test_guest_events and create_bounce_frame
// for the event callback): when a vCPU's evtchn_upcall_pending is set and
// its evtchn_upcall_mask clear, and the guest registered an event
// callback, the vCPU is sent there on its way back to the guest, with
// upcalls masked and, on its stack, the frame Xen writes for a 64-bit PV
// kernel: RCX, R11, RIP, CS (the saved upcall mask in bits 32..39),
// RFLAGS (IF the inverse of the saved mask), RSP, SS. HYPERVISOR_iret
// restores the mask from the frame's IF. Events reach a vCPU on its way
// back from a hypercall or a trap, and a vCPU running guest code is
// kicked out of it to take them (its registers are then the guest's).

// raiseVIRQ raises virq on vCPU vcpu (a per-vCPU virq) or the domain, and
// makes the notified vCPU take it.
func (d *Domain) raiseVIRQ(virq uint32, vcpu int) {
	d.notified(d.evtchn.RaiseVIRQ(virq, vcpu))
}

// notified makes the vCPU an event was set pending for take it: kicked
// out of the guest if the event raised an upcall, woken if it is blocked
// or polling.
func (d *Domain) notified(e evtchn.Delivery) {
	if e.VCPU < 0 || e.VCPU >= len(d.vcpus) {
		return
	}
	t := d.vcpus[e.VCPU]
	if e.Upcall {
		t.kick()
		return
	}
	t.wakeUp()
}

// wakeUp wakes the vCPU if it is blocked (SCHEDOP_block or SCHEDOP_poll).
// Any thread may call it.
func (v *vcpu) wakeUp() {
	select {
	case v.wake <- struct{}{}:
	default:
	}
}

// upcall, if the vCPU has events to take, bounces it to the event
// callback from context c (the registers it was to resume with; CS, SS
// and the mode are filled in here): the frame is written, upcalls masked,
// the vCPU in kernel mode, and the bounce says where it resumes. ok is
// false when there is nothing to deliver; the domain ends (stop) if the
// frame cannot be written.
func (v *vcpu) upcall(c *traps.Context) (b *traps.Bounce, ok bool, out outcome) {
	cb := v.traps.callbacks.Event
	shared := v.d.evtchn.Shared()
	if cb == 0 || !shared.EventsNeedDelivery(v.id) {
		return nil, false, resume
	}
	// The mask is clear, or there would be nothing to deliver.
	c.CS, c.SS = v.segments()
	c.UpcallMasked, c.Mode = false, v.mode()
	b = &v.traps.upcall
	b.Build(c, cb, 0, false, true)
	if !v.writeBounce(b, c.RIP, nil) {
		return nil, false, stop
	}
	v.stats.Upcalls++
	return b, true, resume
}

// upcallAfterHypercall delivers events on the way back from a hypercall:
// the guest resumes where the hypercall returns to (for the syscall
// transport, the caller, with the RFLAGS the syscall saved).
func (v *vcpu) upcallAfterHypercall(nr uint32, preempted bool) outcome {
	rip, rsp, rflags, rcx := v.exec.Guest()
	r11 := v.hc.r11
	switch {
	case nr == xen.HypercallIret:
		r11 = v.run.Regs.R11 // as the iret frame left it
	case v.hc.bySyscall && preempted:
		rflags = r11 // back to the syscall, which restarts it
	case v.hc.bySyscall:
		rip, rflags = rcx, r11
	}
	wasUser := v.guestMode.user
	c := &v.traps.upcallCtx
	*c = traps.Context{RIP: rip, RSP: rsp, RFLAGS: rflags, RCX: rcx, R11: r11}
	b, ok, out := v.upcall(c)
	if ok {
		v.exec.ResumeAt(b.RIP, b.SP, b.RFLAGS)
		if wasUser {
			v.kernelSegments()
		}
	}
	return out
}

// upcallAfterTrap delivers events on the way back from a trap: the entry
// stub's frame says where the guest resumes; it is pointed at the
// callback instead.
func (v *vcpu) upcallAfterTrap() outcome {
	f := v.traps.frame
	c := &v.traps.upcallCtx
	*c = traps.Context{RIP: v.stackGet(f + hvimage.FrameRIP), RSP: v.stackGet(f + hvimage.FrameRSP),
		RFLAGS: v.stackGet(f + hvimage.FrameRFLAGS), RCX: v.run.Regs.RCX, R11: v.run.Regs.R11}
	b, ok, out := v.upcall(c)
	if ok {
		v.setTrapReturn(b)
	}
	return out
}

// setTrapReturn points the entry stub's frame, which its iretq returns
// through, at bounce b.
func (v *vcpu) setTrapReturn(b *traps.Bounce) {
	for _, w := range [...]struct{ off, val uint64 }{
		{hvimage.FrameRIP, b.RIP}, {hvimage.FrameCS, b.CS}, {hvimage.FrameRFLAGS, b.RFLAGS},
		{hvimage.FrameRSP, b.SP}, {hvimage.FrameSS, b.SS},
	} {
		v.stackPut(v.traps.frame+w.off, w.val)
	}
}

// upcallBeforeEntry delivers events to a vCPU about to enter guest code
// at CPL3 with nothing of its own to deliver first: one kicked out of the
// guest, whose registers are the guest's. A vCPU stopped in the syscall
// entry takes them as if at its syscall (before the hypercall) or back at
// the caller (after it): the guest cannot return into that page.
func (v *vcpu) upcallBeforeEntry() outcome {
	r := v.run
	if v.traps.callbacks.Event == 0 || !v.d.evtchn.Shared().EventsNeedDelivery(v.id) ||
		v.exec.Parked() || !v.exec.CanEnter() || r.Sregs.CS.DPL != 3 || kvm.Pending(&r.Events) {
		return resume
	}
	rip, rsp, rflags, rax := r.Regs.RIP, r.Regs.RSP, r.Regs.RFLAGS, r.Regs.RAX
	if stop, ok := hvimage.SyscallStopAt(rip); ok {
		switch {
		case stop.Before:
			rip, rflags = r.Regs.RCX-2, r.Regs.R11
		default:
			if stop.RAXOnStack {
				var err error
				if rax, err = v.readGuest64(rsp); err != nil {
					return resume // at the next exit, then
				}
			}
			rip, rsp = r.Regs.RCX, rsp+stop.Pushed
			if stop.FlagsPending {
				rflags = r.Regs.R11
			}
		}
	} else if !traps.GuestAddress(rip) {
		return resume
	}
	wasUser := v.guestMode.user
	c := &v.traps.upcallCtx
	*c = traps.Context{RIP: rip, RSP: rsp, RFLAGS: rflags, RCX: r.Regs.RCX, R11: r.Regs.R11}
	b, ok, out := v.upcall(c)
	if ok {
		r.Regs.RIP, r.Regs.RSP, r.Regs.RFLAGS, r.Regs.RAX = b.RIP, b.SP, b.RFLAGS, rax
		r.DirtyRegs |= kvm.SyncRegs
		if wasUser {
			v.kernelSegments()
		}
	}
	return out
}

// block is SCHEDOP_block, Xen's vcpu_block_enable_events: events are
// unmasked, and unless one is already there to take the vCPU sleeps until
// one arrives (or it is woken for another reason: the guest must check
// why it woke, as Linux's idle loop does). In a deterministic domain it
// returns at once, a yield: the scheduler moves on at the exit.
func (v *vcpu) block() uint64 {
	shared := v.d.evtchn.Shared()
	shared.SetUpcallMask(v.id, false)
	if v.d.det != nil || shared.EventsNeedDelivery(v.id) {
		return 0
	}
	v.sleep(func() bool { return shared.EventsNeedDelivery(v.id) })
	return 0
}

// sleep waits until ready or a wake-up: an event, a timer, a TLB flush to
// serve (the caller returns to the guest, which serves it), or the end of
// the domain.
func (v *vcpu) sleep(ready func() bool) {
	v.stats.Blocks++
	for !ready() {
		if _, ok := v.flush.Pending(); ok {
			return
		}
		select {
		case <-v.wake:
		case <-v.d.stopCh:
			return
		}
		if v.polling.Load() && v.pollExpired() {
			return
		}
	}
}

// poll is SCHEDOP_poll, Xen's do_poll: -EINVAL for more than 128 ports
// or a port that is not valid, -EFAULT for an unreadable array; it
// returns at once if one of the ports is pending, else sleeps until one
// is or the timeout (absolute system time, 0 for none) passes.
func (v *vcpu) poll(arg uint64) uint64 {
	b := v.hc.buf[:xen.SchedPollSize]
	if err := v.readGuest(b, arg); err != nil {
		return errRet(err)
	}
	ports := binary.LittleEndian.Uint64(b[xen.SchedPollPorts:])
	n := binary.LittleEndian.Uint32(b[xen.SchedPollNrPorts:])
	timeout := binary.LittleEndian.Uint64(b[xen.SchedPollTimeout:])
	if n > xen.SchedPollMaxPorts {
		return xen.EINVAL.Ret()
	}
	pb := v.hc.buf[xen.SchedPollSize : xen.SchedPollSize+4*n]
	if err := v.readGuest(pb, ports); err != nil {
		return errRet(err)
	}
	shared := v.d.evtchn.Shared()
	pending := func() bool {
		for i := range n {
			if shared.Pending(evtchn.Port(binary.LittleEndian.Uint32(pb[4*i:]))) {
				return true
			}
		}
		return false
	}
	for i := range n {
		if !v.d.evtchn.Valid(evtchn.Port(binary.LittleEndian.Uint32(pb[4*i:]))) {
			return xen.EINVAL.Ret()
		}
	}
	if pending() || v.d.det != nil {
		return 0
	}
	v.polling.Store(true)
	v.setPollTimeout(timeout)
	if timeout == 0 || timeout > v.systemTime() {
		v.sleep(pending)
	}
	v.setPollTimeout(0)
	v.polling.Store(false)
	return 0
}
