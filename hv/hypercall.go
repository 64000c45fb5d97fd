package hv

import (
	"encoding/binary"
	"syscall"

	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/ptops"
	"github.com/pvsim/pvsim/xen"
)

// hypercallArgs are a hypercall's arguments: rdi, rsi, rdx, r10, r8, r9,
// or a multicall entry's args.
type hypercallArgs [6]uint64

// hypercallFn handles one hypercall on v and returns the value for rax.
type hypercallFn func(v *vcpu, a *hypercallArgs) uint64

// hypercalls is the dispatch table, indexed by Xen hypercall number.
var hypercalls [xen.NrHypercalls]hypercallFn

func init() {
	hypercalls[xen.HypercallConsoleIO] = (*vcpu).consoleIO
	hypercalls[xen.HypercallSchedOp] = (*vcpu).schedOp
	hypercalls[xen.HypercallXenVersion] = (*vcpu).xenVersion
	hypercalls[xen.HypercallVCPUOp] = (*vcpu).vcpuOp
	hypercalls[xen.HypercallSetSegmentBase] = (*vcpu).setSegmentBase
	hypercalls[xen.HypercallMMUUpdate] = (*vcpu).mmuUpdate
	hypercalls[xen.HypercallUpdateVAMapping] = (*vcpu).updateVAMapping
	hypercalls[xen.HypercallMMUExtOp] = (*vcpu).mmuextOp
	hypercalls[xen.HypercallMulticall] = (*vcpu).multicall
	hypercalls[xen.HypercallSetTrapTable] = (*vcpu).setTrapTable
	hypercalls[xen.HypercallStackSwitch] = (*vcpu).stackSwitch
	hypercalls[xen.HypercallIret] = (*vcpu).iret
	hypercalls[xen.HypercallPVSimOp] = (*vcpu).pvsimOp
}

// hypercall dispatches hypercall nr with the arguments in the vCPU's
// registers and puts its result in rax. It allocates nothing.
func (v *vcpu) hypercall(nr uint32) {
	r := &v.run.regs
	v.args = hypercallArgs{r.RDI, r.RSI, r.RDX, r.R10, r.R8, r.R9}
	caller := r.RIP
	if nr != xen.HypercallIret {
		// The stub was called: name the caller, not the hypercall page.
		if ret, err := v.readGuest64(r.RSP); err == nil {
			caller = ret
		}
	}
	v.trace.begin(TraceHypercall, uint16(nr), caller, r.RDI)
	v.inHypercall = true
	ret := v.call(uint64(nr), &v.args)
	v.inHypercall = false
	v.trace.end()
	if v.d.stopping.Load() {
		return
	}
	if !v.exec.finish(ret) {
		r.RAX = ret
		v.run.dirtyRegs |= syncRegs
	}
	if v.snapshotting {
		v.takeSnapshot()
	}
}

// call runs hypercall nr.
func (v *vcpu) call(nr uint64, a *hypercallArgs) uint64 {
	if nr >= xen.NrHypercalls {
		return xen.ENOSYS.Ret()
	}
	v.stats.Hypercalls[nr]++
	fn := hypercalls[nr]
	if fn == nil {
		return xen.ENOSYS.Ret()
	}
	return fn(v, a)
}

func errRet(err error) uint64 { return ptops.Errno(err).Ret() }

// maxConsoleWrite bounds one console_io write, as Xen does, so that a guest
// cannot make the hypervisor copy without limit.
const maxConsoleWrite = 64 << 10

// consoleIO: HYPERVISOR_console_io(cmd, count, buffer).
func (v *vcpu) consoleIO(a *hypercallArgs) uint64 {
	cmd, count, buf := a[0], a[1], a[2]
	switch cmd {
	case xen.ConsoleIOWrite:
		if count > maxConsoleWrite {
			return xen.EINVAL.Ret()
		}
		for count > 0 {
			n := min(count, uint64(len(v.buf)))
			if err := v.readGuest(v.buf[:n], buf); err != nil {
				return errRet(err)
			}
			v.d.writeConsole(v.buf[:n])
			count, buf = count-n, buf+n
		}
		return 0
	case xen.ConsoleIORead:
		return 0 // no console input
	}
	return xen.ENOSYS.Ret()
}

