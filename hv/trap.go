package hv

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/pvsim/pvsim/hvimage"
	"github.com/pvsim/pvsim/internal/kvm"
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/ptops"
	"github.com/pvsim/pvsim/trace"
	"github.com/pvsim/pvsim/traps"
	"github.com/pvsim/pvsim/x86"
	"github.com/pvsim/pvsim/xen"
	"golang.org/x/arch/x86/x86asm"
)

// Exceptions the guest raises reach the hypervisor's entry stub, which
// leaves the frame [vector, error code, RIP, CS, RFLAGS, RSP, SS] on the
// vCPU's CPL0 stack and exits. The VMM then emulates a write to a
// pagetable (ptwr), or bounces the exception to the handler the guest
// registered with set_trap_table, by rewriting that frame: when the stub
// resumes, its iretq lands where the VMM decided.

// trapState is the vCPU's exception state: the guest's virtual IDT and
// kernel stack, the trap being handled, and what the last bounce was, for
// crash reports. Only the vCPU's thread touches it.
type trapState struct {
	// table is the guest's virtual IDT (set_trap_table), and next scratch
	// space for building a new one.
	table, next traps.Table
	// callbacks are the other entry points (callback_op).
	callbacks traps.Callbacks
	// upcall and upcallCtx are scratch space for an event upcall.
	upcall    traps.Bounce
	upcallCtx traps.Context
	// kernelSS and kernelSP are the guest kernel's stack (stack_switch).
	kernelSS, kernelSP uint64
	// active is set while a trap is handled. exc is the trap, and frame
	// where the stub's frame lies on the CPL0 stack.
	active bool
	exc    x86.Exception
	frame  uint64
	// Scratch space for the write emulator and the bounce.
	ptwRegs ptops.Regs
	insns   ptops.InsnCache
	bounce  traps.Bounce
	// cas is a write whose exchange is deferred to the one-exit path.
	cas casState
	// lastNotEmulated says why ptwr declined the last write fault.
	lastNotEmulated string
	// The last exception bounced to the guest, for crash reports, and for
	// a write fault why ptwr left it alone.
	lastBounce    x86.Exception
	lastBounceWhy string
	bounced       bool
	// stack is the host view of the CPL0 stack pages.
	stack [hvimage.CPUStackPages][]byte
}

// stackWord returns the host view of the quadword at va on this vCPU's
// CPL0 stack.
func (v *vcpu) stackWord(va uint64) []byte {
	base := hvimage.CPUStackVA(v.id)
	if va < base || va+8 > hvimage.CPUStackTop(v.id) {
		panic(fmt.Sprintf("hv: %#x is not on vCPU %d's CPL0 stack", va, v.id))
	}
	page := v.traps.stack[(va-base)>>mmu.PageShift]
	v.d.mem.Touch(page)
	off := va & (mmu.PageSize - 1)
	return page[off : off+8]
}

func (v *vcpu) stackGet(va uint64) uint64    { return binary.LittleEndian.Uint64(v.stackWord(va)) }
func (v *vcpu) stackPut(va uint64, q uint64) { binary.LittleEndian.PutUint64(v.stackWord(va), q) }

// onCPL0Stack reports whether an exception frame at sp lies on v's CPL0
// stack, where the entry stubs leave it.
func (v *vcpu) onCPL0Stack(sp uint64) bool {
	return sp >= hvimage.CPUStackVA(v.id) && sp+hvimage.FrameSize <= hvimage.CPUStackTop(v.id)
}

// readException reads the frame the entry stub left on the CPL0 stack and
// the instruction bytes at the faulting RIP.
func (v *vcpu) readException(x *x86.Exception) {
	r := v.run
	sp := r.Regs.RSP
	*x = x86.Exception{
		Vector: x86.Vector(v.stackGet(sp + hvimage.FrameVector)), ErrorCode: v.stackGet(sp + hvimage.FrameError),
		RIP: v.stackGet(sp + hvimage.FrameRIP), CS: v.stackGet(sp + hvimage.FrameCS), RFLAGS: v.stackGet(sp + hvimage.FrameRFLAGS),
		RSP: v.stackGet(sp + hvimage.FrameRSP), SS: v.stackGet(sp + hvimage.FrameSS),
		CR2: r.Sregs.CR2,
	}
	x.CodeLen = v.d.mem.FetchCode(r.Sregs.CR3, x.RIP, x.CPL() == 3, x.Code[:])
}

