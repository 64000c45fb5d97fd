package hv

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/ptops"
	"github.com/pvsim/pvsim/xen"
)

// Exceptions the guest raises reach the hypervisor's entry stub, which
// leaves the frame [vector, error code, RIP, CS, RFLAGS, RSP, SS] on the
// vCPU's CPL0 stack and exits. The VMM then emulates a write to a
// pagetable (ptwr), or bounces the exception to the handler the guest
// registered with set_trap_table, by rewriting that frame: when the stub
// resumes, its iretq lands where the VMM decided.

// Offsets in the stub's exception frame.
const (
	frameVector = 0
	frameError  = 8
	frameRIP    = 16
	frameCS     = 24
	frameRFLAGS = 32
	frameRSP    = 40
	frameSS     = 48
	frameSize   = 56
)

// trapResumeVA is where a vCPU that exited from an exception stub resumes.
const trapResumeVA = hvTextVA + stubCommonOff + 2

// RFLAGS bits.
const (
	rflagsTF   = 1 << 8
	rflagsIF   = 1 << 9
	rflagsIOPL = 3 << 12
	rflagsNT   = 1 << 14
	rflagsRF   = 1 << 16
	rflagsVM   = 1 << 17
	rflagsAC   = 1 << 18
	rflagsRes1 = 1 << 1
)

// trapInfo is one entry of a vCPU's virtual IDT (Xen's struct trap_info).
type trapInfo struct {
	flags   uint8
	cs      uint16
	address uint64
}

// stackWord returns the host view of the quadword at va on this vCPU's
// CPL0 stack.
func (v *vcpu) stackWord(va uint64) []byte {
	base := cpuAreaVA(v.id) + cpuStackOff
	if va < base || va+8 > base+cpuStackPages*mmu.PageSize {
		panic(fmt.Sprintf("hv: %#x is not on vCPU %d's CPL0 stack", va, v.id))
	}
	page := v.stack[(va-base)>>mmu.PageShift]
	off := va & (mmu.PageSize - 1)
	return page[off : off+8]
}

func (v *vcpu) stackGet(va uint64) uint64    { return binary.LittleEndian.Uint64(v.stackWord(va)) }
func (v *vcpu) stackPut(va uint64, q uint64) { binary.LittleEndian.PutUint64(v.stackWord(va), q) }

// onCPL0Stack reports whether an exception frame at sp lies on v's CPL0
// stack, where the entry stubs leave it.
func (v *vcpu) onCPL0Stack(sp uint64) bool {
	return sp >= cpuAreaVA(v.id)+cpuStackOff && sp+frameSize <= cpuStackTop(v.id)
}

// readException reads the frame the entry stub left on the CPL0 stack and
// the instruction bytes at the faulting RIP.
func (v *vcpu) readException(x *Exception) {
	r := v.run
	sp := r.regs.RSP
	*x = Exception{
		Vector: int(v.stackGet(sp + frameVector)), ErrorCode: v.stackGet(sp + frameError),
		RIP: v.stackGet(sp + frameRIP), CS: v.stackGet(sp + frameCS), RFLAGS: v.stackGet(sp + frameRFLAGS),
		RSP: v.stackGet(sp + frameRSP), SS: v.stackGet(sp + frameSS),
		CR2: r.sregs.CR2,
	}
	acc := mmu.AccessFetch
	if x.CPL() == 3 {
		acc |= mmu.AccessUser
	}
	// One walk per page the instruction bytes lie on, not one per byte.
	for x.CodeLen < len(x.Code) {
		va := x.RIP + uint64(x.CodeLen)
		w := mmu.Translate(v.d.mem, r.sregs.CR3, va, acc)
		if !w.OK {
			break
		}
		n := min(uint64(len(x.Code)-x.CodeLen), mmu.PageSize-va&(mmu.PageSize-1))
		b := v.d.mem.bytes(w.PA, n)
		if b == nil {
			break
		}
		x.CodeLen += copy(x.Code[x.CodeLen:], b)
	}
}

