// Package executor is the VMM's side of one vCPU's executor: the CPL0 code
// in the hypervisor region (hvimage) that makes every write to a frame
// that is, or may be, a pagetable, in guest context (DESIGN.md §2). An
// Executor implements mmu.Executor: stores and TLB operations are queued
// in the vCPU's command block; an operation that returns a value runs the
// queue at once in a round trip (enter, run, report); and at the end of a
// hypercall or trap, Finish hands the rest over as the final batch, which
// the vCPU runs on its way back to the guest without another exit. Two
// short paths serve the hottest operations in fewer emulated
// instructions: a compare-and-exchange for a vCPU stopped in an exception
// stub (ptwr), and pvsim_op test_and_clear_pte_flags on Accessed and Dirty.
//
// An Executor belongs to its vCPU's thread; only StoresPending may be
// called from other threads, and MayStore from other threads holding the
// MMU lock.
package executor

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/pvsim/pvsim/hvimage"
	"github.com/pvsim/pvsim/internal/kvm"
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/trace"
	"github.com/pvsim/pvsim/x86"
)

// Executor is one vCPU's executor. A vCPU whose executor has reported is
// parked at CPL0 in it until the final batch releases it.
//
// Queued stores are not in memory until a round or the final batch runs
// them. The frame table never runs one to read what they wrote: it lays
// them over memory (QueuedStore).
type Executor struct {
	run  *kvm.Run
	cmds *hvimage.CmdBlock
	// top is the host view of the top page of the vCPU's CPL0 stack.
	top []byte
	// nested runs the vCPU until the executor reports; false if the
	// domain ended meanwhile.
	nested func() bool
	// beforeFinal adds what must ride in a final batch; may be nil.
	beforeFinal func(*Executor)
	stats       *trace.ExitStats
	parked      bool
	// aborted is set when the domain ended during a round trip: results
	// read as zero from then on.
	aborted bool
	// shortPath: the hypercall ends on a short path (ClearFlags), which
	// sets the guest's RAX itself.
	shortPath bool
	// marked holds the addresses of the commands MarkQueued last marked
	// that write memory: MayStore's answer.
	marked  [hvimage.MaxCommands]uint64
	nMarked int
}

// New makes the executor of the vCPU whose kvm_run area is run, whose
// command block's host view is block, and the top page of whose CPL0 stack
// is top (the page below hvimage.CPUStackTop). nested runs the vCPU until the
// executor reports (a KVM_EXIT_IO to hvimage.ExecPort) and returns false
// if the domain ended meanwhile; beforeFinal, if not nil, is called as a
// final batch is handed over; round trips are counted in stats.
func New(run *kvm.Run, block, top []byte, stats *trace.ExitStats, nested func() bool, beforeFinal func(*Executor)) *Executor {
	return &Executor{run: run, cmds: hvimage.NewCmdBlock(block), top: top, nested: nested, beforeFinal: beforeFinal, stats: stats}
}

// GuestRIP is where the guest resumes (Guest's rip).
//
// Precondition: as Redirect's.
func (x *Executor) GuestRIP() uint64 {
	rip, _, _, _ := x.Guest()
	return rip
}

// Guest returns the guest's RIP, RSP, RFLAGS and RCX as it will resume:
// the vCPU's, or while it is parked in the executor, those saved on its
// CPL0 stack.
//
// Precondition: as Redirect's.
func (x *Executor) Guest() (rip, rsp, rflags, rcx uint64) {
	r := &x.run.Regs
	return x.guest(hvimage.ExecSavedRIP, &r.RIP), x.guest(hvimage.ExecSavedRSP, &r.RSP),
		x.guest(hvimage.ExecSavedRFLAGS, &r.RFLAGS), x.guest(hvimage.ExecSavedRCX, &r.RCX)
}