// trap handles an exception that reached the hypervisor's entry stub: a
// write to a pagetable is emulated (ptwr), anything else is bounced to
// the guest's handler.
func (v *vcpu) trap() outcome {
	r := v.run
	if r.Sregs.CS.DPL != 0 || !v.onCPL0Stack(r.Regs.RSP) {
		return v.fatal(HypervisorFault, r.Regs.RIP, "exception frame not on the CPL0 stack")
	}
	v.traps.active = true
	defer func() { v.traps.active = false }()
	x := &v.traps.exc
	v.readException(x)
	v.traps.frame = r.Regs.RSP
	v.trace.Begin(trace.Trap, uint16(x.Vector), x.RIP, x.CR2)
	if x.Vector < x86.NrExceptions {
		v.stats.Traps[x.Vector]++
	}
	if x.CPL() != 3 {
		return v.fatal(HypervisorFault, x.RIP, x.Describe())
	}
	rax := r.Regs.RAX
	if x.Vector == x86.VectorPF && x.CR2 >= xen.MachToPhysVirtStart && x.CR2 < xen.MachToPhysVirtEnd && v.m2pRead(x) {
		return v.leaveTrap(v.run.Regs.RAX)
	}
	if x.Vector == x86.VectorPF && x.CR2 >= hvimage.CPULDTVA(v.id) && x.CR2 < hvimage.CPULDTVA(v.id)+hvimage.LDTPages*mmu.PageSize {
		if v.ldtFault(x) {
			return v.leaveTrap(rax)
		}
		if v.bounce(x) == stop {
			return stop
		}
		return v.leaveTrap(rax)
	}
	if x.Vector == x86.VectorGP || x.Vector == x86.VectorUD {
		handled, bounce := v.emulatePriv(x)
		if v.d.stopping.Load() {
			return stop
		}
		if handled && !bounce {
			return v.leaveTrap(v.run.Regs.RAX)
		}
		if bounce && v.bounce(x) == stop {
			return stop
		}
		if handled {
			return v.leaveTrap(v.run.Regs.RAX)
		}
	}
	if x.IsWriteFault() {
		var done bool
		done, rax = v.ptwr(x)
		if v.d.stopping.Load() {
			return stop
		}
		if done && v.traps.cas.armed {
			return v.enterExchange(rax)
		}
		if done {
			return v.leaveTrap(rax)
		}
	}
	if v.bounce(x) == stop {
		return stop
	}
	return v.leaveTrap(rax)
}

// leaveTrap releases the executor if the trap used it, handing the guest
// rax, and resumes the stub.
func (v *vcpu) leaveTrap(rax uint64) outcome {
	if v.traps.callbacks.Event != 0 && v.upcallAfterTrap() == stop {
		return stop
	}
	if !v.exec.Finish(rax) && rax != v.run.Regs.RAX {
		v.run.Regs.RAX = rax
		v.run.DirtyRegs |= kvm.SyncRegs
	}
	v.trace.End()
	return resume
}

