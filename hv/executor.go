package hv

import (
	"encoding/binary"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/pvsim/pvsim/mmu"
)

// executor is the VMM's side of one vCPU's executor (see executor_code.go).
// It implements mmu.Executor: stores and TLB operations are queued in the
// command block; an operation that returns a value runs the queue at once
// in a round trip (inject or resume, run, report). At the end of the
// hypercall, finish hands the rest over as the final batch, which the vCPU
// runs on its way back to the guest without another exit.
//
// A vCPU whose executor has reported is parked at CPL0 in it until the
// final batch releases it.
type executor struct {
	v      *vcpu
	block  []byte // host view of the command block
	n      int    // queued commands
	parked bool
	// aborted is set when the domain ended during a round trip: results
	// read as zero from then on.
	aborted bool
	// shortPath: the hypercall ends on a short path (clearFlags), which
	// sets the guest's RAX itself.
	shortPath bool
}

func newExecutor(v *vcpu) *executor {
	w := mmu.Translate(v.d.mem, v.d.boot.l4<<mmu.PageShift, cpuAreaVA(v.id)+cmdBlockOff, mmu.AccessWrite)
	return &executor{v: v, block: v.d.mem.bytes(w.PA, mmu.PageSize)}
}

func (x *executor) put(off int, val uint64) { binary.LittleEndian.PutUint64(x.block[off:], val) }
func (x *executor) get(off int) uint64      { return binary.LittleEndian.Uint64(x.block[off:]) }

// flags is the block's cmdFlags word, which other vCPUs' threads read
// while the guest's executor clears it.
func (x *executor) flags() *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Pointer(&x.block[cmdFlags]))
}

// markQueued records, as the vCPU releases the MMU lock, that it holds
// stores the frame table already counts: another vCPU must not read or
// change pagetables under the lock until they are in memory. A round
// clears the mark once it has run them; a final batch when it has run.
func (x *executor) markQueued() {
	if x.n > 0 {
		x.flags().Store(cmdQueued)
	}
}

// storesPending reports whether the vCPU holds stores that are counted
// but not yet in memory (markQueued).
func (x *executor) storesPending() bool { return x.flags().Load() != 0 }

// add queues one command and returns its index.
func (x *executor) add(op, addr, a, b uint64) int {
	if x.n == maxCommands {
		x.round()
	}
	i := x.n
	c := cmdFirst + i*cmdSize
	x.put(c, op)
	x.put(c+8, addr)
	x.put(c+16, a)
	x.put(c+24, b)
	x.n++
	return i
}

func (x *executor) result(i int) uint64 {
	if x.aborted {
		return 0
	}
	return x.get(cmdFirst + i*cmdSize + 32)
}

// alias is where the executor reaches guest-physical address pa.
func alias(pa uint64) uint64 { return hvAliasVA + pa }

// Store implements mmu.Executor.
func (x *executor) Store(pa uint64, v mmu.PTE) { x.add(opStore, alias(pa), uint64(v), 0) }

// Merge implements mmu.Executor.
func (x *executor) Merge(pa uint64, keep, set mmu.PTE) mmu.PTE {
	i := x.add(opMerge, alias(pa), uint64(keep), uint64(set))
	x.round()
	return mmu.PTE(x.result(i))
}

// CmpXchg implements mmu.Executor.
func (x *executor) CmpXchg(pa uint64, old, new mmu.PTE) mmu.PTE {
	if x.n == 0 && !x.parked && x.inTrapStub() {
		return x.trapCmpXchg(pa, old, new)
	}
	i := x.add(opCmpXchg, alias(pa), uint64(old), uint64(new))
	x.round()
	return mmu.PTE(x.result(i))
}

// clearFlags ends a hypercall that made no other use of the executor by
// clearing mask in the entry at pa on the short path at clearFlagsOff,
// which hands the old bits to the guest in RAX: no exit of its own.
func (x *executor) clearFlags(pa, mask uint64) {
	r := x.v.run
	r.regs.RSI, r.regs.RDI, r.regs.R10 = alias(pa), ^mask, mask
	r.events.I.Inject, r.events.I.Nr, r.events.I.Soft = 1, clearFlagsVector, 0
	r.dirtyRegs |= syncRegs | syncEvents
	x.shortPath = true
}