// Redirect makes the guest, when it next runs, resume at rip with RDI, RSI
// and RDX as given: a hypercall's continuation.
//
// Precondition: the vCPU exited from the guest at CPL3 (a hypercall), so a
// parked executor was entered through its gate.
func (x *Executor) Redirect(rip, rdi, rsi, rdx uint64) {
	r := &x.run.Regs
	x.setGuest(hvimage.ExecSavedRIP, &r.RIP, rip)
	x.setGuest(hvimage.ExecSavedRDI, &r.RDI, rdi)
	x.setGuest(hvimage.ExecSavedRSI, &r.RSI, rsi)
	x.setGuest(hvimage.ExecSavedRDX, &r.RDX, rdx)
}

// ResumeAt makes the guest, when it next runs, resume at rip with rsp
// and rflags, in the same code and stack segments: a bounce after the
// hypercall.
//
// Precondition: as Redirect's.
func (x *Executor) ResumeAt(rip, rsp, rflags uint64) {
	r := &x.run.Regs
	x.setGuest(hvimage.ExecSavedRIP, &r.RIP, rip)
	x.setGuest(hvimage.ExecSavedRSP, &r.RSP, rsp)
	x.setGuest(hvimage.ExecSavedRFLAGS, &r.RFLAGS, rflags)
}

// guest reads one of the guest's registers as it will resume: reg, the
// vCPU's own, or while the vCPU is parked in the executor (whose registers
// the vCPU's are then) the copy saved at offset off below the top of its
// CPL0 stack, which the executor restores when it leaves.
func (x *Executor) guest(off int, reg *uint64) uint64 {
	if x.parked {
		return x.saved(off)
	}
	return *reg
}

// setGuest sets one of the guest's registers as it will resume; see guest.
func (x *Executor) setGuest(off int, reg *uint64, val uint64) {
	if x.parked {
		binary.LittleEndian.PutUint64(x.top[mmu.PageSize-off:], val)
		return
	}
	*reg = val
	x.run.DirtyRegs |= kvm.SyncRegs
}

func (x *Executor) saved(off int) uint64 { return binary.LittleEndian.Uint64(x.top[mmu.PageSize-off:]) }

// Spurious handles a report from an executor that was not asked to run:
// entered through its gate with nothing handed over (an injection
// delivered twice, say), it ran no command, and the vCPU leaves it for the
// guest with the RAX the executor saved. It reports false, and leaves the
// executor alone, if there was something to run or a round is waiting.
//
// Precondition: the executor reported with its stack as the gate left it
// (RSP at the top of the CPL0 stack less hvimage.ExecSavedR8).
func (x *Executor) Spurious() bool {
	if x.parked || !x.cmds.Idle() || x.Queued() > 0 {
		return false
	}
	x.cmds.Submit(true, x.saved(hvimage.ExecSavedRAX))
	return true
}

// Queued is the number of commands queued.
func (x *Executor) Queued() int { return x.cmds.Len() }

// Parked reports whether the vCPU is parked in the executor.
func (x *Executor) Parked() bool { return x.parked }

// String describes the executor's state, for reports of a fault in it.
func (x *Executor) String() string {
	return fmt.Sprintf("parked %v, %d queued, flags %#x, count %d", x.parked, x.Queued(), x.cmds.Flags().Load(), x.cmds.Count())
}

// MarkQueued records, as the vCPU releases the MMU lock, that it holds
// stores the frame table already counts: another vCPU must not read or
// change pagetables under the lock until they are in memory. A round
// clears the mark once it has run them; a final batch when it has run.
func (x *Executor) MarkQueued() {
	if x.Queued() == 0 {
		return
	}
	x.nMarked = 0
	for i := range x.Queued() {
		switch op, addr := x.cmds.Cmd(i); op {
		case hvimage.OpStore, hvimage.OpMerge, hvimage.OpCmpXchg:
			x.marked[x.nMarked] = addr
			x.nMarked++
		}
	}
	x.cmds.Flags().Store(hvimage.CmdQueued)
}

// MarkExchange marks, as MarkQueued does, a compare-and-exchange of the
// entry at guest-physical address pa that the vCPU makes on its way back
// to the guest, outside any round or batch (hvimage.TrapCASIretVA): the
// path clears the mark once the exchange is made; ExchangeDone clears it
// when the path reports a failed one instead.
func (x *Executor) MarkExchange(pa uint64) {
	x.marked[0], x.nMarked = alias(pa&^7), 1
	x.cmds.Flags().Store(hvimage.CmdQueued)
}

