package hv

import (
	"encoding/binary"

	"github.com/pvsim/pvsim/internal/kvm"
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/ptops"
	"github.com/pvsim/pvsim/traps"
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
	case xen.VCPUOpDown:
		return v.down(t)
	case xen.VCPUOpRegisterRunstateMemoryArea:
		return v.registerRunstate(t, arg)
	case xen.VCPUOpRegisterVCPUInfo:
		return v.registerVCPUInfo(t, arg)
	case xen.VCPUOpSetPeriodicTimer:
		return v.periodicTimer(t, arg)
	case xen.VCPUOpStopPeriodicTimer:
		t.setPeriodic(0)
		return 0
	case xen.VCPUOpSetSingleshotTimer:
		return v.singleshotTimer(t, arg)
	case xen.VCPUOpStopSingleshotTimer:
		if t != v {
			return xen.EINVAL.Ret()
		}
		v.setSingleshot(0)
		return 0
	}
	return xen.ENOSYS.Ret()
}

// loadUserGS is set_segment_base(SEGBASE_GS_USER_SEL, sel), as Xen's:
// the user GS is loaded with sel (RPL forced to 3 for a selector that is
// not NUL), and its base, the descriptor's, becomes the user GS base. A
// selector the processor would not load (past its table, not present,
// not DPL 3, not data or readable code) loads NUL instead, base 0, and
// the call still succeeds: Linux BUGs if it fails.
func (v *vcpu) loadUserGS(sel uint16) {
	base := uint64(0)
	if sel > 3 {
		if d, ok := v.descriptor(sel | 3); ok {
			if b, ok := mmu.DataLoadable(d); ok {
				base = b
			}
		}
	}
	v.start.gsBaseUser = base
}

// descriptor reads the descriptor sel names: in the guest's GDT (its
// frames, or the flat selectors of Xen's reserved part) or its LDT.
func (v *vcpu) descriptor(sel uint16) (uint64, bool) {
	idx := uint64(sel >> 3)
	if sel&4 != 0 {
		if idx >= uint64(v.start.ldt.Ents) {
			return 0, false
		}
		d, err := v.readGuest64(v.start.ldt.Base + idx*8)
		if err != nil {
			return 0, false
		}
		d, ok := mmu.CheckDescriptor(d)
		return d, ok
	}
	if idx >= xen.FirstReservedGDTByte/8 {
		// Xen's part: its flat ring-3 data selector is the loadable one.
		return uint64(x86.Data(3)), sel|3 == xen.FlatRing3DS32
	}
	if idx >= uint64(v.gdt.Entries) {
		return 0, false
	}
	f := v.d.mem.Frame(v.gdt.Frames[idx/512])
	return binary.LittleEndian.Uint64(f[idx%512*8:]), true
}

// vcpuInfo is where v's vcpu_info is now, as the hypervisor maps it: in
// shared_info, or where the guest moved it.
func (v *vcpu) vcpuInfo() []byte { return v.d.evtchn.Shared().VCPUInfo(v.id) }

// registerVCPUInfo is VCPUOP_register_vcpu_info for t by v, as Xen's
// common_vcpu_op and map_guest_area: t's vcpu_info moves to offset of
// frame mfn, where its contents are copied, and every event is marked
// pending on it. Refused: an offset past the frame (EINVAL), a second
// move (EBUSY), an area across two frames or not 8-byte aligned (ENXIO),
// a frame not the domain's RAM (EINVAL), one that cannot be writable, a
// pagetable (EACCES). The frame keeps a writable type reference for good,
// as Xen holds it until the vCPU is reset.
//
// Xen pauses t while the contents are copied; pvsim copies them while t
// may run, so a CR2 or time update t makes in the same instant may be
// lost.
func (v *vcpu) registerVCPUInfo(t *vcpu, arg uint64) uint64 {
	var b [xen.RegisterVCPUInfoSize]byte
	if err := v.readGuest(b[:], arg); err != nil {
		return errRet(err)
	}
	mfn := binary.LittleEndian.Uint64(b[:])
	off := uint64(binary.LittleEndian.Uint32(b[xen.RegisterVCPUInfoOffset:]))
	gaddr := mfn<<mmu.PageShift + off
	if off >= mmu.PageSize || mfn >= 1<<(64-mmu.PageShift) {
		return xen.EINVAL.Ret()
	}
	c := v.lockMMU("vcpu_op")
	defer v.unlockMMU()
	switch {
	case t.infoAddr != 0:
		return xen.EBUSY.Ret()
	case off+xen.VCPUInfoSize > mmu.PageSize || off%8 != 0:
		return xen.ENXIO.Ret()
	case mfn >= v.d.boot.NrPages:
		return xen.EINVAL.Ret()
	}
	if err := c.FT.HoldWritable(mfn); err != nil {
		return xen.EACCES.Ret()
	}
	t.infoAddr = gaddr
	d := v.d.evtchn.MoveVCPUInfo(t.id, v.d.mem.Frame(mfn)[off:off+xen.VCPUInfoSize])
	if d.Upcall && t != v {
		t.kick()
	}
	return 0
}