// ptwr tries to emulate the write that raised #PF x as a write to an L1
// pagetable (Xen's ptwr). It reports whether it did (or asked for the
// instruction to be retried), and the guest's RAX afterwards.
func (v *vcpu) ptwr(x *x86.Exception) (done bool, rax uint64) {
	r := &v.run.Regs
	regs := v.emulRegs(x)
	before := regs.GPR

	rounds := v.stats.ExecRounds
	c := v.lockMMUAs("ptwr", true)
	c.Insns = &v.traps.insns
	c.DeferExchange = v.mayDeferExchange(x)
	w, err := ptops.EmulatePTWrite(c, regs, x.CR2, x.ErrorCode, x.Code[:x.CodeLen])
	if err == nil && w.Deferred {
		// Counted as made: who would move a reference waits for it
		// (marked as the lock is released, after the audit).
		v.mm.exchange, v.mm.exchangePA = true, w.PA
	}
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
		v.traps.lastNotEmulated = err.Error()
		return false, r.RAX
	}
	if v.exec.Parked() {
		// Nothing on this path leaves the executor holding the vCPU; if
		// something did, the registers below would be the executor's.
		v.fatal(HypervisorFault, x.RIP, "ptwr: the executor holds the vCPU after the write")
		return true, r.RAX
	}
	v.stats.PTWrites++
	if w.Op == x86asm.BTR && w.Old&mmu.PTEAccessed != 0 && w.New&mmu.PTEAccessed == 0 {
		v.stats.ClearYoungWrites++
	}
	v.stats.PTWriteExits += v.stats.ExecRounds - rounds // the exchange's round trips
	if w.Pending {
		v.stats.PendingWrites++
		v.trace.Note(trace.OutcomePendingWrite, uint64(w.New))
	} else {
		v.trace.Note(trace.OutcomePTWrite, uint64(w.New))
	}
	young := w.Op == x86asm.BTR && w.Old&mmu.PTEAccessed != 0 && w.New&mmu.PTEAccessed == 0
	if w.Deferred {
		v.traps.cas = casState{armed: true, pa: w.PA, old: w.Old, new: w.New, rip: x.RIP, rflags: x.RFLAGS,
			gprs: before, young: young}
	} else {
		v.stats.PTWriteExits++ // the fault's; a round trip counts its own
	}
	// ptwr's compare-and-exchange ran through the trap path, which leaves
	// the executor free: the vCPU's registers are the guest's (predicted,
	// for a deferred exchange).
	v.emulDone(&before)
	return true, regs.GPR[0]
}

// casState is an emulated pagetable write whose compare-and-exchange the
// vCPU makes on its way back to the guest (hvimage.TrapCASIretVA), with
// what undoes it if the exchange fails: the guest's registers and the
// stub frame's RIP and RFLAGS as they were at the fault.
type casState struct {
	armed       bool
	pa          uint64
	old, new    mmu.PTE
	rip, rflags uint64
	gprs        [16]uint64
	young       bool
}

// mayDeferExchange reports whether the write that raised x may end on the
// one-exit path: the executor is free, the guest is not single-stepping
// (its #DB would follow the instruction), and no event waits to be
// delivered as the trap returns (the path returns to the guest without
// the VMM).
func (v *vcpu) mayDeferExchange(x *x86.Exception) bool {
	return !v.exec.Parked() && x.RFLAGS&x86.FlagTF == 0 &&
		(v.traps.callbacks.Event == 0 || !v.d.evtchn.Shared().EventsNeedDelivery(v.id))
}

// enterExchange sends the vCPU, stopped in the stub of the write fault,
// into the one-exit path with the write's compare-and-exchange, and the
// guest's RAX, RDX and R8 (as the write leaves them) where the path finds
// them: the stub's vector and error code slots and the word below.
func (v *vcpu) enterExchange(rax uint64) outcome {
	r := v.run
	cas := &v.traps.cas
	f := r.Regs.RSP
	v.stackPut(f+hvimage.FrameVector, rax)
	v.stackPut(f+hvimage.FrameError, r.Regs.RDX)
	v.stackPut(f-hvimage.TrapCASSavedR8, r.Regs.R8)
	r.Regs.RAX, r.Regs.R8, r.Regs.RDX = uint64(cas.old), uint64(cas.new), hvimage.Alias(cas.pa)
	r.Regs.RIP = hvimage.TrapCASIretVA
	r.DirtyRegs |= kvm.SyncRegs
	v.stats.PTWriteExits++ // the fault's, and the only one
	v.trace.End()
	return resume
}