// ExchangeDone clears MarkExchange's mark.
func (x *Executor) ExchangeDone() { x.cmds.Flags().Store(0) }

// MayStore reports whether the commands MarkQueued marked may write the
// quadword at guest-physical address pa; TLB operations write none.
//
// Precondition: StoresPending, and the caller holds the MMU lock under
// which MarkQueued was called.
func (x *Executor) MayStore(pa uint64) bool {
	a := alias(pa &^ 7)
	for _, m := range x.marked[:x.nMarked] {
		if m == a {
			return true
		}
	}
	return false
}

// StoresPending reports whether the vCPU holds stores that are counted
// but not yet in memory (MarkQueued). Any thread may ask.
func (x *Executor) StoresPending() bool { return x.cmds.Flags().Load() != 0 }

// add queues one command and returns its index.
func (x *Executor) add(op hvimage.Op, addr, a, b uint64) int {
	if x.cmds.Full() {
		x.Round()
	}
	return x.cmds.Add(op, addr, a, b)
}

func (x *Executor) result(i int) uint64 {
	if x.aborted {
		return 0
	}
	return x.cmds.Result(i)
}

// QueuedStore returns the value the last queued store to guest-physical
// address pa will write, if one is queued.
func (x *Executor) QueuedStore(pa uint64) (uint64, bool) { return x.cmds.QueuedStore(alias(pa)) }

// alias is where the executor reaches guest-physical address pa.
func alias(pa uint64) uint64 { return hvimage.Alias(pa) }

// Store implements mmu.Executor.
func (x *Executor) Store(pa uint64, v mmu.PTE) { x.add(hvimage.OpStore, alias(pa), uint64(v), 0) }

// Merge implements mmu.Executor.
func (x *Executor) Merge(pa uint64, keep, set mmu.PTE) mmu.PTE {
	i := x.add(hvimage.OpMerge, alias(pa), uint64(keep), uint64(set))
	x.Round()
	return mmu.PTE(x.result(i))
}

// CmpXchg implements mmu.Executor.
func (x *Executor) CmpXchg(pa uint64, old, new mmu.PTE) mmu.PTE {
	if x.Queued() == 0 && !x.parked && x.inTrapStub() {
		return x.trapCmpXchg(pa, old, new)
	}
	i := x.add(hvimage.OpCmpXchg, alias(pa), uint64(old), uint64(new))
	x.Round()
	return mmu.PTE(x.result(i))
}

// ClearFlags ends a hypercall that made no other use of the executor by
// clearing mask in the entry at pa on the short path hv_clear_pte_flags,
// which hands the old bits to the guest in RAX: no exit of its own.
func (x *Executor) ClearFlags(pa, mask uint64) {
	r := x.run
	r.Regs.RSI, r.Regs.RDI, r.Regs.R10 = alias(pa), ^mask, mask
	r.Events.I.Inject, r.Events.I.Nr, r.Events.I.Soft = 1, hvimage.ClearFlagsVector, 0
	r.DirtyRegs |= kvm.SyncRegs | kvm.SyncEvents
	x.shortPath = true
}

// InvalidatePage implements mmu.Executor.
func (x *Executor) InvalidatePage(va uint64) { x.add(hvimage.OpInvlpg, va, 0, 0) }

// FlushTLB implements mmu.Executor.
func (x *Executor) FlushTLB() { x.add(hvimage.OpFlush, 0, 0, 0) }

// LoadCR3 implements mmu.Executor.
func (x *Executor) LoadCR3(cr3 uint64) { x.add(hvimage.OpLoadCR3, 0, cr3, 0) }

