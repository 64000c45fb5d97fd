package hv

import (
	"github.com/pvsim/pvsim/internal/kvm"
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/x86"
	"github.com/pvsim/pvsim/xen"
)

// vcpu_op (vcpu.h): bringing secondary vCPUs up; and set_segment_base
// (xen.h), the PV kernel's way to set FS and GS bases.

// vcpuOp: HYPERVISOR_vcpu_op(cmd, vcpuid, extra_args).
func (v *vcpu) vcpuOp(a *hypercallArgs) uint64 {
	cmd, id, arg := a[0], a[1], a[2]
	if id >= uint64(len(v.d.vcpus)) {
		return xen.ENOENT.Ret()
	}
	t := v.d.vcpus[id]
	switch cmd {
	case xen.VCPUOpIsUp:
		if t.state.Load() == Up {
			return 1
		}
		return 0
	case xen.VCPUOpInitialise:
		if err := t.initialise(v, arg); err != nil {
			return errRet(err)
		}
		return 0
	case xen.VCPUOpUp:
		t.startMu.Lock()
		defer t.startMu.Unlock()
		switch t.state.Load() {
		case Up:
			return 0
		case Down:
			return xen.EINVAL.Ret()
		}
		t.state.Store(Up)
		close(t.upCh)
		return 0
	}
	return xen.ENOSYS.Ret()
}

// initialise reads a struct vcpu_guest_context at ctx in caller's address
// space and makes it t's starting state (VCPUOP_initialise). Selectors are
// forced to the flat ring-3 ones; the CR3 must be a pagetable the domain may
// run on.
func (t *vcpu) initialise(caller *vcpu, ctx uint64) error {
	t.startMu.Lock()
	defer t.startMu.Unlock()
	if t.state.Load() != Down {
		return xen.EEXIST
	}
	rd := func(off int) (uint64, error) { return caller.readGuest64(ctx + uint64(off)) }
	var regs = []struct {
		off int
		dst *uint64
	}{
		{xen.UserRegsR15, &t.start.regs.R15}, {xen.UserRegsR14, &t.start.regs.R14}, {xen.UserRegsR13, &t.start.regs.R13},
		{xen.UserRegsR12, &t.start.regs.R12}, {xen.UserRegsRBP, &t.start.regs.RBP}, {xen.UserRegsRBX, &t.start.regs.RBX},
		{xen.UserRegsR11, &t.start.regs.R11}, {xen.UserRegsR10, &t.start.regs.R10}, {xen.UserRegsR9, &t.start.regs.R9},
		{xen.UserRegsR8, &t.start.regs.R8}, {xen.UserRegsRAX, &t.start.regs.RAX}, {xen.UserRegsRCX, &t.start.regs.RCX},
		{xen.UserRegsRDX, &t.start.regs.RDX}, {xen.UserRegsRSI, &t.start.regs.RSI}, {xen.UserRegsRDI, &t.start.regs.RDI},
		{xen.UserRegsRIP, &t.start.regs.RIP}, {xen.UserRegsRFLAGS, &t.start.regs.RFLAGS}, {xen.UserRegsRSP, &t.start.regs.RSP},
	}
	for _, r := range regs {
		val, err := rd(xen.VCPUCtxUserRegs + r.off)
		if err != nil {
			return err
		}
		*r.dst = val
	}
	// The guest cannot take IOPL or leave IF clear; reserved bit 1 is set.
	t.start.regs.RFLAGS = t.start.regs.RFLAGS&(x86.ArithFlags|x86.FlagDF) | x86.FlagIF | x86.FlagRes1
	if !guestAddress(t.start.regs.RIP) {
		return xen.EINVAL
	}
	cr3, err := rd(xen.VCPUCtxCtrlReg + 3*8)
	if err != nil {
		return err
	}
	if cr3&(mmu.PageSize-1) != 0 {
		return xen.EINVAL
	}
	fs, err := rd(xen.VCPUCtxFSBase)
	if err != nil {
		return err
	}
	gs, err := rd(xen.VCPUCtxGSBaseKernel)
	if err != nil {
		return err
	}
	gsu, err := rd(xen.VCPUCtxGSBaseUser)
	if err != nil {
		return err
	}
	if !mmu.Canonical(fs) || !mmu.Canonical(gs) || !mmu.Canonical(gsu) {
		return xen.EINVAL
	}
	// The new vCPU's CR3 holds an L4 type reference, as NEW_BASEPTR's does.
	c := caller.lockMMU("vcpu_op(VCPUOP_initialise)")
	if err = c.FT.GetPageAndType(cr3>>mmu.PageShift, mmu.TypeL4, c.X); err == nil {
		t.start.cr3, t.start.fsBase, t.start.gsBase, t.start.gsBaseUser = cr3, fs, gs, gsu
		t.state.Store(Initialised)
	}
	caller.unlockMMU()
	return err
}

// setSegmentBase: HYPERVISOR_set_segment_base(which, base).
func (v *vcpu) setSegmentBase(a *hypercallArgs) uint64 {
	which, base := a[0], a[1]
	if !mmu.Canonical(base) {
		return xen.EINVAL.Ret()
	}
	s := &v.run.Sregs
	switch which {
	case xen.SegBaseFS:
		s.FS.Base = base
	case xen.SegBaseGSKernl:
		s.GS.Base = base // the guest always runs in kernel mode so far
	case xen.SegBaseGSUser:
		v.start.gsBaseUser = base
		return 0
	default:
		return xen.EINVAL.Ret()
	}
	v.run.DirtyRegs |= kvm.SyncSregs
	return 0
}
