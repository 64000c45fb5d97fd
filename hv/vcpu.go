package hv

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/bobuhiro11/gokvm/kvm"

	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/ptops"
	"github.com/pvsim/pvsim/xen"
)

// vCPU states, as VCPUOP_initialise and VCPUOP_up move them.
const (
	vcpuDown        = iota // no context yet
	vcpuInitialised        // VCPUOP_initialise done
	vcpuUp                 // running, or about to
)

// vcpu is one virtual CPU and its exit loop.
type vcpu struct {
	d      *Domain
	id     int
	f      *os.File
	fd     uintptr
	runMem []byte
	run    *kvmRun

	// ctxMu serialises VCPUOP_initialise and VCPUOP_up on this vCPU, which
	// other vCPUs issue.
	ctxMu sync.Mutex
	state atomic.Int32
	upCh  chan struct{}
	// The context the vCPU starts with.
	start          kvm.Regs
	cr3            uint64
	fsBase, gsBase uint64
	gsBaseUser     uint64

	tid     atomic.Int32
	entered bool // has run guest code
	lastRIP uint64
	stats   ExitStats

	// buf is scratch space for copying guest buffers, so that hypercalls
	// do not allocate.
	buf  [4096]byte
	args hypercallArgs

	// restored is the register state to start from, for a vCPU restored
	// from a snapshot; snapshotting is set by the snapshot hypercall.
	restored     *kvmState
	snapshotting bool

	exec *executor
	// For pagetable operations: the context, and method values made once.
	mmuCtx      ptops.Context
	readGuestFn func(va uint64, b []byte) error
	flushFn     func(ptops.Flush)
	// remote collects the vCPUs an operation asked to flush.
	remote      ptops.VCPUMask
	lastMMUOp   string
	inMulticall bool
	mmuLocked   bool // v holds the domain's MMU lock
	inHypercall bool
	inTrap      bool

	// The guest's virtual IDT (set_trap_table), with scratch space for
	// building a new one, and its kernel stack (stack_switch).
	traps, trapsNext   [256]trapInfo
	kernelSS, kernelSP uint64
	// The trap being handled: the exception, where the stub's frame lies
	// on the CPL0 stack, and scratch space for the emulator and the
	// bounce frame.
	exc         Exception
	trapFrame   uint64
	ptwRegs     ptops.Regs
	insns       ptops.InsnCache
	bounceFrame [8]uint64
	// lastNotEmulated says why ptwr declined the last write fault.
	lastNotEmulated string
	// The last exception bounced to the guest, for crash reports, and
	// for a write fault why ptwr left it alone.
	lastBounce    Exception
	lastBounceWhy string
	bounced       bool
	// stack is the host view of the CPL0 stack pages.
	stack [cpuStackPages][]byte
	trace traceRing

	// Remote TLB flush requests to this vCPU: a requester bumps flushGen
	// and kicks; the vCPU flushes in its own context and publishes the
	// generation it served in flushDone.
	flushGen  atomic.Uint64
	flushDone atomic.Uint64
	// A vCPU waiting in flushRemote sleeps on flushWake (or flushTimer)
	// while flushWaiting is set.
	flushWaiting atomic.Bool
	flushWake    chan struct{}
	flushTimer   *time.Timer

	// exits counts the vCPU's exits, for the guest's exit-counter page.
	exits uint64
	// pvsim_op: scratch space for pagetable_pending, and the trace mark
	// labels read so far, by guest address.
	pendingPFNs [xen.PVSimMaxPending]uint64
	labels      map[uint64]string
}