// trap handles an exception that reached the hypervisor's entry stub.
func (v *vcpu) trap() {
	r := v.run
	if r.sregs.CS.DPL != 0 || !v.onCPL0Stack(r.regs.RSP) {
		v.fatal(HypervisorFault, r.regs.RIP, "exception frame not on the CPL0 stack")
		return
	}
	v.inTrap = true
	defer func() { v.inTrap = false }()
	x := &v.exc
	v.readException(x)
	v.trapFrame = r.regs.RSP
	v.trace.begin(TraceTrap, uint16(x.Vector), x.RIP, x.CR2)
	if x.Vector >= 0 && x.Vector < nrStubs {
		v.stats.Traps[x.Vector]++
	}
	if x.CPL() != 3 {
		v.fatal(HypervisorFault, x.RIP, x.Describe())
		return
	}
	rax := r.regs.RAX
	if x.Vector == 14 && x.ErrorCode&ptops.PTWriteError == ptops.PTWriteError {
		var done bool
		done, rax = v.ptwr(x)
		if v.d.stopping.Load() {
			return
		}
		if done {
			v.leaveTrap(rax)
			return
		}
	}
	v.bounce(x)
	v.leaveTrap(rax)
}

// leaveTrap releases the executor if the trap used it, handing the guest
// rax, and resumes the stub.
func (v *vcpu) leaveTrap(rax uint64) {
	if !v.exec.finish(rax) && rax != v.run.regs.RAX {
		v.run.regs.RAX = rax
		v.run.dirtyRegs |= syncRegs
	}
	v.trace.end()
}

// ptwr tries to emulate the write that raised #PF x as a write to an L1
// pagetable (Xen's ptwr). It reports whether it did (or asked for the
// instruction to be retried), and the guest's RAX afterwards.
func (v *vcpu) ptwr(x *Exception) (done bool, rax uint64) {
	r := &v.run.regs
	regs := &v.ptwRegs
	regs.GPR = [16]uint64{r.RAX, r.RCX, r.RDX, r.RBX, x.RSP, r.RBP, r.RSI, r.RDI,
		r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15}
	regs.RIP, regs.RFLAGS = x.RIP, x.RFLAGS
	regs.FSBase, regs.GSBase = v.run.sregs.FS.Base, v.run.sregs.GS.Base
	before := regs.GPR

	v.lastMMUOp = "ptwr"
	c := v.lockMMU()
	c.Insns = &v.insns
	w, err := ptops.EmulatePTWrite(c, regs, x.CR2, x.ErrorCode, x.Code[:x.CodeLen])
	v.unlockMMU()
	switch {
	case errors.Is(err, ptops.ErrRetry):
		v.stats.PTWriteRetries++
		return true, r.RAX
	case err != nil && v.spuriousFault(x):
		// The mapping allows the write by now: another vCPU changed it
		// after the access faulted. Retry, as Xen's spurious_page_fault.
		v.stats.SpuriousFaults++
		return true, r.RAX
	case err != nil:
		v.lastNotEmulated = err.Error()
		return false, r.RAX
	}
	if v.exec.parked {
		// Nothing on this path leaves the executor holding the vCPU; if
		// something did, the registers below would be the executor's.
		v.fatal(HypervisorFault, x.RIP, "ptwr: the executor holds the vCPU after the write")
		return true, r.RAX
	}
	v.stats.PTWrites++
	if w.Pending {
		v.stats.PendingWrites++
		v.trace.note(OutcomePendingWrite, uint64(w.New))
	} else {
		v.trace.note(OutcomePTWrite, uint64(w.New))
	}
	v.stackPut(v.trapFrame+frameRIP, regs.RIP)
	v.stackPut(v.trapFrame+frameRFLAGS, regs.RFLAGS)
	for i, val := range regs.GPR {
		if i == 0 || i == 4 || val == before[i] {
			continue // RAX goes back through leaveTrap; RSP is unchanged
		}
		v.setGuestGPR(i, val)
	}
	return true, regs.GPR[0]
}