// registerRunstate is VCPUOP_register_runstate_memory_area for t by v:
// the address (0 for none) where t's vcpu_runstate_info is kept, written
// at once, as Xen's update_runstate_area writes it (a copy that faults is
// not an error). A vCPU of pvsim is running whenever it is up (no vCPU
// blocks or waits for a physical CPU), so the record is the one Xen keeps
// for a vCPU that has run since it came up: running since its entry time,
// nothing else, and it needs no update until the vCPU stops.
func (v *vcpu) registerRunstate(t *vcpu, arg uint64) uint64 {
	va, err := v.readGuest64(arg)
	if err != nil {
		return errRet(err)
	}
	if !mmu.GuestRange(va, xen.RunstateInfoSize) {
		return xen.EFAULT.Ret()
	}
	t.runstate = va
	if va == 0 {
		return 0
	}
	now := uint64(v.d.now())
	var b [xen.RunstateInfoSize]byte
	state := uint32(xen.RunstateRunning)
	if t.state.Load() != Up {
		state = xen.RunstateOffline
	}
	binary.LittleEndian.PutUint32(b[:], state)
	binary.LittleEndian.PutUint64(b[xen.RunstateEntryTime:], now)
	binary.LittleEndian.PutUint64(b[xen.RunstateTime+8*int(state):], now)
	_ = v.writeGuest(va, b[:])
	return 0
}

// down is VCPUOP_down of t by v. pvsim takes down only the last vCPU
// that is up, itself: in Xen the domain then has nothing left to run and
// stays so, with no shutdown; pvsim ends it, saying so, rather than wait
// for the timeout. Taking down one vCPU of several (CPU hot-unplug) is
// ENOSYS.
func (v *vcpu) down(t *vcpu) uint64 {
	if t != v {
		return xen.ENOSYS.Ret()
	}
	for _, u := range v.d.vcpus {
		if u != v && u.state.Load() == Up {
			return xen.ENOSYS.Ret()
		}
	}
	v.fatal(AllVCPUsDown, v.hc.caller, "the guest took its last vCPU down (VCPUOP_down) without a shutdown: it stopped itself, as after a panic")
	return 0
}

// initialise reads a struct vcpu_guest_context at ctx in caller's address
// space and makes it t's starting state (VCPUOP_initialise), as Xen's
// arch_set_info_guest for a 64-bit PV vCPU: the registers and the
// selectors of user_regs (RPL forced to 3), the virtual IDT, the LDT, the
// GDT frames, the kernel stack, the kernel and user pagetable bases
// (ctrlreg[3], ctrlreg[1]), the event, failsafe and syscall callbacks
// with the flags that make the last two mask events, the FS and GS bases,
// and IOPL from RFLAGS as the virtual IOPL. Refused with EINVAL,
// changing nothing: a non-canonical address among them, an LDT or GDT
// Xen would refuse, a context not in kernel mode (VGCF_in_kernel clear,
// which Xen accepts: pvsim starts vCPUs in kernel mode only), a base that
// cannot be an L4. The FPU state and the debug registers are not loaded
// (pvsim keeps neither per vCPU).
func (t *vcpu) initialise(caller *vcpu, ctx uint64) error {
	t.startMu.Lock()
	defer t.startMu.Unlock()
	if t.state.Load() != Down {
		return xen.EEXIST
	}
	var b [xen.VCPUCtxSize]byte
	if err := caller.readGuest(b[:], ctx); err != nil {
		return err
	}
	// Decode into a copy: a refused context leaves t as it was.
	vc := &vcpuContext{start: t.start}
	if err := vc.decode(&b); err != nil {
		return err
	}
	st := vc.start

	c := caller.lockMMU("vcpu_op(VCPUOP_initialise)")
	defer caller.unlockMMU()
	// The bases hold L4 type references, as NEW_BASEPTR's and
	// NEW_USER_BASEPTR's do.
	if err := c.FT.GetPageAndType(st.cr3>>mmu.PageShift, mmu.TypeL4, c.X); err != nil {
		return err
	}
	if st.userBase != 0 {
		if err := c.FT.GetPageAndType(st.userBase, mmu.TypeL4, c.X); err != nil {
			c.FT.PutPageAndType(st.cr3 >> mmu.PageShift)
			return err
		}
	}
	st.ldt = ptops.LDT{}
	if vc.ldtEnts != 0 {
		lc := *c
		lc.LDT = &st.ldt
		if err := ptops.SetLDT(&lc, vc.ldtBase, uint32(vc.ldtEnts)); err != nil {
			t.putBases(c, &st)
			return err
		}
	}
	if vc.gdtEnts != 0 {
		if err := ptops.SetGDT(c, &t.gdt, gdtMap{t.d.hv, t.id}, vc.gdtFrames[:], uint32(vc.gdtEnts)); err != nil {
			t.putBases(c, &st)
			return err
		}
	}
	t.start = st
	t.state.Store(Initialised)
	return nil
}