func newVCPU(d *Domain, id int) (*vcpu, error) {
	fd, err := kvm.CreateVCPU(d.vm.Fd(), id)
	if err != nil {
		return nil, fmt.Errorf("KVM_CREATE_VCPU %d: %w", id, err)
	}
	v := &vcpu{d: d, id: id, f: os.NewFile(fd, fmt.Sprintf("kvm-vcpu-%d", id)), fd: fd, upCh: make(chan struct{})}
	v.runMem, err = syscall.Mmap(int(fd), 0, d.kvm.runSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		v.close()
		return nil, fmt.Errorf("mapping kvm_run of vCPU %d: %w", id, err)
	}
	v.run = (*kvmRun)(unsafe.Pointer(&v.runMem[0]))
	if d.kvm.cpuid != nil {
		if err := kvm.SetCPUID2(fd, d.kvm.cpuid); err != nil {
			v.close()
			return nil, fmt.Errorf("KVM_SET_CPUID2 on vCPU %d: %w", id, err)
		}
	}
	v.start.RFLAGS = 0x202
	v.exec = newExecutor(v)
	for i := range v.stack {
		va := cpuAreaVA(id) + cpuStackOff + uint64(i)*mmu.PageSize
		w := mmu.Translate(d.mem, d.boot.l4<<mmu.PageShift, va, mmu.AccessWrite)
		v.stack[i] = d.mem.bytes(w.PA, mmu.PageSize)
	}
	v.trace.init(d, id, d.cfg.TraceEvents)
	v.labels = map[uint64]string{}
	v.flushWake = make(chan struct{}, 1)
	v.flushTimer = time.NewTimer(time.Hour)
	v.flushTimer.Stop()
	v.readGuestFn = func(va uint64, b []byte) error { return v.readGuest(b, va) }
	v.flushFn = v.flush
	return v, nil
}

func (v *vcpu) close() {
	v.trace.release()
	if v.runMem != nil {
		syscall.Munmap(v.runMem)
		v.runMem, v.run = nil, nil
	}
	if v.f != nil {
		v.f.Close()
		v.f = nil
	}
}

// kick makes the vCPU leave KVM_RUN soon: now if it is in the guest, or at
// its next entry.
func (v *vcpu) kick() {
	v.run.armImmediateExit()
	if tid := v.tid.Load(); tid != 0 {
		syscall.Tgkill(os.Getpid(), int(tid), kickSignal)
	}
}

// enterGuestState loads the registers the vCPU starts with: CPL3 on Xen's
// flat ring-3 selectors, the hypervisor's GDT, IDT and TSS for this vCPU,
// paging on with cr3.
func (v *vcpu) enterGuestState() error {
	s, err := kvm.GetSregs(v.fd)
	if err != nil {
		return fmt.Errorf("KVM_GET_SREGS: %w", err)
	}
	flat := kvm.Segment{Limit: 0xffffffff, Present: 1, DPL: 3, S: 1, G: 1}
	s.CS = flat
	s.CS.Selector, s.CS.Typ, s.CS.L = xen.FlatRing3CS64, 0xb, 1
	s.SS = flat
	s.SS.Selector, s.SS.Typ, s.SS.DB = xen.FlatRing3SS64, 0x3, 1
	null := kvm.Segment{Unusable: 1}
	s.DS, s.ES, s.FS, s.GS = null, null, null, null
	s.FS.Base, s.GS.Base = v.fsBase, v.gsBase
	s.TR = kvm.Segment{Base: cpuTSSVA(v.id), Limit: tssLimit, Selector: xen.TSSSelector, Typ: 0xb, Present: 1}
	s.LDT = kvm.Segment{Unusable: 1}
	s.GDT = kvm.Descriptor{Base: cpuGDTVA(v.id), Limit: gdtLimit}
	s.IDT = kvm.Descriptor{Base: hvIDTVA, Limit: mmu.PageSize - 1}
	s.CR0 = 0x80050033 // PG, AM, WP, NE, ET, MP, PE
	s.CR3 = v.cr3
	s.CR4 = 0x620  // OSXMMEXCPT, OSFXSR, PAE
	s.EFER = 0xd00 // NXE, LMA, LME
	if err := kvm.SetSregs(v.fd, s); err != nil {
		return fmt.Errorf("KVM_SET_SREGS: %w", err)
	}
	if err := kvm.SetRegs(v.fd, &v.start); err != nil {
		return fmt.Errorf("KVM_SET_REGS: %w", err)
	}
	return nil
}