// trapCmpXchg runs one compare-and-exchange for a vCPU stopped in an
// exception stub, through the two-instruction path hv_trap_cmpxchg: the
// VMM lends the guest's RAX, R8, RDX and RIP to it and puts them back.
func (x *Executor) trapCmpXchg(pa uint64, old, new mmu.PTE) mmu.PTE {
	if x.aborted {
		return 0
	}
	r := &x.run.Regs
	rax, r8, rdx, rip := r.RAX, r.R8, r.RDX, r.RIP
	r.RAX, r.R8, r.RDX, r.RIP = uint64(old), uint64(new), alias(pa), hvimage.TrapCmpXchgVA
	x.run.DirtyRegs |= kvm.SyncRegs
	start := time.Now()
	ok := x.nested()
	x.stats.ExecRounds++
	x.stats.ExecTime += time.Since(start)
	if !ok {
		x.aborted = true
		return 0
	}
	found := mmu.PTE(r.RAX)
	r.RAX, r.R8, r.RDX, r.RIP = rax, r8, rdx, rip
	x.run.DirtyRegs |= kvm.SyncRegs
	return found
}

// CanEnter reports whether the vCPU may be sent into the executor now: it
// is parked there already, or it is at CPL3 with interrupts on, not in an
// interrupt shadow, and with no event still waiting to be delivered (KVM
// may leave an exception pending when a kick ends KVM_RUN; it would be
// delivered first and take the vCPU into a trap stub, not the executor),
// or it is in an exception stub about to return to the guest.
func (x *Executor) CanEnter() bool {
	r := x.run
	if x.parked || x.inTrapStub() {
		return true
	}
	e := &r.Events
	return r.Sregs.CS.DPL == 3 && r.Regs.RFLAGS&x86.FlagIF != 0 && e.I.Inject == 0 && e.I.Shadow == 0 &&
		e.E.Inject == 0 && e.E.Pending == 0 && e.N.Inject == 0 && e.N.Pending == 0
}

func (x *Executor) inTrapStub() bool {
	r := x.run
	return r.Sregs.CS.DPL == 0 && r.Regs.RIP == hvimage.TrapResumeVA
}

// enter sends the vCPU into the executor when it next runs. From the
// guest (CPL3) that is an injected interrupt through the executor's gate.
// From an exception stub (CPL0, interrupts off, where VMX would refuse to
// inject) the VMM points RIP at the executor and RSP at the exception
// frame the CPU pushed, past the stub's vector and error code: the
// executor's iretq then returns straight to the guest, as the stub's
// would have.
func (x *Executor) enter() {
	if x.parked {
		return
	}
	r := x.run
	if x.inTrapStub() {
		r.Regs.RSP, r.Regs.RIP = r.Regs.RSP+hvimage.FrameRIP, hvimage.ExecEntryVA
		r.DirtyRegs |= kvm.SyncRegs
		return
	}
	r.Events.I.Inject, r.Events.I.Nr, r.Events.I.Soft = 1, hvimage.ExecVector, 0
	r.DirtyRegs |= kvm.SyncEvents
}

// Round runs the queued commands now and waits for the executor's report.
func (x *Executor) Round() {
	if x.aborted {
		x.cmds.Drop()
		return
	}
	x.cmds.Submit(false, 0)
	x.enter()
	start := time.Now()
	x.parked = x.nested()
	x.cmds.Done()
	x.cmds.Flags().Store(0)
	x.stats.ExecRounds++
	x.stats.ExecTime += time.Since(start)
	x.aborted = !x.parked
}

// Finish ends the hypercall's (or trap's) use of the executor. If it used it, the
// queued commands become the final batch and the executor hands ret to the
// guest in RAX; finish then reports true. Otherwise the caller returns ret
// itself.
func (x *Executor) Finish(ret uint64) bool {
	if x.shortPath {
		x.shortPath = false
		return true
	}
	if x.aborted {
		x.cmds.Drop()
		x.aborted, x.parked = false, false
		return true
	}
	if x.Queued() == 0 && !x.parked {
		return false
	}
	if x.beforeFinal != nil {
		x.beforeFinal(x)
	}
	x.cmds.Submit(true, ret)
	x.enter()
	x.parked = false
	return true
}
