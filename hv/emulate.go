package hv

import (
	"encoding/binary"
	"sync"

	"github.com/pvsim/pvsim/cpuid"
	"github.com/pvsim/pvsim/hvimage"
	"github.com/pvsim/pvsim/internal/kvm"
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/msr"
	"github.com/pvsim/pvsim/privop"
	"github.com/pvsim/pvsim/ptops"
	"github.com/pvsim/pvsim/pvclock"
	"github.com/pvsim/pvsim/x86"
	"github.com/pvsim/pvsim/xen"
)

// Instructions a PV kernel cannot run itself and Xen completes for it: a
// #GP or #UD from the guest goes to package privop (Xen's
// emulate_privileged_op and emulate_forced_invalid_op) before it is
// bounced; privEnv is what privop sees of the vCPU.

// privState is the vCPU state only emulated instructions and their
// hypercalls read and write (Xen's arch.pv.ctrlreg, dr, iopl).
type privState struct {
	env privEnv
	privRegs
	// regs is scratch space for the emulator.
	regs privop.Regs
}

// privRegs are the registers of privState a snapshot keeps.
type privRegs struct {
	// ts is CR0.TS as the guest set it (fpu_taskswitch, clts, mov to
	// CR0); cr4 the CR4 bits it may set itself (TSD, DE).
	ts  bool
	cr4 uint64
	// dr are DR0-DR7 as written; pvsim does not arm them.
	dr [8]uint64
	// iopl is the virtual I/O privilege level (PHYSDEVOP_set_iopl).
	iopl int
}

// The CR0 and CR4 a PV guest runs with (enterGuestState) and the CR4 bits
// it may change (Xen's PV_CR4_GUEST_MASK).
const (
	guestCR0     = x86.CR0PG | x86.CR0AM | x86.CR0WP | x86.CR0NE | x86.CR0ET | x86.CR0MP | x86.CR0PE
	guestCR4     = x86.CR4OSXMMEXCPT | x86.CR4OSFXSR | x86.CR4PAE
	guestEFER    = x86.EFERNXE | x86.EFERLMA | x86.EFERLME
	cr0TS        = 1 << 3
	cr4GuestMask = x86.CR4TSD | x86.CR4DE

	// DR6 and DR7 at reset, and the bits of them that always read as one
	// (X86_DR6_DEFAULT, X86_DR7_DEFAULT) or zero.
	dr6Default = 0xffff0ff0
	dr7Default = 0x400
	dr7Zero    = 3<<11 | 3<<14
)

// pvCPUID is the PV CPUID policy, built once from what KVM supports.
var pvCPUID = sync.OnceValue(func() *cpuid.Policy {
	var entries []cpuid.Entry
	if sys, err := kvm.Open(); err == nil {
		for _, e := range sys.SupportedCPUID() {
			entries = append(entries, cpuid.Entry{Function: e.Function, Index: e.Index, Indexed: e.Indexed,
				Leaf: cpuid.Leaf{EAX: e.EAX, EBX: e.EBX, ECX: e.ECX, EDX: e.EDX}})
		}
	}
	return cpuid.NewPV(cpuid.Table(entries), xenVersionMajor, xenVersionMinor, cpuid.Options{PreserveAD: true})
})

// emulatePriv tries the #GP or #UD x as an instruction Xen completes for
// the guest. It reports whether the exception is dealt with (emulated, or
// turned into the trap or fault it is to bounce as: x changed then, and
// bounce is true).
func (v *vcpu) emulatePriv(x *x86.Exception) (handled, bounce bool) {
	p := &v.priv
	r := &v.run.Regs
	for i, q := range kvm.GPRs(r) {
		p.regs.GPR[i] = *q
	}
	p.regs.GPR[4], p.regs.RIP, p.regs.RFLAGS = x.RSP, x.RIP, x.RFLAGS
	before := p.regs
	var o privop.Outcome
	if x.Vector == x86.VectorGP {
		o = privop.EmulateGP(x.Code[:x.CodeLen], &p.regs, x.ErrorCode, !v.guestMode.user, &p.env)
	} else {
		o = privop.EmulateUD(x.Code[:x.CodeLen], &p.regs, !v.guestMode.user, &p.env)
	}
	if v.d.stopping.Load() {
		return true, false
	}
	switch o.Kind {
	case privop.Bounce:
		if o.Vector == x.Vector && o.ErrorCode == x.ErrorCode {
			if o.Reason != "" && o.Op != 0 {
				v.traps.lastNotEmulated = "not emulated: " + o.Reason
			}
			return false, false
		}
		x.Vector, x.ErrorCode = o.Vector, o.ErrorCode
		return true, true
	case privop.Trap:
		x.Vector, x.ErrorCode, x.RIP = o.Vector, 0, p.regs.RIP
		v.stackPut(v.traps.frame+hvimage.FrameRIP, p.regs.RIP)
		return true, true
	}
	v.stats.Emulations++
	v.stackPut(v.traps.frame+hvimage.FrameRIP, p.regs.RIP)
	v.stackPut(v.traps.frame+hvimage.FrameRFLAGS, p.regs.RFLAGS)
	if p.regs.GPR[4] != before.GPR[4] {
		// RSP as the guest resumes is the stub's frame's (mov %dr0, %rsp).
		v.stackPut(v.traps.frame+hvimage.FrameRSP, p.regs.GPR[4])
	}
	gprs := kvm.GPRs(r)
	for i, val := range p.regs.GPR {
		if i != 4 && val != before.GPR[i] {
			*gprs[i] = val
			v.run.DirtyRegs |= kvm.SyncRegs
		}
	}
	if o.SingleStep {
		x.Vector, x.ErrorCode, x.RIP, x.RFLAGS = x86.VectorDB, 0, p.regs.RIP, p.regs.RFLAGS
		return true, true
	}
	return true, false
}

