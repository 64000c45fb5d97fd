package hv

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/pvsim/pvsim/executor"
	"github.com/pvsim/pvsim/hvimage"
	"github.com/pvsim/pvsim/internal/kvm"
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/ptops"
	"github.com/pvsim/pvsim/tlb"
	"github.com/pvsim/pvsim/trace"
	"github.com/pvsim/pvsim/traps"
	"github.com/pvsim/pvsim/x86"
	"github.com/pvsim/pvsim/xen"
)

// State is where a vCPU is in its life, as VCPUOP_initialise and VCPUOP_up
// move it.
type State int32

const (
	Down        State = iota // no context yet
	Initialised              // VCPUOP_initialise done
	Up                       // running, or about to
)

var stateNames = [...]string{Down: "down", Initialised: "initialised", Up: "up"}

func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state %d", int32(s))
}

// stateVar is a vCPU's State, read by every vCPU, written under the
// vCPU's startMu.
type stateVar struct{ v atomic.Int32 }

func (s *stateVar) Load() State       { return State(s.v.Load()) }
func (s *stateVar) Store(state State) { s.v.Store(int32(state)) }

// outcome is what handling one exit leaves the vCPU loop to do, as
// Firecracker's VcpuEmulation.
type outcome uint8

const (
	resume outcome = iota // the exit is handled: enter the guest again
	stop                  // the domain has ended (Domain.end recorded why)
)

// vcpu is one virtual CPU and its exit loop. Its state is grouped by
// concern; unless a group says otherwise, only the vCPU's own thread
// touches it.
type vcpu struct {
	d   *Domain
	id  int
	kvm *kvm.VCPU
	run *kvm.Run // kvm.Run, the sync-regs area

	// startMu serialises VCPUOP_initialise and VCPUOP_up on this vCPU,
	// which other vCPUs issue: it guards start until the vCPU is up, and
	// changes of state.
	startMu sync.Mutex
	start   startContext
	state   stateVar
	upCh    chan struct{} // closed by VCPUOP_up

	tid     atomic.Int32 // the vCPU thread's, while it runs: for kicks
	entered bool         // has run guest code
	lastRIP uint64       // where it stopped, for reports
	stats   trace.ExitStats
	exits   uint64 // for the guest's exit-counter page

	hc        hypercallState
	traps     trapState
	guestMode modeState // kernel or user (mode.go)
	ldt       ldtState  // the LDT shadow (ldt.go)
	mm        mmuState
	gdt       ptops.GDT // the guest part of its GDT (set_gdt)
	// runstate is the guest address of its vcpu_runstate_info, or 0
	// (VCPUOP_register_runstate_memory_area).
	runstate uint64
	// infoAddr is the guest-physical address of its vcpu_info once the
	// guest has moved it out of shared_info (VCPUOP_register_vcpu_info),
	// or 0; written under the domain's MMU lock.
	infoAddr uint64
	priv     privState // emulated instructions' state (emulate.go)
	exec     *executor.Executor
	flush    *tlb.Flusher
	// Method values made once, for flush waits.
	kickFn  func(int)
	serveFn func() bool
	trace   trace.Ring

	restored *kvmState // the registers a vCPU restored from a snapshot starts with

	// timers are its singleshot, periodic and poll timers (time.go).
	timers vcpuTimers
	// wake wakes it from SCHEDOP_block and SCHEDOP_poll (any thread
	// sends, without blocking); polling is set while it polls.
	wake    chan struct{}
	polling atomic.Bool
}

// startContext is the context the vCPU starts with: vCPU0's from the
// domain builder, the others' from VCPUOP_initialise. Once the vCPU is up,
// cr3 follows its current pagetable base and gsBaseUser its user GS base.
type startContext struct {
	regs           kvm.Regs
	cr3            uint64
	userBase       uint64 // MMUEXT_NEW_USER_BASEPTR's frame, 0 if none
	fsBase, gsBase uint64
	gsBaseUser     uint64
	ldt            ptops.LDT // MMUEXT_SET_LDT's
	// What VCPUOP_initialise gives besides, applied as the vCPU starts:
	// its selectors (0 for Xen's flat ones), virtual IDT (nil for none),
	// kernel stack, callbacks and virtual IOPL.
	cs, ss             uint16
	table              *traps.Table
	kernelSS, kernelSP uint64
	callbacks          traps.Callbacks
	iopl               int
}