// spuriousFault reports whether page fault x would not happen now: the
// guest's tables, as they are under the MMU lock, allow the access.
func (v *vcpu) spuriousFault(x *Exception) bool {
	acc := mmu.AccessUser
	if x.ErrorCode&mmu.PFWrite != 0 {
		acc |= mmu.AccessWrite
	}
	if x.ErrorCode&mmu.PFFetch != 0 {
		acc |= mmu.AccessFetch
	}
	v.d.lockMMU(v)
	ok := mmu.Translate(v.d.mem, v.run.sregs.CR3, x.CR2, acc).OK
	v.d.mmu.Unlock()
	return ok
}

// setGuestGPR changes general-purpose register i (x86 encoding order) of
// the guest interrupted by a trap. ptwr's compare-and-exchange runs
// through trapCmpXchg, which leaves the executor free, so the vCPU's
// registers are the guest's.
func (v *vcpu) setGuestGPR(i int, val uint64) {
	r := &v.run.regs
	p := [16]*uint64{&r.RAX, &r.RCX, &r.RDX, &r.RBX, &r.RSP, &r.RBP, &r.RSI, &r.RDI,
		&r.R8, &r.R9, &r.R10, &r.R11, &r.R12, &r.R13, &r.R14, &r.R15}
	*p[i] = val
	v.run.dirtyRegs |= syncRegs
}

// bounce delivers exception x to the guest's handler, through a bounce
// frame on the guest stack laid out as Xen lays it out for a 64-bit PV
// guest in kernel mode: from the new RSP up, RCX, R11, [error code], RIP,
// CS (RPL cleared: the exception came from kernel mode), RFLAGS, RSP, SS.
// The handler runs on FLAT_KERNEL_CS with TF, NT, RF and AC clear; a #PF's
// address is in the vCPU's vcpu_info.arch.cr2, and its error code loses
// the user bit, as Xen does for a fault in guest kernel mode. An
// exception the guest has no handler for ends the domain.
func (v *vcpu) bounce(x *Exception) {
	var t trapInfo
	if x.Vector >= 0 && x.Vector < len(v.traps) {
		t = v.traps[x.Vector]
	}
	switch {
	case x.Vector == xen.TrapNMI || x.Vector == xen.TrapDoubleFault || x.Vector == xen.TrapMachineCheck:
		v.fatal(TripleFault, x.RIP, x.Describe()+"; the hypervisor does not hand this vector to a PV guest")
		return
	case t.address == 0:
		// As on a CPU with an empty IDT: neither the exception nor the
		// double fault that follows can be delivered.
		v.fatal(TripleFault, x.RIP, x.Describe()+v.whyNotEmulated(x)+"; no guest trap handler, so neither it nor #DF can be delivered")
		return
	}
	errorCode := x.ErrorCode
	if x.Vector == 14 {
		errorCode &^= mmu.PFUser
		binary.LittleEndian.PutUint64(v.d.sharedInfo[v.id*xen.VCPUInfoSize+xen.VCPUInfoCR2:], x.CR2)
	}
	r := &v.run.regs
	f := v.bounceFrame[:0]
	f = append(f, r.RCX, r.R11)
	if vectorHasErrorCode(x.Vector) {
		f = append(f, errorCode)
	}
	f = append(f, x.RIP, x.CS&^3, x.RFLAGS, x.RSP, x.SS)
	sp := x.RSP&^15 - uint64(len(f))*8
	b := v.buf[:len(f)*8]
	for i, q := range f {
		binary.LittleEndian.PutUint64(b[i*8:], q)
	}
	if err := v.writeGuest(sp, b); err != nil {
		v.fatal(TripleFault, x.RIP, fmt.Sprintf("%s; the bounce frame for it at %#x is not writable, so it cannot be delivered", x.Describe(), sp))
		return
	}
	v.stackPut(v.trapFrame+frameRIP, t.address)
	v.stackPut(v.trapFrame+frameCS, xen.FlatRing3CS64)
	v.stackPut(v.trapFrame+frameRFLAGS, x.RFLAGS&^(rflagsTF|rflagsNT|rflagsRF|rflagsAC|rflagsVM)|rflagsIF|rflagsRes1)
	v.stackPut(v.trapFrame+frameRSP, sp)
	v.stackPut(v.trapFrame+frameSS, xen.FlatRing3SS64)
	v.stats.Bounces++
	v.lastBounce, v.bounced = *x, true
	v.lastBounceWhy = ""
	if x.Vector == 14 {
		v.lastBounceWhy, v.lastNotEmulated = v.lastNotEmulated, ""
	}
	v.trace.note(OutcomeBounce, t.address)
}

