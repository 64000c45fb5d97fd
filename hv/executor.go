package hv

import (
	"time"

	"github.com/pvsim/pvsim/hvimage"
	"github.com/pvsim/pvsim/internal/kvm"
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/x86"
)

// executor is the VMM's side of one vCPU's executor (hvimage/executor.go).
// It implements mmu.Executor: stores and TLB operations are queued in the
// command block; an operation that returns a value runs the queue at once
// in a round trip (inject or resume, run, report). At the end of the
// hypercall, finish hands the rest over as the final batch, which the vCPU
// runs on its way back to the guest without another exit.
//
// A vCPU whose executor has reported is parked at CPL0 in it until the
// final batch releases it.
//
// Queued stores are not in memory until a round or the final batch runs
// them. The frame table never runs one to read what they wrote: it reads
// memory through mmuMemory, which lays the queued stores over it
// (queuedStore).
type executor struct {
	v      *vcpu
	cmds   *hvimage.CmdBlock
	parked bool
	// aborted is set when the domain ended during a round trip: results
	// read as zero from then on.
	aborted bool
	// shortPath: the hypercall ends on a short path (clearFlags), which
	// sets the guest's RAX itself.
	shortPath bool
}

func newExecutor(v *vcpu) *executor {
	w := mmu.Translate(v.d.mem, v.d.boot.L4<<mmu.PageShift, hvimage.CPUCmdBlockVA(v.id), mmu.AccessWrite)
	return &executor{v: v, cmds: hvimage.NewCmdBlock(v.d.mem.Bytes(w.PA, mmu.PageSize))}
}

// queued is the number of commands queued.
func (x *executor) queued() int { return x.cmds.Len() }

// markQueued records, as the vCPU releases the MMU lock, that it holds
// stores the frame table already counts: another vCPU must not read or
// change pagetables under the lock until they are in memory. A round
// clears the mark once it has run them; a final batch when it has run.
func (x *executor) markQueued() {
	if x.queued() > 0 {
		x.cmds.Flags().Store(hvimage.CmdQueued)
	}
}

// storesPending reports whether the vCPU holds stores that are counted
// but not yet in memory (markQueued). Any thread may ask.
func (x *executor) storesPending() bool { return x.cmds.Flags().Load() != 0 }

// add queues one command and returns its index.
func (x *executor) add(op hvimage.Op, addr, a, b uint64) int {
	if x.cmds.Full() {
		x.round()
	}
	return x.cmds.Add(op, addr, a, b)
}

func (x *executor) result(i int) uint64 {
	if x.aborted {
		return 0
	}
	return x.cmds.Result(i)
}

// queuedStore returns the value the last queued store to guest-physical
// address pa will write, if one is queued.
func (x *executor) queuedStore(pa uint64) (uint64, bool) { return x.cmds.QueuedStore(alias(pa)) }

// alias is where the executor reaches guest-physical address pa.
func alias(pa uint64) uint64 { return hvimage.Alias(pa) }

// Store implements mmu.Executor.
func (x *executor) Store(pa uint64, v mmu.PTE) { x.add(hvimage.OpStore, alias(pa), uint64(v), 0) }

// Merge implements mmu.Executor.
func (x *executor) Merge(pa uint64, keep, set mmu.PTE) mmu.PTE {
	i := x.add(hvimage.OpMerge, alias(pa), uint64(keep), uint64(set))
	x.round()
	return mmu.PTE(x.result(i))
}

// CmpXchg implements mmu.Executor.
func (x *executor) CmpXchg(pa uint64, old, new mmu.PTE) mmu.PTE {
	if x.queued() == 0 && !x.parked && x.inTrapStub() {
		return x.trapCmpXchg(pa, old, new)
	}
	i := x.add(hvimage.OpCmpXchg, alias(pa), uint64(old), uint64(new))
	x.round()
	return mmu.PTE(x.result(i))
}

// clearFlags ends a hypercall that made no other use of the executor by
// clearing mask in the entry at pa on the short path hv_clear_pte_flags,
// which hands the old bits to the guest in RAX: no exit of its own.
func (x *executor) clearFlags(pa, mask uint64) {
	r := x.v.run
	r.Regs.RSI, r.Regs.RDI, r.Regs.R10 = alias(pa), ^mask, mask
	r.Events.I.Inject, r.Events.I.Nr, r.Events.I.Soft = 1, hvimage.ClearFlagsVector, 0
	r.DirtyRegs |= kvm.SyncRegs | kvm.SyncEvents
	x.shortPath = true
}

// InvalidatePage implements mmu.Executor.
func (x *executor) InvalidatePage(va uint64) { x.add(hvimage.OpInvlpg, va, 0, 0) }

// FlushTLB implements mmu.Executor.
func (x *executor) FlushTLB() { x.add(hvimage.OpFlush, 0, 0, 0) }

// LoadCR3 implements mmu.Executor.
func (x *executor) LoadCR3(cr3 uint64) { x.add(hvimage.OpLoadCR3, 0, cr3, 0) }