// exchangeFailed is the one-exit path's report that the entry changed
// between the emulation and the exchange (the MMU set Accessed or Dirty,
// or another vCPU wrote it): the write is undone, registers and frame as
// at the fault, and the guest makes it again, faulting again.
func (v *vcpu) exchangeFailed() outcome {
	r := v.run
	cas := &v.traps.cas
	cas.armed = false
	v.exec.ExchangeDone()
	for i, p := range kvm.GPRs(&r.Regs) {
		if i != 4 {
			*p = cas.gprs[i]
		}
	}
	f := r.Regs.RSP
	v.stackPut(f+hvimage.FrameRIP, cas.rip)
	v.stackPut(f+hvimage.FrameRFLAGS, cas.rflags)
	r.Regs.RIP = hvimage.TrapResumeVA
	r.DirtyRegs |= kvm.SyncRegs
	v.stats.PTWrites--
	if cas.young {
		v.stats.ClearYoungWrites--
	}
	v.stats.ExchangeFailures++
	v.stats.PTWriteExits++
	return resume
}

// emulRegs loads the registers of the guest at exception x for an
// instruction emulator (v.traps.ptwRegs).
func (v *vcpu) emulRegs(x *x86.Exception) *ptops.Regs {
	regs := &v.traps.ptwRegs
	for i, p := range kvm.GPRs(&v.run.Regs) {
		regs.GPR[i] = *p
	}
	regs.GPR[4], regs.RIP, regs.RFLAGS = x.RSP, x.RIP, x.RFLAGS
	regs.FSBase, regs.GSBase = v.run.Sregs.FS.Base, v.run.Sregs.GS.Base
	return regs
}

// emulDone hands the guest the registers an emulator changed in
// v.traps.ptwRegs since they were before: RIP and RFLAGS through the
// stub's frame, the others but RAX (leaveTrap's) and RSP (unchanged) in
// the vCPU.
func (v *vcpu) emulDone(before *[16]uint64) {
	regs := &v.traps.ptwRegs
	v.stackPut(v.traps.frame+hvimage.FrameRIP, regs.RIP)
	v.stackPut(v.traps.frame+hvimage.FrameRFLAGS, regs.RFLAGS)
	gprs := kvm.GPRs(&v.run.Regs)
	for i, val := range regs.GPR {
		if i == 0 || i == 4 || val == before[i] {
			continue
		}
		*gprs[i] = val
		v.run.DirtyRegs |= kvm.SyncRegs
	}
}

// m2pRead serves a load from Xen's default M2P address that faulted (x),
// as ptops.EmulateM2PRead; it reports whether it did, the guest's RAX then
// in v.run.Regs.
func (v *vcpu) m2pRead(x *x86.Exception) bool {
	regs := v.emulRegs(x)
	before := regs.GPR
	if err := ptops.EmulateM2PRead(&v.traps.insns, regs, x.CR2, x.Code[:x.CodeLen], v.d.boot.NrPages); err != nil {
		v.traps.lastNotEmulated = err.Error()
		return false
	}
	v.emulDone(&before)
	if regs.GPR[0] != before[0] {
		v.run.Regs.RAX = regs.GPR[0]
		v.run.DirtyRegs |= kvm.SyncRegs
	}
	v.stats.Emulations++
	return true
}

// spuriousFault reports whether page fault x would not happen now: the
// guest's tables, as they are under the MMU lock, allow the access.
func (v *vcpu) spuriousFault(x *x86.Exception) bool {
	acc := mmu.AccessUser
	if x.ErrorCode&x86.PFWrite != 0 {
		acc |= mmu.AccessWrite
	}
	if x.ErrorCode&x86.PFFetch != 0 {
		acc |= mmu.AccessFetch
	}
	took := v.lockTables()
	ok := mmu.Translate(v.d.tables, v.run.Sregs.CR3, x.CR2, acc).OK
	v.unlockTables(took)
	return ok
}

// bounce delivers exception x, taken in the entry stub, to the guest's
// handler: the stub's iretq goes there.
func (v *vcpu) bounce(x *x86.Exception) outcome {
	b := v.deliver(x, v.run.Regs.RCX)
	if b == nil {
		return stop
	}
	v.setTrapReturn(b)
	return resume
}