func newVCPU(d *Domain, id int) (*vcpu, error) {
	c, err := d.vm.CreateVCPU(id)
	if err != nil {
		return nil, err
	}
	v := &vcpu{d: d, id: id, kvm: c, run: c.Run, upCh: make(chan struct{}), wake: make(chan struct{}, 1)}
	if err := v.initTime(); err != nil {
		c.Close()
		return nil, err
	}
	v.start.regs.RFLAGS = x86.FlagIF | x86.FlagRes1
	for i := range v.traps.stack {
		va := hvimage.CPUStackVA(id) + uint64(i)*mmu.PageSize
		w := mmu.Translate(d.mem, d.boot.L4<<mmu.PageShift, va, mmu.AccessWrite)
		v.traps.stack[i] = d.mem.Bytes(w.PA, mmu.PageSize)
	}
	v.exec = newExecutor(v)
	v.priv.env.v = v
	v.priv.dr[6], v.priv.dr[7] = dr6Default, dr7Default
	v.trace.Init(id, d.cfg.TraceEvents, d.now)
	v.flush = tlb.NewFlusher()
	v.kickFn = func(i int) { d.vcpus[i].kick() }
	v.serveFn = func() bool {
		if !v.exec.CanEnter() {
			return false
		}
		v.serveFlush()
		return true
	}
	v.mm.readGuestFn = func(va uint64, b []byte) error { return v.readGuest(b, va) }
	v.mm.settleFn = d.mmu.Settle
	v.mm.flushFn = v.flushTLB
	return v, nil
}

func (v *vcpu) close() {
	v.trace.Release()
	v.kvm.Close()
}

// kickSignal interrupts a vCPU thread in KVM_RUN. The Go runtime already
// handles SIGURG (for preemption) and ignores it otherwise.
const kickSignal = syscall.SIGURG

// kick makes the vCPU leave KVM_RUN soon: now if it is in the guest, or at
// its next entry. Any thread may call it.
func (v *vcpu) kick() {
	v.wakeUp()
	v.run.ArmImmediateExit()
	if tid := v.tid.Load(); tid != 0 {
		syscall.Tgkill(os.Getpid(), int(tid), kickSignal)
	}
}

// enterGuestState loads the registers the vCPU starts with: CPL3 on Xen's
// flat ring-3 selectors, the hypervisor's GDT, IDT and TSS for this vCPU,
// paging on with its CR3.
func (v *vcpu) enterGuestState() error {
	s, err := v.kvm.Sregs()
	if err != nil {
		return err
	}
	flat := kvm.Segment{Limit: 0xffffffff, Present: 1, DPL: 3, S: 1, G: 1}
	s.CS = flat
	s.CS.Selector, s.CS.Typ, s.CS.L = xen.FlatRing3CS64, x86.TypeCodeExecReadAccessed, 1
	s.SS = flat
	s.SS.Selector, s.SS.Typ, s.SS.DB = xen.FlatRing3SS64, x86.TypeDataRWAccessed, 1
	if st := &v.start; st.cs != 0 {
		// VCPUOP_initialise's selectors, from the GDT it gave.
		cs, okCS := v.segment(st.cs, true)
		ss, okSS := v.segment(st.ss, false)
		if !okCS || !okSS {
			return fmt.Errorf("VCPUOP_initialise gave cs %#x, ss %#x, which the processor would not load", st.cs, st.ss)
		}
		s.CS, s.SS = cs, ss
		v.guestMode.kernelCS, v.guestMode.kernelSS = st.cs, st.ss
	}
	null := kvm.Segment{Unusable: 1}
	s.DS, s.ES, s.FS, s.GS = null, null, null, null
	s.FS.Base, s.GS.Base = v.start.fsBase, v.start.gsBase
	s.TR = kvm.Segment{Base: hvimage.CPUTSSVA(v.id), Limit: hvimage.TSSLimit, Selector: xen.TSSSelector, Typ: x86.TypeTSS64Busy, Present: 1}
	s.LDT = ldtSegment(v.id, v.start.ldt.Ents)
	s.GDT = kvm.Descriptor{Base: hvimage.CPUGDTVA(v.id), Limit: hvimage.GDTLimit}
	s.IDT = kvm.Descriptor{Base: hvimage.IDTVA, Limit: mmu.PageSize - 1}
	s.CR0 = x86.CR0PG | x86.CR0AM | x86.CR0WP | x86.CR0NE | x86.CR0ET | x86.CR0MP | x86.CR0PE
	s.CR3 = v.start.cr3
	s.CR4 = x86.CR4OSXMMEXCPT | x86.CR4OSFXSR | x86.CR4PAE
	s.EFER = x86.EFERNXE | x86.EFERLMA | x86.EFERLME
	if err := v.kvm.SetSregs(s); err != nil {
		return err
	}
	if err := v.setSyscallMSRs(); err != nil {
		return err
	}
	if st := &v.start; st.table != nil {
		v.traps.table, v.traps.callbacks = *st.table, st.callbacks
		v.traps.kernelSS, v.traps.kernelSP = st.kernelSS, st.kernelSP
		v.priv.iopl = st.iopl
		st.table = nil
	}
	return v.kvm.SetRegs(&v.start.regs)
}