// schedOp: HYPERVISOR_sched_op(cmd, arg).
func (v *vcpu) schedOp(a *hypercallArgs) uint64 {
	switch a[0] {
	case xen.SchedOpYield:
		// A deterministic domain switched vCPUs as the exit arrived.
		if v.d.det == nil {
			syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0)
		}
		return 0
	case xen.SchedOpShutdown:
		var b [4]byte
		if err := v.readGuest(b[:], a[1]); err != nil {
			return errRet(err)
		}
		res := Result{Reason: xen.ShutdownReason(binary.LittleEndian.Uint32(b[:])), VCPU: v.id}
		if res.Reason == xen.ShutdownCrash {
			res.Oops = v.oops()
		}
		v.d.end(res, nil)
		return 0
	}
	return xen.ENOSYS.Ret()
}

// Identity pvsim reports through xen_version.
const (
	xenVersionMajor = 4
	xenVersionMinor = 0
	xenExtraVersion = "-pvsim"
	xenCapabilities = "xen-3.0-x86_64"
)

// xenVersion: HYPERVISOR_xen_version(cmd, arg).
func (v *vcpu) xenVersion(a *hypercallArgs) uint64 {
	arg := a[1]
	switch a[0] {
	case xen.XenVerVersion:
		return xenVersionMajor<<16 | xenVersionMinor
	case xen.XenVerExtraVersion:
		return v.writeGuestString(arg, xenExtraVersion, 16)
	case xen.XenVerCapabilities:
		return v.writeGuestString(arg, xenCapabilities, 1024)
	case xen.XenVerPlatformParameters:
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], xen.HypervisorVirtStart)
		return v.writeGuestRet(arg, b[:])
	case xen.XenVerGetFeatures:
		// struct xen_feature_info { unsigned int submap_idx; uint32_t submap; }
		var b [8]byte
		if err := v.readGuest(b[:4], arg); err != nil {
			return errRet(err)
		}
		var submap uint32 // no optional Xen feature
		if binary.LittleEndian.Uint32(b[:4]) == xen.PVSimFeaturesSubmap {
			submap = v.d.features()
		}
		binary.LittleEndian.PutUint32(b[4:], submap)
		return v.writeGuestRet(arg, b[:])
	case xen.XenVerPageSize:
		return mmu.PageSize
	}
	return xen.ENOSYS.Ret()
}

// writeGuestString writes s, NUL-padded to size bytes, to the guest.
func (v *vcpu) writeGuestString(va uint64, s string, size int) uint64 {
	b := v.buf[:size]
	clear(b)
	copy(b, s)
	return v.writeGuestRet(va, b)
}

func (v *vcpu) writeGuestRet(va uint64, b []byte) uint64 {
	if err := v.writeGuest(va, b); err != nil {
		return errRet(err)
	}
	return 0
}

// writeGuest copies b to guest virtual address va, as the guest at CPL3
// could write it (copy_to_guest). A destination that is, or may be, a
// pagetable is refused: those frames are mapped read-only to the guest, so
// the permission check already keeps the VMM from storing into them.
func (v *vcpu) writeGuest(va uint64, b []byte) error {
	cr3 := v.run.sregs.CR3
	for len(b) > 0 {
		w := mmu.Translate(v.d.mem, cr3, va, mmu.AccessUser|mmu.AccessWrite)
		if !w.OK {
			return xen.EFAULT
		}
		n := min(uint64(len(b)), mmu.PageSize-va&(mmu.PageSize-1))
		dst := v.d.mem.bytes(w.PA, n)
		if dst == nil || w.PA >= uint64(len(v.d.mem.guest)) {
			return xen.EFAULT
		}
		copy(dst, b[:n])
		b, va = b[n:], va+n
	}
	return nil
}