// loop is the vCPU thread: wait to be brought up, then run exits until the
// domain ends.
func (v *vcpu) loop() {
	runtime.LockOSThread() // never unlocked: the thread ends with the vCPU
	defer v.recoverPanic()
	v.tid.Store(int32(syscall.Gettid()))
	defer v.tid.Store(0)
	if v.state.Load() != vcpuUp {
		select {
		case <-v.upCh:
		case <-v.d.stopCh:
			return
		}
	}
	start := v.enterGuestState
	if v.restored != nil {
		start = v.restoreState
	}
	if err := start(); err != nil {
		v.d.end(Result{}, fmt.Errorf("vCPU %d: %w", v.id, err))
		return
	}
	det := v.d.det != nil
	if det && !v.d.awaitTurn(v) {
		return
	}
	r := v.run
	for {
		r.clearImmediateExit()
		if v.d.stopping.Load() {
			break
		}
		if v.flushGen.Load() != v.flushDone.Load() && v.exec.canEnter() {
			v.serveFlush()
		}
		r.validRegs = syncRegs | syncSregs | syncEvents
		interrupted, err := runVCPU(v.fd)
		v.entered = true
		if err != nil {
			v.d.end(Result{}, fmt.Errorf("vCPU %d: %w", v.id, err))
			break
		}
		if interrupted {
			v.stats.Interrupted++
			continue
		}
		v.countExit()
		if det && !v.schedPoint() {
			break
		}
		v.exit()
	}
	v.lastRIP = r.regs.RIP
}

// exit handles one exit from KVM_RUN.
func (v *vcpu) exit() {
	r := v.run
	switch r.exitReason {
	case exitMMIO:
		m := r.mmio()
		if m.physAddr&^(mmu.PageSize-1) == v.d.mem.doorbell && m.isWrite != 0 {
			v.hypercall(binary.LittleEndian.Uint32(m.data[:4]))
			return
		}
		v.fatal(HardwareFault, r.regs.RIP, fmt.Sprintf("access to unbacked guest-physical address %#x", m.physAddr))
	case exitIO:
		if io := r.io(); io.port == trapPort && io.direction == 1 {
			v.trap()
			return
		}
		if r.io().port == execPort {
			x := v.exec
			v.fatal(HypervisorFault, r.regs.RIP, fmt.Sprintf("the executor reported outside a round (parked %v, %d queued, flags %#x, count %d, in trap %v, in hypercall %v)",
				x.parked, x.n, x.flags().Load(), x.get(cmdCount), v.inTrap, v.inHypercall))
			return
		}
		v.fatal(HardwareFault, r.regs.RIP, fmt.Sprintf("unexpected I/O to port %#x", r.io().port))
	case exitShutdown:
		v.fatal(HardwareFault, r.regs.RIP, "the CPU triple-faulted (KVM_EXIT_SHUTDOWN)")
	case exitFailEntry:
		v.fatal(HardwareFault, r.regs.RIP, "KVM could not enter the guest (KVM_EXIT_FAIL_ENTRY)")
	case exitInternalError:
		v.fatal(HardwareFault, r.regs.RIP, "KVM internal error (KVM_EXIT_INTERNAL_ERROR)")
	case exitHLT:
		v.fatal(HardwareFault, r.regs.RIP, "the vCPU halted")
	default:
		v.fatal(HardwareFault, r.regs.RIP, fmt.Sprintf("unexpected KVM exit reason %d", r.exitReason))
	}
}

// fatal ends the domain with a guest fault on this vCPU.
func (v *vcpu) fatal(kind FaultKind, rip uint64, detail string) {
	v.d.end(Result{}, &GuestError{Kind: kind, VCPU: v.id, RIP: rip, Where: v.d.syms.Format(rip), Detail: detail})
}

// readGuest copies len(dst) bytes from guest virtual address va, as the
// guest at CPL3 could read them (copy_from_guest). It returns EFAULT if any
// byte is not readable.
func (v *vcpu) readGuest(dst []byte, va uint64) error {
	cr3 := v.run.sregs.CR3
	for len(dst) > 0 {
		w := mmu.Translate(v.d.mem, cr3, va, mmu.AccessUser)
		if !w.OK {
			return xen.EFAULT
		}
		n := min(uint64(len(dst)), mmu.PageSize-va&(mmu.PageSize-1))
		src := v.d.mem.bytes(w.PA, n)
		if src == nil {
			return xen.EFAULT
		}
		copy(dst, src)
		dst, va = dst[n:], va+n
	}
	return nil
}

// readGuest64 reads one quadword at guest virtual address va.
func (v *vcpu) readGuest64(va uint64) (uint64, error) {
	var b [8]byte
	if err := v.readGuest(b[:], va); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}