// vcpuContext is a struct vcpu_guest_context as VCPUOP_initialise reads
// it: the vCPU's start context, and the LDT and GDT it installs under the
// MMU lock.
type vcpuContext struct {
	start            startContext
	ldtBase, ldtEnts uint64
	gdtEnts          uint64
	gdtFrames        [xen.FirstReservedGDTPage]uint64
}

// decode reads context b into c, over c.start's registers, with Xen's
// checks that need no frame table (arch_set_info_guest): every address
// canonical and the entry point a guest address, the CR3 page-aligned, the
// LDT and GDT within Xen's limits, VGCF_in_kernel set. A refused context
// is EINVAL; c is then partly written.
func (c *vcpuContext) decode(b *[xen.VCPUCtxSize]byte) error {
	q := func(off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }
	st := &c.start
	r := &st.regs
	const u = xen.VCPUCtxUserRegs
	for i, p := range kvm.GPRs(r) {
		*p = q(u + xen.UserRegsGPR[i])
	}
	r.RIP, r.RFLAGS = q(u+xen.UserRegsRIP), q(u+xen.UserRegsRFLAGS)
	st.cs, st.ss = uint16(q(u+xen.UserRegsCS))|3, uint16(q(u+xen.UserRegsSS))|3
	st.cr3, st.userBase = q(xen.VCPUCtxCtrlReg+3*8), q(xen.VCPUCtxCtrlReg+1*8)>>mmu.PageShift
	st.fsBase, st.gsBase, st.gsBaseUser = q(xen.VCPUCtxFSBase), q(xen.VCPUCtxGSBaseKernel), q(xen.VCPUCtxGSBaseUser)
	st.kernelSS, st.kernelSP = q(xen.VCPUCtxKernelSS)|3, q(xen.VCPUCtxKernelSP)
	flags := q(xen.VCPUCtxFlags)
	st.callbacks = traps.Callbacks{Event: q(xen.VCPUCtxEventCB), Failsafe: q(xen.VCPUCtxFailsafeCB), Syscall: q(xen.VCPUCtxSyscallCB)}
	st.callbacks.MaskEvents[xen.CallbackFailsafe] = flags&xen.VGCFFailsafeDisablesEvents != 0
	st.callbacks.MaskEvents[xen.CallbackSyscall] = flags&xen.VGCFSyscallDisablesEvents != 0
	st.table = &traps.Table{}
	for i := range st.table {
		st.table[i] = xen.DecodeTrapInfo(b[xen.VCPUCtxTrapCtxt+i*xen.TrapInfoSize:])
	}
	st.iopl = int(r.RFLAGS >> 12 & 3)
	// The guest cannot take IOPL or leave IF clear; reserved bit 1 is set.
	r.RFLAGS = r.RFLAGS&(x86.ArithFlags|x86.FlagDF) | x86.FlagIF | x86.FlagRes1
	c.ldtBase, c.ldtEnts = q(xen.VCPUCtxLDTBase), q(xen.VCPUCtxLDTEnts)
	c.gdtEnts = q(xen.VCPUCtxGDTEnts)
	for i := range c.gdtFrames {
		c.gdtFrames[i] = q(xen.VCPUCtxGDTFrames + 8*i)
	}
	canonical := true
	for _, a := range [...]uint64{r.RIP, r.RSP, st.kernelSP, st.fsBase, st.gsBase, st.gsBaseUser,
		st.callbacks.Event, st.callbacks.Failsafe, st.callbacks.Syscall, c.ldtBase} {
		canonical = canonical && mmu.Canonical(a)
	}
	for _, e := range st.table {
		canonical = canonical && mmu.Canonical(e.Address)
	}
	if !canonical || !traps.GuestAddress(r.RIP) || st.cr3&(mmu.PageSize-1) != 0 || flags&xen.VGCFInKernel == 0 ||
		c.ldtEnts > xen.MaxLDTEntries || c.gdtEnts > xen.FirstReservedGDTByte/8 {
		return xen.EINVAL
	}
	return nil
}

// putBases drops the references initialise took on st's bases.
func (t *vcpu) putBases(c *ptops.Context, st *startContext) {
	c.FT.PutPageAndType(st.cr3 >> mmu.PageShift)
	if st.userBase != 0 {
		c.FT.PutPageAndType(st.userBase)
	}
}

// setSegmentBase: HYPERVISOR_set_segment_base(which, base).
func (v *vcpu) setSegmentBase(a *hypercallArgs) uint64 {
	which, base := a[0], a[1]
	if which != xen.SegBaseGSUserSel && !mmu.Canonical(base) {
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
	case xen.SegBaseGSUserSel:
		v.loadUserGS(uint16(base))
		return 0
	default:
		return xen.EINVAL.Ret()
	}
	v.sregsChanged()
	return 0
}