// vcpuOp: HYPERVISOR_vcpu_op(cmd, vcpuid, extra_args).
func (v *vcpu) vcpuOp(a *hypercallArgs) uint64 {
	cmd, id, arg := a[0], a[1], a[2]
	if id >= uint64(len(v.d.vcpus)) {
		return xen.ENOENT.Ret()
	}
	t := v.d.vcpus[id]
	switch cmd {
	case xen.VCPUOpIsUp:
		if t.state.Load() == vcpuUp {
			return 1
		}
		return 0
	case xen.VCPUOpInitialise:
		if err := t.initialise(v, arg); err != nil {
			return errRet(err)
		}
		return 0
	case xen.VCPUOpUp:
		t.ctxMu.Lock()
		defer t.ctxMu.Unlock()
		switch t.state.Load() {
		case vcpuUp:
			return 0
		case vcpuDown:
			return xen.EINVAL.Ret()
		}
		t.state.Store(vcpuUp)
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
	t.ctxMu.Lock()
	defer t.ctxMu.Unlock()
	if t.state.Load() != vcpuDown {
		return xen.EEXIST
	}
	rd := func(off int) (uint64, error) { return caller.readGuest64(ctx + uint64(off)) }
	var regs = []struct {
		off int
		dst *uint64
	}{
		{xen.UserRegsR15, &t.start.R15}, {xen.UserRegsR14, &t.start.R14}, {xen.UserRegsR13, &t.start.R13},
		{xen.UserRegsR12, &t.start.R12}, {xen.UserRegsRBP, &t.start.RBP}, {xen.UserRegsRBX, &t.start.RBX},
		{xen.UserRegsR11, &t.start.R11}, {xen.UserRegsR10, &t.start.R10}, {xen.UserRegsR9, &t.start.R9},
		{xen.UserRegsR8, &t.start.R8}, {xen.UserRegsRAX, &t.start.RAX}, {xen.UserRegsRCX, &t.start.RCX},
		{xen.UserRegsRDX, &t.start.RDX}, {xen.UserRegsRSI, &t.start.RSI}, {xen.UserRegsRDI, &t.start.RDI},
		{xen.UserRegsRIP, &t.start.RIP}, {xen.UserRegsRFLAGS, &t.start.RFLAGS}, {xen.UserRegsRSP, &t.start.RSP},
	}
	for _, r := range regs {
		val, err := rd(xen.VCPUCtxUserRegs + r.off)
		if err != nil {
			return err
		}
		*r.dst = val
	}
	// The guest cannot take IOPL or leave IF clear; reserved bit 1 is set.
	t.start.RFLAGS = t.start.RFLAGS&0xcd5 | 0x202
	if !guestAddress(t.start.RIP) {
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
	caller.lastMMUOp = "vcpu_op(VCPUOP_initialise)"
	c := caller.lockMMU()
	if err = c.FT.GetPageAndType(cr3>>mmu.PageShift, mmu.TypeL4, c.X); err == nil {
		t.cr3, t.fsBase, t.gsBase, t.gsBaseUser = cr3, fs, gs, gsu
		t.state.Store(vcpuInitialised)
	}
	caller.unlockMMU()
	return err
}

// guestAddress reports whether va is a canonical address outside the
// hypervisor's reserved range.
func guestAddress(va uint64) bool {
	return mmu.Canonical(va) && (va < xen.HypervisorVirtStart || va >= xen.HypervisorVirtEnd)
}

// setSegmentBase: HYPERVISOR_set_segment_base(which, base).
func (v *vcpu) setSegmentBase(a *hypercallArgs) uint64 {
	which, base := a[0], a[1]
	if !mmu.Canonical(base) {
		return xen.EINVAL.Ret()
	}
	s := &v.run.sregs
	switch which {
	case xen.SegBaseFS:
		s.FS.Base = base
	case xen.SegBaseGSKernl:
		s.GS.Base = base // the guest always runs in kernel mode so far
	case xen.SegBaseGSUser:
		v.gsBaseUser = base
		return 0
	default:
		return xen.EINVAL.Ret()
	}
	v.run.dirtyRegs |= syncSregs
	return 0
}