// privEnv is the vCPU as privop.Env.
type privEnv struct{ v *vcpu }

func (e *privEnv) CPUID(leaf, subleaf uint32) cpuid.Leaf { return pvCPUID().Query(leaf, subleaf) }

func (e *privEnv) ReadCR(n int) (uint64, bool) {
	v := e.v
	switch n {
	case 0:
		if v.priv.ts {
			return guestCR0 | cr0TS, true
		}
		return guestCR0, true
	case 2:
		return binary.LittleEndian.Uint64(v.vcpuInfo()[xen.VCPUInfoCR2:]), true
	case 3:
		return v.start.cr3, true
	case 4:
		return guestCR4 | v.priv.cr4, true
	}
	return 0, false
}

func (e *privEnv) WriteCR(n int, val uint64) bool {
	v := e.v
	switch n {
	case 0:
		// Only TS may change (Xen's write_cr: "Attempt to change
		// unmodifiable CR0 flags" is refused).
		if (val^guestCR0)&^cr0TS != 0 {
			return false
		}
		v.priv.ts = val&cr0TS != 0
		return true
	case 2:
		binary.LittleEndian.PutUint64(v.vcpuInfo()[xen.VCPUInfoCR2:], val)
		return true
	case 3:
		// As Xen's new_guest_cr3: a validated L4, or #GP.
		c := v.lockMMUAs("mov to %cr3", false)
		err := ptops.NewBasePtr(c, val>>mmu.PageShift)
		v.unlockMMU()
		return err == nil
	case 4:
		// Bits the guest may not change are silently kept, as Xen's
		// pv_fixup_guest_cr4 keeps them.
		v.priv.cr4 = val & cr4GuestMask
		return true
	}
	return false
}

func (e *privEnv) ReadDR(n int) (uint64, bool) {
	if n < 0 || n >= len(e.v.priv.dr) {
		return 0, false
	}
	return e.v.priv.dr[n], true
}

// WriteDR checks a debug register write as Xen's set_debugreg; pvsim keeps
// the value but arms no breakpoint.
func (e *privEnv) WriteDR(n int, val uint64) bool {
	switch {
	case n >= 0 && n <= 3:
		if !mmu.GuestAddress(val) {
			return false
		}
	case n == 6:
		if val>>32 != 0 {
			return false
		}
		val |= dr6Default
	case n == 7:
		if val>>32 != 0 || val&(1<<13) != 0 { // reserved, or DR7.GD
			return false
		}
		val = val&^dr7Zero | dr7Default
	default:
		return false
	}
	e.v.priv.dr[n] = val
	return true
}

func (e *privEnv) msrState(s *msr.State) {
	v := e.v
	*s = msr.State{VCPU: v.id, EFER: guestEFER, FSBase: v.run.Sregs.FS.Base, GSBase: v.run.Sregs.GS.Base,
		ShadowGSBase: v.start.gsBaseUser, GPHandler: v.traps.table[x86.VectorGP].Address != 0,
		IntelMCA: pvCPUID().Vendor() == cpuid.VendorIntel}
	if v.d.det != nil {
		s.TSC = uint64(v.d.now())
	} else {
		s.TSC = pvclock.TSC() + v.timers.tscOffset // the guest's, as rdtsc reads it
	}
}

func (e *privEnv) ReadMSR(index uint32) (uint64, bool) {
	var s msr.State
	e.msrState(&s)
	return msr.Read(index, &s)
}

func (e *privEnv) WriteMSR(index uint32, val uint64) bool {
	v := e.v
	var s msr.State
	e.msrState(&s)
	effect, ok := msr.Write(index, val, &s)
	if !ok {
		return false
	}
	switch effect {
	case msr.SetFSBase:
		v.run.Sregs.FS.Base = val
		v.sregsChanged()
	case msr.SetGSBase:
		v.run.Sregs.GS.Base = val
		v.sregsChanged()
	case msr.SetShadowGS:
		v.start.gsBaseUser = val
	case msr.HypercallPage:
		return v.fillHypercallPage(val &^ (mmu.PageSize - 1))
	}
	return true
}