// singleStep delivers the #DB a hypercall made with TF set owes the guest
// once it is done, as Xen does (a trap: the frame names the instruction
// after the hypercall), unless the hypercall was preempted. pvsim has no
// debug registers, so there is no DR6 to say it was a single step.
func (v *vcpu) singleStep() outcome {
	rip, rsp, rflags, rcx := v.exec.Guest()
	if rflags&x86.FlagTF == 0 {
		return resume
	}
	if store, ok := v.doorbellStore(rip); ok && store == rip {
		rip += hvimage.DoorbellInsnLen // KVM had not moved past the store
	}
	x := &v.traps.exc
	*x = x86.Exception{Vector: x86.VectorDB, RIP: rip, CS: xen.FlatRing3CS64, RFLAGS: rflags, RSP: rsp, SS: xen.FlatRing3SS64}
	b := v.deliver(x, rcx)
	if b == nil {
		return stop
	}
	v.exec.ResumeAt(b.RIP, b.SP, b.RFLAGS)
	return resume
}

// deliver computes the bounce of exception x to the guest's handler
// (traps.Deliver) and writes its frame on the guest's stack, with a #PF's
// address in the vCPU's vcpu_info.arch.cr2; from user mode the vCPU goes
// to kernel mode first. An exception the guest cannot take ends the
// domain: deliver then returns nil.
func (v *vcpu) deliver(x *x86.Exception, rcx uint64) *traps.Bounce {
	ts := &v.traps
	b := &ts.bounce
	shared := v.d.evtchn.Shared()
	if err := ts.table.Deliver(x, rcx, v.run.Regs.R11, shared.UpcallMasked(v.id), v.mode(), b); err != nil {
		v.fatal(TripleFault, x.RIP, x.Describe()+v.whyNotEmulated(x)+"; "+err.Error())
		return nil
	}
	if x.Vector == x86.VectorPF {
		binary.LittleEndian.PutUint64(v.vcpuInfo()[xen.VCPUInfoCR2:], x.CR2)
	}
	if !v.writeBounce(b, x.RIP, x) {
		return nil
	}
	v.stats.Bounces++
	ts.lastBounce, ts.bounced = *x, true
	ts.lastBounceWhy = ""
	if x.Vector == x86.VectorPF || x.Vector == x86.VectorGP || x.Vector == x86.VectorUD {
		ts.lastBounceWhy, ts.lastNotEmulated = ts.lastNotEmulated, ""
	}
	return b
}

// writeBounce switches a vCPU in user mode to kernel mode, writes bounce
// b's frame on the kernel's stack and masks upcalls if b says so. The
// frame not writable ends the domain (Xen's domain_crash_page_fault in
// create_bounce_frame): writeBounce then returns false. rip is where the
// guest was and x the exception bounced (nil for a syscall or an event),
// for the report.
func (v *vcpu) writeBounce(b *traps.Bounce, rip uint64, x *x86.Exception) bool {
	v.toKernelMode()
	v.guestMode.kernelCS, v.guestMode.kernelSS = 0, 0 // the handler runs on the flat selectors
	buf := v.hc.buf[:b.N*8]
	for i, q := range b.Frame() {
		binary.LittleEndian.PutUint64(buf[i*8:], q)
	}
	if err := v.writeGuest(b.SP, buf); err != nil {
		what := "a syscall or event upcall"
		if x != nil {
			what = x.Describe()
		}
		v.fatal(TripleFault, rip, fmt.Sprintf("%s; the bounce frame for it at %#x is not writable, so it cannot be delivered", what, b.SP))
		return false
	}
	if b.MaskEvents {
		v.d.evtchn.Shared().SetUpcallMask(v.id, true)
	}
	v.trace.Note(trace.OutcomeBounce, b.RIP)
	return true
}

// whyNotEmulated explains, for a write fault, why ptwr left it alone.
func (v *vcpu) whyNotEmulated(x *x86.Exception) string {
	if v.traps.lastNotEmulated == "" || (x.Vector != x86.VectorPF && x.Vector != x86.VectorGP && x.Vector != x86.VectorUD) {
		return ""
	}
	s := " (" + v.traps.lastNotEmulated + ")"
	v.traps.lastNotEmulated = ""
	return s
}