// whyNotEmulated explains, for a write fault, why ptwr left it alone.
func (v *vcpu) whyNotEmulated(x *Exception) string {
	if x.Vector != 14 || v.lastNotEmulated == "" {
		return ""
	}
	s := " (" + v.lastNotEmulated + ")"
	v.lastNotEmulated = ""
	return s
}

// setTrapTable: HYPERVISOR_set_trap_table(traps). Entries up to the first
// with a zero address replace those of their vectors; a NULL list clears
// the table. The table changes only if the whole list is read.
func (v *vcpu) setTrapTable(a *hypercallArgs) uint64 {
	list := a[0]
	next := &v.trapsNext
	if list == 0 {
		*next = [256]trapInfo{}
	} else {
		*next = v.traps
		var e [xen.TrapInfoSize]byte
		for i := 0; ; i++ {
			if i > len(next) {
				return xen.EINVAL.Ret() // no terminator: more entries than vectors
			}
			if err := v.readGuest(e[:], list+uint64(i)*xen.TrapInfoSize); err != nil {
				return errRet(err)
			}
			addr := binary.LittleEndian.Uint64(e[xen.TrapInfoAddress:])
			if addr == 0 {
				break
			}
			if !guestAddress(addr) {
				return xen.EINVAL.Ret()
			}
			next[e[xen.TrapInfoVector]] = trapInfo{
				flags: e[xen.TrapInfoFlags], cs: binary.LittleEndian.Uint16(e[xen.TrapInfoCS:]), address: addr,
			}
		}
	}
	v.traps = *next
	return 0
}

// stackSwitch: HYPERVISOR_stack_switch(ss, esp). It records the stack the
// guest kernel is entered on from user mode; pvsim guests run in kernel
// mode only, so bounce frames go on the current stack, as Xen puts them
// for a fault in kernel mode.
func (v *vcpu) stackSwitch(a *hypercallArgs) uint64 {
	v.kernelSS, v.kernelSP = a[0]|3, a[1]
	return 0
}

// iret: HYPERVISOR_iret. The guest jumped to the iret stub, which pushed
// rcx, r11 and rax under the guest's frame: the stack holds struct
// iret_context. A frame pvsim cannot return to crashes the domain, as
// Xen's do_iret does.
func (v *vcpu) iret(a *hypercallArgs) uint64 {
	r := &v.run.regs
	b := v.buf[:xen.IretSize]
	if err := v.readGuest(b, r.RSP); err != nil {
		v.fatal(DomainCrash, r.RIP, fmt.Sprintf("HYPERVISOR_iret: frame at %#x unreadable", r.RSP))
		return 0
	}
	q := func(off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }
	cs, rip := uint16(q(xen.IretCS)), q(xen.IretRIP) // above bit 15: the saved upcall mask
	switch {
	case cs&3 == 3:
		v.fatal(DomainCrash, rip, fmt.Sprintf("HYPERVISOR_iret to user mode (cs %#x): pvsim runs no guest user mode", cs))
		return 0
	case cs|3 != xen.FlatRing3CS64:
		v.fatal(DomainCrash, rip, fmt.Sprintf("HYPERVISOR_iret to cs %#x: pvsim runs on FLAT_KERNEL_CS only", cs))
		return 0
	case !guestAddress(rip):
		v.fatal(DomainCrash, rip, fmt.Sprintf("HYPERVISOR_iret to %#x, not a guest address", rip))
		return 0
	}
	r.RIP = rip
	r.RFLAGS = q(xen.IretRFLAGS)&^(rflagsIOPL|rflagsVM) | rflagsIF | rflagsRes1
	r.RSP = q(xen.IretRSP)
	if q(xen.IretFlags)&xen.VGCFInSyscall == 0 {
		r.R11, r.RCX = q(xen.IretR11), q(xen.IretRCX)
	}
	return q(xen.IretRAX)
}
