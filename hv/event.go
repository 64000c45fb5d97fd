package hv

import (
	"encoding/binary"
	"fmt"

	"github.com/pvsim/pvsim/evtchn"
	"github.com/pvsim/pvsim/hvimage"
	"github.com/pvsim/pvsim/internal/kvm"
	"github.com/pvsim/pvsim/traps"
	"github.com/pvsim/pvsim/x86"
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

// upcallFrameWords is the length of the event callback's frame.
const upcallFrameWords = 7

// upcall, if the vCPU has events to take, writes the event callback's
// frame for a guest that was to resume at rip with rsp, rflags, rcx and
// r11, masks upcalls, and returns where the guest resumes instead (the
// callback, on the frame). ok is false when there is nothing to deliver;
// the domain ends (stop) if the frame cannot be written.
func (v *vcpu) upcall(rip, rsp, rflags, rcx, r11 uint64) (cb, sp, fl uint64, ok bool, out outcome) {
	cb = v.traps.callbacks.Event
	shared := v.d.evtchn.Shared()
	if cb == 0 || !shared.EventsNeedDelivery(v.id) {
		return 0, 0, 0, false, resume
	}
	// The mask is clear, or there would be nothing to deliver: the frame
	// saves it as 0, and IF set.
	sp = rsp&^15 - upcallFrameWords*8
	buf := v.traps.upcallBuf[:]
	for i, w := range [upcallFrameWords]uint64{rcx, r11, rip, xen.FlatRing3CS64 &^ 3, rflags | x86.FlagIF, rsp, xen.FlatRing3SS64} {
		binary.LittleEndian.PutUint64(buf[i*8:], w)
	}
	if err := v.writeGuest(sp, buf); err != nil {
		return 0, 0, 0, false, v.fatal(TripleFault, rip, fmt.Sprintf("an event upcall's frame at %#x is not writable, so it cannot be delivered", sp))
	}
	shared.SetUpcallMask(v.id, true)
	v.stats.Upcalls++
	fl = rflags&^(x86.FlagTF|x86.FlagNT|x86.FlagRF|x86.FlagAC|x86.FlagVM) | x86.FlagIF | x86.FlagRes1
	return cb, sp, fl, true, resume
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
	case v.hc.bySyscall && nr != xen.HypercallIret && preempted:
		rflags = r11 // back to the syscall, which restarts it
	case v.hc.bySyscall && nr != xen.HypercallIret:
		rip, rflags = rcx, r11
	}
	cb, sp, fl, ok, out := v.upcall(rip, rsp, rflags, rcx, r11)
	if ok {
		v.exec.ResumeAt(cb, sp, fl)
	}
	return out
}

// upcallAfterTrap delivers events on the way back from a trap: the entry
// stub's frame says where the guest resumes; it is pointed at the
// callback instead.
func (v *vcpu) upcallAfterTrap() outcome {
	f := v.traps.frame
	rip, rsp := v.stackGet(f+hvimage.FrameRIP), v.stackGet(f+hvimage.FrameRSP)
	rflags := v.stackGet(f + hvimage.FrameRFLAGS)
	cb, sp, fl, ok, out := v.upcall(rip, rsp, rflags, v.run.Regs.RCX, v.run.Regs.R11)
	if ok {
		v.stackPut(f+hvimage.FrameRIP, cb)
		v.stackPut(f+hvimage.FrameRSP, sp)
		v.stackPut(f+hvimage.FrameRFLAGS, fl)
	}
	return out
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
	cb, sp, fl, ok, out := v.upcall(rip, rsp, rflags, r.Regs.RCX, r.Regs.R11)
	if ok {
		r.Regs.RIP, r.Regs.RSP, r.Regs.RFLAGS, r.Regs.RAX = cb, sp, fl, rax
		r.DirtyRegs |= kvm.SyncRegs
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