// InvalidatePage implements mmu.Executor.
func (x *executor) InvalidatePage(va uint64) { x.add(opInvlpg, va, 0, 0) }

// FlushTLB implements mmu.Executor.
func (x *executor) FlushTLB() { x.add(opFlush, 0, 0, 0) }

// LoadCR3 implements mmu.Executor.
func (x *executor) LoadCR3(cr3 uint64) { x.add(opLoadCR3, 0, cr3, 0) }

// trapCmpXchg runs one compare-and-exchange for a vCPU stopped in an
// exception stub, through the two-instruction path at trapCmpXchgOff: the
// VMM lends the guest's RAX, R8, RDX and RIP to it and puts them back.
func (x *executor) trapCmpXchg(pa uint64, old, new mmu.PTE) mmu.PTE {
	if x.aborted {
		return 0
	}
	r := &x.v.run.regs
	rax, r8, rdx, rip := r.RAX, r.R8, r.RDX, r.RIP
	r.RAX, r.R8, r.RDX, r.RIP = uint64(old), uint64(new), alias(pa), hvTextVA+trapCmpXchgOff
	x.v.run.dirtyRegs |= syncRegs
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
	x.v.run.dirtyRegs |= syncRegs
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
	e := &r.events
	return r.sregs.CS.DPL == 3 && r.regs.RFLAGS&rflagsIF != 0 && e.I.Inject == 0 && e.I.Shadow == 0 &&
		e.E.Inject == 0 && e.E.Pending == 0 && e.N.Inject == 0 && e.N.Pending == 0
}

func (x *executor) inTrapStub() bool {
	r := x.v.run
	return r.sregs.CS.DPL == 0 && r.regs.RIP == trapResumeVA
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
		r.regs.RSP, r.regs.RIP = r.regs.RSP+frameRIP, hvTextVA+execCodeOff
		r.dirtyRegs |= syncRegs
		return
	}
	r.events.I.Inject, r.events.I.Nr, r.events.I.Soft = 1, execVector, 0
	r.dirtyRegs |= syncEvents
}

// round runs the queued commands now and waits for the executor's report.
func (x *executor) round() {
	if x.aborted {
		x.n = 0
		return
	}
	x.put(cmdCount, uint64(x.n))
	x.flags().Store(x.flags().Load() & cmdQueued) // not final
	x.enter()
	start := time.Now()
	x.parked = x.v.runNested()
	x.flags().Store(0)
	x.v.stats.ExecRounds++
	x.v.stats.ExecTime += time.Since(start)
	x.aborted = !x.parked
	x.n = 0
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
		x.aborted, x.parked, x.n = false, false, 0
		return true
	}
	if x.n == 0 && !x.parked {
		return false
	}
	if v := x.v; v.d.det != nil {
		// A flush another vCPU asked for rides in the final batch, which
		// runs before the guest does.
		if gen := v.flushGen.Load(); gen != v.flushDone.Load() {
			x.FlushTLB()
			v.stats.RemoteFlushes++
			v.flushDone.Store(gen)
		}
	}
	x.put(cmdCount, uint64(x.n))
	x.put(cmdRet, ret)
	x.flags().Store(cmdFinal | x.flags().Load()&cmdQueued)
	x.enter()
	x.parked, x.n = false, 0
	return true
}

// runNested runs the vCPU inside a hypercall until the executor reports.
// It returns false if the domain ended, or failed, meanwhile.
func (v *vcpu) runNested() bool {
	r := v.run
	for {
		r.clearImmediateExit()
		if v.d.stopping.Load() {
			return false
		}
		r.validRegs = syncRegs | syncSregs | syncEvents
		interrupted, err := runVCPU(v.fd)
		if err != nil {
			v.d.end(Result{}, err)
			return false
		}
		if interrupted {
			v.stats.Interrupted++
			continue
		}
		v.countExit()
		if r.exitReason == exitIO && r.io().port == execPort {
			return true
		}
		v.exit() // a fault in the executor: it ends the domain
		return false
	}
}
