package hv

import (
	"fmt"

	"github.com/pvsim/pvsim/internal/kvm"
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/traps"
	"github.com/pvsim/pvsim/x86"
	"github.com/pvsim/pvsim/xen"
)

// Guest kernel and guest user mode, as Xen's x86-64 PV has them: both run
// at CPL3 and are told apart by the vCPU's mode flag (Xen's
// TF_kernel_mode). Each mode has its own L4 (the kernel's is the base
// pointer, the user's MMUEXT_NEW_USER_BASEPTR's) and its own GS base
// (gs_base_kernel, gs_base_user): toggleMode switches both, as Xen's
// toggle_guest_mode (whose swapgs pvsim does by hand). The guest enters
// user mode by HYPERVISOR_iret to a CS with RPL 3, and comes back to
// kernel mode by an exception, an event upcall or a syscall, bounced to
// its kernel stack (stack_switch).

// modeState is the vCPU's guest mode.
type modeState struct {
	// user is set while the guest runs in user mode.
	user bool
	// userCS and userSS are the selectors the last iret to user mode
	// loaded, for an event's frame. kernelCS
	// and kernelSS are kernel mode's: FLAT_KERNEL_CS and FLAT_KERNEL_SS
	// from every bounce on, or what an iret to kernel mode or
	// VCPUOP_initialise loaded (0 meaning the flat ones).
	userCS, userSS     uint16
	kernelCS, kernelSS uint16
}

// segments are the CS and SS the guest runs on in its current mode.
func (v *vcpu) segments() (cs, ss uint64) {
	m := &v.guestMode
	switch {
	case m.user:
		return uint64(m.userCS), uint64(m.userSS)
	case m.kernelCS != 0:
		return uint64(m.kernelCS), uint64(m.kernelSS)
	}
	return xen.FlatRing3CS64, xen.FlatRing3SS64
}

// mode is the guest mode a bounce from now leaves.
func (v *vcpu) mode() traps.Mode {
	m := traps.Mode{User: v.guestMode.user, KernelSP: v.traps.kernelSP}
	if v.d.assisted(xen.VMAssistArchitecturalIOPL) {
		m.IOPL = uint64(v.priv.iopl) << 12 // create_bounce_frame's VCPU_iopl
	}
	return m
}

// toggleMode switches the vCPU between kernel and user mode, as Xen's
// toggle_guest_mode: the pagetable base and the GS base are the other
// mode's from the next entry on. In kernel mode the hardware GS base is
// the kernel's and v.start.gsBaseUser the user's; in user mode the
// hardware GS base is the user's and v.start.gsBase keeps the kernel's.
//
// Precondition: going to user mode, the vCPU has a user base pointer.
func (v *vcpu) toggleMode() {
	s := &v.run.Sregs
	if v.guestMode.user {
		v.start.gsBaseUser, s.GS.Base = s.GS.Base, v.start.gsBase
		s.CR3 = v.start.cr3
	} else {
		v.start.gsBase, s.GS.Base = s.GS.Base, v.start.gsBaseUser
		s.CR3 = v.start.userBase << mmu.PageShift
	}
	v.guestMode.user = !v.guestMode.user
	v.stats.ModeSwitches++
	v.sregsChanged()
}

// toKernelMode switches a vCPU in user mode to kernel mode, for a bounce;
// in kernel mode it does nothing.
func (v *vcpu) toKernelMode() {
	if v.guestMode.user {
		v.toggleMode()
	}
}

// kernelSegments makes the vCPU's CS and SS the kernel's, FLAT_KERNEL_CS
// and FLAT_KERNEL_SS, for a vCPU resumed straight from the VMM (not
// through an exception stub's iretq, which loads them from its frame).
func (v *vcpu) kernelSegments() {
	v.guestMode.kernelCS, v.guestMode.kernelSS = 0, 0
	s := &v.run.Sregs
	flat := kvm.Segment{Limit: 0xffffffff, Present: 1, DPL: 3, S: 1, G: 1}
	s.CS, s.SS = flat, flat
	s.CS.Selector, s.CS.Typ, s.CS.L = xen.FlatRing3CS64, x86.TypeCodeExecReadAccessed, 1
	s.SS.Selector, s.SS.Typ, s.SS.DB = xen.FlatRing3SS64, x86.TypeDataRWAccessed, 1
	v.sregsChanged()
}

// segment is the segment register sel loads as a CS (code) or SS (not
// code) of the guest, in either mode: from the guest's GDT or LDT, or
// Xen's flat ring-3 selectors; false if the processor would refuse it
// (not present, not DPL 3, a CS that is not code, an SS that is not
// writable data).
func (v *vcpu) segment(sel uint16, code bool) (kvm.Segment, bool) {
	if sel < 4 {
		return kvm.Segment{}, false
	}
	var d uint64
	switch sel | 3 {
	case xen.FlatRing3CS64:
		d = uint64(x86.Code64(3))
	case xen.FlatRing3CS32:
		d = uint64(x86.Code32(3))
	case xen.FlatRing3DS32:
		d = uint64(x86.Data(3))
	default:
		var ok bool
		if d, ok = v.descriptor(sel); !ok {
			return kvm.Segment{}, false
		}
	}
	seg := descriptorSegment(sel, d)
	isCode := seg.S == 1 && seg.Typ&8 != 0
	writable := seg.S == 1 && seg.Typ&8 == 0 && seg.Typ&2 != 0
	if seg.Present == 0 || seg.DPL != 3 || (code && (!isCode || seg.L == 1 && seg.DB == 1)) || (!code && !writable) {
		return kvm.Segment{}, false
	}
	seg.Typ |= 1 // accessed, as the processor marks it
	return seg, true
}