// setSyscallMSRs points the vCPU's syscall at the syscall hypercall
// transport (hvimage.SyscallEntryCode): LSTAR its entry, STAR the
// selectors its sysretq returns on where syscall enters CPL0
// (FLAT_RING3_CS64 and FLAT_RING3_SS64, 16 and 8 above FLAT_RING3_CS32),
// no RFLAGS bit masked.
func (v *vcpu) setSyscallMSRs() error {
	return v.kvm.SetMSRs(
		[2]uint64{x86.MSRLSTAR, hvimage.SyscallEntryVA},
		[2]uint64{x86.MSRSTAR, uint64(xen.FlatRing3CS32)<<48 | uint64(xen.HypervisorCS)<<32},
		[2]uint64{x86.MSRSyscallMask, 0},
	)
}

// loop is the vCPU thread: wait to be brought up, then run exits until the
// domain ends.
func (v *vcpu) loop() {
	runtime.LockOSThread() // never unlocked: the thread ends with the vCPU
	vcpuThreads.started()
	defer vcpuThreads.ended()
	defer v.recoverPanic()
	v.tid.Store(int32(syscall.Gettid()))
	defer v.tid.Store(0)
	if v.state.Load() != Up {
		select {
		case <-v.upCh:
		case <-v.d.stopCh:
			return
		}
	}
	// A deterministic vCPU takes on its start state in its first turn, so
	// that none of it changes while another vCPU holds the CPU (where the
	// state's fingerprint is read).
	det := v.d.det != nil
	if det && !v.d.det.Await(v.id, v.d.stopCh) {
		return
	}
	start := v.enterGuestState
	if v.restored != nil {
		start = v.restoreState
	}
	if err := start(); err != nil {
		v.d.end(Result{}, fmt.Errorf("vCPU %d: %w", v.id, err))
		return
	}
	for v.step(det) == resume {
	}
	v.lastRIP = v.run.Regs.RIP
}

// vcpuThreads counts the vCPU threads of every domain of the process.
// Each keeps its P while its guest runs (kvm.VCPU.Enter makes KVM_RUN a
// raw system call), so GOMAXPROCS is kept above their number: one P at
// least is left for the runtime's other goroutines (timers, kicks, the
// console's input, Run's wait). GOMAXPROCS only grows: lowering it stops
// the world, and an idle P costs nothing.
var vcpuThreads procReserve

type procReserve struct {
	mu      sync.Mutex
	running int
}

func (r *procReserve) started() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running++
	if runtime.GOMAXPROCS(0) <= r.running {
		runtime.GOMAXPROCS(r.running + 1)
	}
}

func (r *procReserve) ended() {
	r.mu.Lock()
	r.running--
	r.mu.Unlock()
}

// step enters the guest once and handles the exit that ends the entry.
func (v *vcpu) step(det bool) outcome {
	v.run.ClearImmediateExit()
	if v.d.stopping.Load() {
		return stop
	}
	if _, ok := v.flush.Pending(); ok && v.exec.CanEnter() {
		v.serveFlush()
	}
	if v.traps.callbacks.Event != 0 && v.upcallBeforeEntry() == stop {
		return stop
	}
	interrupted, err := v.kvm.Enter()
	v.entered = true
	switch {
	case err != nil:
		v.d.end(Result{}, fmt.Errorf("vCPU %d: %w", v.id, err))
		return stop
	case interrupted:
		v.stats.Interrupted++
		return resume
	}
	v.countExit()
	if det && !v.schedPoint() {
		return stop
	}
	return v.exit()
}