// trapCmpXchg runs one compare-and-exchange for a vCPU stopped in an
// exception stub, through the two-instruction path hv_trap_cmpxchg: the
// VMM lends the guest's RAX, R8, RDX and RIP to it and puts them back.
func (x *executor) trapCmpXchg(pa uint64, old, new mmu.PTE) mmu.PTE {
	if x.aborted {
		return 0
	}
	r := &x.v.run.Regs
	rax, r8, rdx, rip := r.RAX, r.R8, r.RDX, r.RIP
	r.RAX, r.R8, r.RDX, r.RIP = uint64(old), uint64(new), alias(pa), hvimage.TrapCmpXchgVA
	x.v.run.DirtyRegs |= kvm.SyncRegs
	start := time.Now()
	ok := x.v.runNested()
	x.v.stats.ExecRounds++
	x.v.stats.ExecTime += time.Since(start)
	if !ok {
		x.aborted = true
		return 0
	}
	found := mmu.PTE(r.RAX)
	r.RAX, r.R8, r.RDX, r.RIP = rax, r8, rdx, rip
	x.v.run.DirtyRegs |= kvm.SyncRegs
	return found
}

// canEnter reports whether the vCPU may be sent into the executor now: it
// is parked there already, or it is at CPL3 with interrupts on, not in an
// interrupt shadow, and with no event still waiting to be delivered (KVM
// may leave an exception pending when a kick ends KVM_RUN; it would be
// delivered first and take the vCPU into a trap stub, not the executor),
// or it is in an exception stub about to return to the guest.
func (x *executor) canEnter() bool {
	r := x.v.run
	if x.parked || x.inTrapStub() {
		return true
	}
	e := &r.Events
	return r.Sregs.CS.DPL == 3 && r.Regs.RFLAGS&x86.FlagIF != 0 && e.I.Inject == 0 && e.I.Shadow == 0 &&
		e.E.Inject == 0 && e.E.Pending == 0 && e.N.Inject == 0 && e.N.Pending == 0
}

func (x *executor) inTrapStub() bool {
	r := x.v.run
	return r.Sregs.CS.DPL == 0 && r.Regs.RIP == hvimage.TrapResumeVA
}

// enter sends the vCPU into the executor when it next runs. From the
// guest (CPL3) that is an injected interrupt through the executor's gate.
// From an exception stub (CPL0, interrupts off, where VMX would refuse to
// inject) the VMM points RIP at the executor and RSP at the exception
// frame the CPU pushed, past the stub's vector and error code: the
// executor's iretq then returns straight to the guest, as the stub's
// would have.
func (x *executor) enter() {
	if x.parked {
		return
	}
	r := x.v.run
	if x.inTrapStub() {
		r.Regs.RSP, r.Regs.RIP = r.Regs.RSP+hvimage.FrameRIP, hvimage.ExecEntryVA
		r.DirtyRegs |= kvm.SyncRegs
		return
	}
	r.Events.I.Inject, r.Events.I.Nr, r.Events.I.Soft = 1, hvimage.ExecVector, 0
	r.DirtyRegs |= kvm.SyncEvents
}

// round runs the queued commands now and waits for the executor's report.
func (x *executor) round() {
	if x.aborted {
		x.cmds.Drop()
		return
	}
	x.cmds.Submit(false, 0)
	x.enter()
	start := time.Now()
	x.parked = x.v.runNested()
	x.cmds.Flags().Store(0)
	x.v.stats.ExecRounds++
	x.v.stats.ExecTime += time.Since(start)
	x.aborted = !x.parked
}

// finish ends the hypercall's use of the executor. If it used it, the
// queued commands become the final batch and the executor hands ret to the
// guest in RAX; finish then reports true. Otherwise the caller returns ret
// itself.
func (x *executor) finish(ret uint64) bool {
	if x.shortPath {
		x.shortPath = false
		return true
	}
	if x.aborted {
		x.cmds.Drop()
		x.aborted, x.parked = false, false
		return true
	}
	if x.queued() == 0 && !x.parked {
		return false
	}
	if v := x.v; v.d.det != nil {
		// A flush another vCPU asked for rides in the final batch, which
		// runs before the guest does.
		if gen := v.flush.gen.Load(); gen != v.flush.done.Load() {
			x.FlushTLB()
			v.stats.RemoteFlushes++
			v.flush.done.Store(gen)
		}
	}
	x.cmds.Submit(true, ret)
	x.enter()
	x.parked = false
	return true
}

// runNested runs the vCPU inside a hypercall until the executor reports.
// It returns false if the domain ended, or failed, meanwhile.
func (v *vcpu) runNested() bool {
	r := v.run
	for {
		r.ClearImmediateExit()
		if v.d.stopping.Load() {
			return false
		}
		interrupted, err := v.kvm.Enter()
		if err != nil {
			v.d.end(Result{}, err)
			return false
		}
		if interrupted {
			v.stats.Interrupted++
			continue
		}
		v.countExit()
		if r.ExitReason == kvm.ExitIO && r.IO().Port == hvimage.ExecPort {
			return true
		}
		v.exit() // a fault in the executor: it ends the domain
		return false
	}
}