// descriptorSegment decodes segment descriptor d into the segment
// register selector sel loads.
func descriptorSegment(sel uint16, d uint64) kvm.Segment {
	limit := uint32(d&0xffff | d>>32&0xf0000)
	g := uint8(d >> 55 & 1)
	if g == 1 {
		limit = limit<<12 | 0xfff
	}
	return kvm.Segment{
		Base:     d>>16&0xffffff | d>>32&0xff000000,
		Limit:    limit,
		Selector: sel,
		Typ:      uint8(d >> 40 & 0xf),
		S:        uint8(d >> 44 & 1),
		DPL:      uint8(d >> 45 & 3),
		Present:  uint8(d >> 47 & 1),
		AVL:      uint8(d >> 52 & 1),
		L:        uint8(d >> 53 & 1),
		DB:       uint8(d >> 54 & 1),
		G:        g,
	}
}

// enterUserMode is HYPERVISOR_iret's return to user mode on cs and ss:
// the vCPU toggles to user mode and loads them. A vCPU without user
// pagetables, or selectors the processor would not load, ends the domain,
// as in Xen (do_iret's domain_crash; the iretq fault).
func (v *vcpu) enterUserMode(cs, ss uint16) bool {
	if v.start.userBase == 0 {
		v.fatal(DomainCrash, v.hc.caller, "HYPERVISOR_iret to user mode with no user pagetables (MMUEXT_NEW_USER_BASEPTR)")
		return false
	}
	c, okCS := v.segment(cs, true)
	s, okSS := v.segment(ss, false)
	if !okCS || !okSS {
		v.fatal(DomainCrash, v.hc.caller, fmt.Sprintf("HYPERVISOR_iret to user mode on cs %#x, ss %#x, which the processor would not load", cs, ss))
		return false
	}
	v.toggleMode()
	v.run.Sregs.CS, v.run.Sregs.SS = c, s
	v.guestMode.userCS, v.guestMode.userSS = cs, ss
	return true
}

// returnToKernel is HYPERVISOR_iret's return to kernel mode on cs and ss:
// FLAT_KERNEL_CS and FLAT_KERNEL_SS, or selectors of the guest's GDT
// (Linux's secondary vCPUs start on its __KERNEL_CS, which Xen's
// descriptor checks made DPL 3). Selectors the processor would not load
// end the domain.
func (v *vcpu) returnToKernel(cs, ss uint16) bool {
	s := &v.run.Sregs
	switch {
	case s.CS.Selector == cs && s.SS.Selector == ss:
		return true
	case cs == xen.FlatRing3CS64 && ss == xen.FlatRing3SS64:
		v.kernelSegments()
		return true
	}
	c, okCS := v.segment(cs, true)
	d, okSS := v.segment(ss, false)
	if !okCS || !okSS {
		v.fatal(DomainCrash, v.hc.caller, fmt.Sprintf("HYPERVISOR_iret to kernel mode on cs %#x, ss %#x, which the processor would not load", cs, ss))
		return false
	}
	s.CS, s.SS = c, d
	v.guestMode.kernelCS, v.guestMode.kernelSS = cs, ss
	v.sregsChanged()
	return true
}

// userSyscall is a syscall from user mode, which lands in the syscall
// transport's doorbell like a hypercall: Xen's lstar_enter and
// switch_to_kernel. The guest goes to kernel mode and its syscall
// callback, on its kernel stack, with the frame [RCX, R11, RIP, CS,
// RFLAGS, RSP, SS] of the user context at the syscall's return address,
// CS and SS FLAT_USER_CS64 and FLAT_USER_SS (what lstar_enter pushes,
// whatever the user ran on), DF clear and events masked if the callback
// was registered so; with no callback, the syscall raises #UD.
func (v *vcpu) userSyscall() outcome {
	r := &v.run.Regs
	v.stats.UserSyscalls++
	c := &traps.Context{RIP: r.RCX, CS: xen.FlatRing3CS64, RFLAGS: r.R11, RSP: r.RSP, SS: xen.FlatRing3SS64,
		RCX: r.RCX, R11: r.R11, UpcallMasked: v.d.evtchn.Shared().UpcallMasked(v.id), Mode: v.mode()}
	cb := v.traps.callbacks.Syscall
	b := &v.traps.bounce
	if cb == 0 {
		x := &v.traps.exc
		*x = x86.Exception{Vector: x86.VectorUD, RIP: r.RCX - 2, CS: c.CS, RFLAGS: c.RFLAGS, RSP: c.RSP, SS: c.SS}
		if v.deliver(x, r.RCX) == nil {
			return stop
		}
	} else {
		b.Build(c, cb, 0, false, v.traps.callbacks.MaskEvents[xen.CallbackSyscall])
		b.RFLAGS &^= x86.FlagDF
		if !v.writeBounce(b, c.RIP, nil) {
			return stop
		}
	}
	// Events the guest can take now are delivered as the vCPU next
	// enters (upcallBeforeEntry), as Xen's test_all_events after the
	// bounce.
	r.RIP, r.RSP, r.RFLAGS = b.RIP, b.SP, b.RFLAGS
	v.run.DirtyRegs |= kvm.SyncRegs
	v.kernelSegments()
	return resume
}