// exit handles one exit from KVM_RUN: a hypercall (a store to the
// doorbell), an exception (the entry stubs' `out` to the trap port), or
// something the guest cannot go on from.
func (v *vcpu) exit() outcome {
	r := v.run
	if v.traps.cas.armed {
		if r.ExitReason == kvm.ExitIO && r.IO().Port == hvimage.ExecPort &&
			(r.Regs.RIP == hvimage.TrapCASFailVA || r.Regs.RIP == hvimage.TrapCASFailVA+2) {
			return v.exchangeFailed()
		}
		v.traps.cas.armed = false // it succeeded: the path returned to the guest
	}
	switch r.ExitReason {
	case kvm.ExitMMIO:
		m := r.MMIO()
		if m.PhysAddr&^(mmu.PageSize-1) == v.d.mem.Doorbell && m.IsWrite != 0 {
			v.hc.bySyscall = m.PhysAddr&(mmu.PageSize-1) == hvimage.SyscallDoorbellOff
			return v.hypercall(binary.LittleEndian.Uint32(m.Data[:4]))
		}
		return v.fatal(HardwareFault, r.Regs.RIP, fmt.Sprintf("access to unbacked guest-physical address %#x", m.PhysAddr))
	case kvm.ExitIO:
		switch io := r.IO(); {
		case io.Port == hvimage.TrapPort && io.Direction == 1:
			return v.trap()
		case io.Port == hvimage.ExecPort:
			if r.Regs.RSP == hvimage.CPUStackTop(v.id)-hvimage.ExecSavedR8 && v.exec.Spurious() {
				v.stats.SpuriousExecEntries++
				return resume
			}
			return v.fatal(HypervisorFault, r.Regs.RIP, fmt.Sprintf("the executor reported outside a round (%v, in trap %v, in hypercall %v)",
				v.exec, v.traps.active, v.hc.active))
		}
		return v.fatal(HardwareFault, r.Regs.RIP, fmt.Sprintf("unexpected I/O to port %#x", r.IO().Port))
	case kvm.ExitShutdown:
		return v.fatal(HardwareFault, r.Regs.RIP, "the CPU triple-faulted (KVM_EXIT_SHUTDOWN)")
	case kvm.ExitFailEntry:
		return v.fatal(HardwareFault, r.Regs.RIP, "KVM could not enter the guest (KVM_EXIT_FAIL_ENTRY)")
	case kvm.ExitInternalError:
		return v.fatal(HardwareFault, r.Regs.RIP, "KVM internal error (KVM_EXIT_INTERNAL_ERROR)")
	case kvm.ExitHLT:
		return v.fatal(HardwareFault, r.Regs.RIP, "the vCPU halted")
	}
	return v.fatal(HardwareFault, r.Regs.RIP, fmt.Sprintf("unexpected KVM exit reason %d", r.ExitReason))
}

// fatal ends the domain with a guest fault on this vCPU.
func (v *vcpu) fatal(kind FaultKind, rip uint64, detail string) outcome {
	v.d.end(Result{}, &GuestError{Kind: kind, VCPU: v.id, RIP: rip, Where: v.d.syms.Format(rip), Detail: detail})
	return stop
}

// sregsChanged makes KVM load the sync area's special registers at the
// next entry. KVM also takes a pending external interrupt from their
// interrupt_bitmap, and kvm_pvm leaves the last vector injected there
// after it was delivered (measured: the executor's gate vector, which
// would run the executor a second time); the bitmap is cleared unless an
// injection is still pending.
func (v *vcpu) sregsChanged() {
	r := v.run
	if r.Events.I.Inject == 0 {
		clear(r.Sregs.InterruptBitmap[:])
	}
	r.DirtyRegs |= kvm.SyncSregs
}

// readGuest copies len(dst) bytes from guest virtual address va in the
// vCPU's current address space, as the guest at CPL3 could read them
// (copy_from_guest). It returns EFAULT if any byte is not readable.
func (v *vcpu) readGuest(dst []byte, va uint64) error {
	return v.d.mem.CopyFromGuest(v.run.Sregs.CR3, dst, va)
}

// readGuest64 reads one quadword at guest virtual address va.
func (v *vcpu) readGuest64(va uint64) (uint64, error) {
	var b [8]byte
	if err := v.readGuest(b[:], va); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// writeGuest copies b to guest virtual address va as the guest at CPL3
// could (copy_to_guest), the writability check and the store one step
// against type changes (lockTables), as a CR0.WP write is in Xen.
func (v *vcpu) writeGuest(va uint64, b []byte) error {
	took := v.lockTables()
	err := v.d.mem.CopyToGuest(v.d.tables, v.run.Sregs.CR3, va, b)
	v.unlockTables(took)
	return err
}

// lockTables takes the MMU lock unless v holds it, for a walk of the guest's
// tables (d.tables) and an act no type change may come between; it reports
// whether it took the lock, for unlockTables.
func (v *vcpu) lockTables() bool {
	if v.mm.locked {
		return false
	}
	v.d.mmu.Acquire(v.id, false, &v.stats)
	v.d.mmuOwner = v
	return true
}

func (v *vcpu) unlockTables(took bool) {
	if took {
		v.d.mmuOwner = nil
		v.d.mmu.Release()
	}
}