// fillHypercallPage writes the hypercall page into guest frame at gpa, as
// Xen does for a write of its hypercall MSR: the frame must be one the
// guest may write.
func (v *vcpu) fillHypercallPage(gpa uint64) bool {
	pfn := gpa >> mmu.PageShift
	c := v.lockMMUAs("hypercall page", false)
	defer v.unlockMMU()
	if err := c.FT.GetPageAndType(pfn, mmu.TypeWritable, nil); err != nil {
		return false
	}
	hvimage.FillHypercallPage(v.d.mem.Frame(pfn))
	c.FT.PutPageAndType(pfn)
	return true
}

func (e *privEnv) IOPL() (int, bool) {
	return e.v.priv.iopl, e.v.d.assisted(xen.VMAssistArchitecturalIOPL)
}

// IOBitmap: pvsim has no PHYSDEVOP_set_iobitmap, so no port is granted.
func (e *privEnv) IOBitmap(port uint16, size int) bool { return false }

// In reads all ones, as Xen answers a read of a port nothing emulates.
func (e *privEnv) In(port uint16, size int) uint32 { return ^uint32(0) >> (32 - 8*uint(size)) }

// Out is dropped: the domain has no devices.
func (e *privEnv) Out(port uint16, size int, val uint32) {}

func (e *privEnv) TrapGateDPL(vector uint8) int { return int(e.v.traps.table[vector].Flags & 3) }

// fpuTaskswitch: HYPERVISOR_fpu_taskswitch(set), as Xen's
// do_fpu_taskswitch: CR0.TS as the guest sees it (pvsim applies none: see
// privState.ts).
func (v *vcpu) fpuTaskswitch(a *hypercallArgs) uint64 {
	v.priv.ts = int32(a[0]) != 0
	return 0
}

// setDebugreg: HYPERVISOR_set_debugreg(reg, value), as Xen's
// set_debugreg: the checks of a `mov` to the debug register (WriteDR),
// with DR4 and DR5 the aliases of DR6 and DR7 while CR4.DE is clear.
// Refused: a breakpoint address outside the guest's part of the address
// space (EPERM), reserved bits of DR6 or DR7 (EINVAL), DR7.GD (EPERM),
// DR4/DR5 with CR4.DE set (ENODEV), any other register (EINVAL).
func (v *vcpu) setDebugreg(a *hypercallArgs) uint64 {
	reg, val := int(int32(a[0])), a[1]
	e := &privEnv{v: v}
	if reg == 4 || reg == 5 {
		if v.priv.cr4&x86.CR4DE != 0 {
			return xen.ENODEV.Ret()
		}
		reg += 2
	}
	if reg < 0 || reg > 7 || reg == 4 || reg == 5 {
		return xen.EINVAL.Ret()
	}
	if e.WriteDR(reg, val) {
		return 0
	}
	switch {
	case reg <= 3, reg == 7 && val>>32 == 0:
		return xen.EPERM.Ret() // a bad address, or DR7.GD
	}
	return xen.EINVAL.Ret()
}

// getDebugreg: HYPERVISOR_get_debugreg(reg), as Xen's do_get_debugreg:
// the register's value (which may look like an error), or ENODEV for no
// such register.
func (v *vcpu) getDebugreg(a *hypercallArgs) uint64 {
	reg := int(int32(a[0]))
	if (reg == 4 || reg == 5) && v.priv.cr4&x86.CR4DE == 0 {
		reg += 2
	}
	if reg < 0 || reg > 7 || reg == 4 || reg == 5 {
		return xen.ENODEV.Ret()
	}
	return v.priv.dr[reg]
}

// physdevOp: HYPERVISOR_physdev_op(cmd, arg), of which pvsim has
// PHYSDEVOP_set_iopl; a domain without devices has no use for the rest.
func (v *vcpu) physdevOp(a *hypercallArgs) uint64 {
	if a[0] != xen.PhysdevOpSetIOPL {
		return xen.ENOSYS.Ret()
	}
	var b [4]byte
	if err := v.readGuest(b[:], a[1]); err != nil {
		return errRet(err)
	}
	iopl := binary.LittleEndian.Uint32(b[:])
	if iopl > 3 {
		return xen.EINVAL.Ret()
	}
	v.priv.iopl = int(iopl)
	return 0
}

// vmAssist: HYPERVISOR_vm_assist(cmd, type), as Xen's do_vm_assist: the
// domain's assists are recorded; of them pvsim acts on architectural_iopl
// (iopl_ok) and has writable_pagetables always on.
func (v *vcpu) vmAssist(a *hypercallArgs) uint64 {
	cmd, typ := a[0], a[1]
	if typ >= 64 || xen.VMAssistValid&(1<<typ) == 0 {
		return xen.EINVAL.Ret()
	}
	switch cmd {
	case xen.VMAssistEnable:
		v.d.vmAssist.Or(1 << typ)
	case xen.VMAssistDisable:
		v.d.vmAssist.And(^uint64(1 << typ))
	default:
		return xen.ENOSYS.Ret()
	}
	return 0
}
