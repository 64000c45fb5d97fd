package kvm

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"

	gokvm "github.com/bobuhiro11/gokvm/kvm"
)

// KVM_SYNC_X86_* bits of kvm_valid_regs and kvm_dirty_regs.
const (
	SyncRegs   = 1 << 0
	SyncSregs  = 1 << 1
	SyncEvents = 1 << 2
	SyncAll    = SyncRegs | SyncSregs | SyncEvents
)

// KVM exit reasons pvsim handles (KVM_EXIT_*).
const (
	ExitIO            = uint32(gokvm.EXITIO)
	ExitHLT           = uint32(gokvm.EXITHLT)
	ExitMMIO          = uint32(gokvm.EXITMMIO)
	ExitShutdown      = uint32(gokvm.EXITSHUTDOWN)
	ExitFailEntry     = uint32(gokvm.EXITFAILENTRY)
	ExitInternalError = uint32(gokvm.EXITINTERNALERROR)
)

// Run mirrors struct kvm_run (x86) up to the end of struct kvm_sync_regs.
// With sync regs, Regs, Sregs and Events hold the vCPU's state after each
// KVM_RUN; set the matching Sync* bit in DirtyRegs after changing them.
type Run struct {
	requestInterruptWindow uint8
	immediateExit          uint8
	_                      [6]uint8
	ExitReason             uint32
	_                      [4]uint8 // ready_for_interrupt_injection, if_flag, flags
	_                      [2]uint64
	exit                   [256]byte
	ValidRegs              uint64
	DirtyRegs              uint64
	Regs                   Regs
	Sregs                  Sregs
	Events                 Events
}

// MMIOExit is the KVM_EXIT_MMIO member of the exit union.
type MMIOExit struct {
	PhysAddr uint64
	Data     [8]byte
	Len      uint32
	IsWrite  uint8
}

// IOExit is the KVM_EXIT_IO member of the exit union.
type IOExit struct {
	Direction  uint8 // 1: out
	Size       uint8
	Port       uint16
	Count      uint32
	DataOffset uint64
}

// ExitData is the exit union's bytes, whatever the exit reason.
func (r *Run) ExitData() []byte { return r.exit[:] }

// MMIO is the exit as KVM_EXIT_MMIO. Valid only for that exit reason.
func (r *Run) MMIO() *MMIOExit { return (*MMIOExit)(unsafe.Pointer(&r.exit)) }

// IO is the exit as KVM_EXIT_IO. Valid only for that exit reason.
func (r *Run) IO() *IOExit { return (*IOExit)(unsafe.Pointer(&r.exit)) }

// The first word of kvm_run holds request_interrupt_window and
// immediate_exit. It is written atomically so that a kick (which sets
// immediate_exit) and the vCPU thread (which clears it before checking for
// pending work) cannot lose each other's store.
func (r *Run) head() *uint32 { return (*uint32)(unsafe.Pointer(r)) }

// ArmImmediateExit makes the next (or current) KVM_RUN return at once.
// Any thread may call it.
func (r *Run) ArmImmediateExit() { atomic.StoreUint32(r.head(), 1<<8) }

// ClearImmediateExit undoes ArmImmediateExit. The vCPU thread calls it
// before it checks for work that a kick announced.
func (r *Run) ClearImmediateExit() { atomic.StoreUint32(r.head(), 0) }

// VCPU is one KVM vCPU and its kvm_run area.
type VCPU struct {
	f      *os.File
	fd     uintptr
	runMem []byte
	// Run is the vCPU's kvm_run area, shared with KVM.
	Run *Run
}

// CreateVCPU makes vCPU id of vm, with the CPUID KVM supports.
func (vm *VM) CreateVCPU(id int) (*VCPU, error) {
	fd, err := gokvm.CreateVCPU(vm.f.Fd(), id)
	if err != nil {
		return nil, fmt.Errorf("KVM_CREATE_VCPU %d: %w", id, err)
	}
	c := &VCPU{f: os.NewFile(fd, fmt.Sprintf("kvm-vcpu-%d", id)), fd: fd}
	c.runMem, err = syscall.Mmap(int(fd), 0, vm.sys.runSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("mapping kvm_run of vCPU %d: %w", id, err)
	}
	c.Run = (*Run)(unsafe.Pointer(&c.runMem[0]))
	if vm.sys.cpuid != nil {
		if err := gokvm.SetCPUID2(fd, vm.sys.cpuid); err != nil {
			c.Close()
			return nil, fmt.Errorf("KVM_SET_CPUID2 on vCPU %d: %w", id, err)
		}
	}
	return c, nil
}

// Close releases the vCPU.
func (c *VCPU) Close() {
	if c.runMem != nil {
		syscall.Munmap(c.runMem)
		c.runMem, c.Run = nil, nil
	}
	if c.f != nil {
		c.f.Close()
		c.f = nil
	}
}

// runIoctl is KVM_RUN (_IO(KVMIO, 0x80)).
var runIoctl = gokvm.IIO(0x80)

// Enter runs the vCPU once (KVM_RUN), with the sync regs valid. It reports
// interrupted=true when KVM_RUN returned EINTR (a kick through
// immediate_exit, or a signal such as the Go runtime's preemption signal):
// Run.ExitReason is then not to be trusted, since an immediate_exit return
// leaves the previous one in place. gokvm's Run folds EINTR into success,
// hence the direct ioctl. It allocates nothing.
//
// KVM_RUN is a raw system call: the Go scheduler is not told that the
// thread enters the kernel, so it does not hand the thread's P to another
// thread while the guest runs, and the return takes no trip through the
// scheduler. With the syscall wrapper, each return that found its P taken
// waited for the scheduler on a CPU another process was using: beside one
// CPU-bound process, an emulated pagetable write cost 1.58 times the raw
// #PF round trip instead of 1.37 (BENCHMARKS.md). The caller must leave
// the Go runtime a P for its other goroutines (GOMAXPROCS above the
// number of threads in Enter), since a thread in KVM_RUN keeps its own;
// the runtime's preemption signal still ends KVM_RUN every 10 ms or so,
// as EINTR.
func (c *VCPU) Enter() (interrupted bool, err error) {
	c.Run.ValidRegs = SyncAll
	if _, _, errno := syscall.RawSyscall(syscall.SYS_IOCTL, uintptr(c.fd), uintptr(runIoctl), 0); errno != 0 {
		err = errno
	}
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, syscall.EINTR), errors.Is(err, syscall.EAGAIN):
		return true, nil
	}
	return false, fmt.Errorf("KVM_RUN: %w", err)
}

// FPU is struct kvm_fpu: the x87 and SSE state.
type FPU struct {
	FPR        [8][16]byte
	FCW, FSW   uint16
	FTWX, _    uint8
	LastOpcode uint16
	LastIP     uint64
	LastDP     uint64
	XMM        [16][16]byte
	MXCSR      uint32
	_          uint32
}

// getFPU is KVM_GET_FPU: _IOR(KVMIO, 0x8c, struct kvm_fpu).
const getFPU = 2<<30 | 416<<16 | 0xae<<8 | 0x8c

// FPU is KVM_GET_FPU, into f.
func (c *VCPU) FPU(f *FPU) error {
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(c.fd), getFPU, uintptr(unsafe.Pointer(f)))
	if errno != 0 {
		return fmt.Errorf("KVM_GET_FPU: %w", errno)
	}
	return nil
}

// Regs is KVM_GET_REGS.
func (c *VCPU) Regs() (*Regs, error) {
	r, err := gokvm.GetRegs(c.fd)
	if err != nil {
		return nil, fmt.Errorf("KVM_GET_REGS: %w", err)
	}
	return r, nil
}

// SetRegs is KVM_SET_REGS.
func (c *VCPU) SetRegs(r *Regs) error {
	if err := gokvm.SetRegs(c.fd, r); err != nil {
		return fmt.Errorf("KVM_SET_REGS: %w", err)
	}
	return nil
}

// Sregs is KVM_GET_SREGS.
func (c *VCPU) Sregs() (*Sregs, error) {
	s, err := gokvm.GetSregs(c.fd)
	if err != nil {
		return nil, fmt.Errorf("KVM_GET_SREGS: %w", err)
	}
	return s, nil
}

// SetSregs is KVM_SET_SREGS.
func (c *VCPU) SetSregs(s *Sregs) error {
	if err := gokvm.SetSregs(c.fd, s); err != nil {
		return fmt.Errorf("KVM_SET_SREGS: %w", err)
	}
	return nil
}

// Events is KVM_GET_VCPU_EVENTS.
func (c *VCPU) Events() (*Events, error) {
	var e Events
	if err := gokvm.GetVCPUEvents(c.fd, &e); err != nil {
		return nil, fmt.Errorf("KVM_GET_VCPU_EVENTS: %w", err)
	}
	return &e, nil
}

// Pending reports whether e holds an event KVM has yet to deliver: an
// exception or interrupt to inject, an NMI, or an interrupt shadow.
func Pending(e *Events) bool {
	return e.E.Inject != 0 || e.E.Pending != 0 || e.I.Inject != 0 || e.I.Shadow != 0 || e.N.Inject != 0 || e.N.Pending != 0
}

// GPRs returns pointers to the general-purpose registers of r, in the x86
// encoding order (RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8..R15).
func GPRs(r *Regs) [16]*uint64 {
	return [16]*uint64{&r.RAX, &r.RCX, &r.RDX, &r.RBX, &r.RSP, &r.RBP, &r.RSI, &r.RDI,
		&r.R8, &r.R9, &r.R10, &r.R11, &r.R12, &r.R13, &r.R14, &r.R15}
}

// kvmMSREntry and kvmMSRs are struct kvm_msr_entry and struct kvm_msrs
// with room for a few entries.
type kvmMSREntry struct {
	Index, _ uint32
	Data     uint64
}

type kvmMSRs struct {
	N, _    uint32
	Entries [8]kvmMSREntry
}

// setMSRsIoctl is KVM_SET_MSRS (_IOW(KVMIO, 0x89, struct kvm_msrs)).
var setMSRsIoctl = gokvm.IIOW(0x89, 8)

// SetMSRs writes MSRs, index and value pairs, with KVM_SET_MSRS; it fails
// unless KVM took every one.
func (c *VCPU) SetMSRs(msrs ...[2]uint64) error {
	var m kvmMSRs
	if len(msrs) > len(m.Entries) {
		return fmt.Errorf("KVM_SET_MSRS: %d MSRs, at most %d at a time", len(msrs), len(m.Entries))
	}
	m.N = uint32(len(msrs))
	for i, e := range msrs {
		m.Entries[i] = kvmMSREntry{Index: uint32(e[0]), Data: e[1]}
	}
	n, err := gokvm.Ioctl(c.fd, setMSRsIoctl, uintptr(unsafe.Pointer(&m)))
	if err != nil {
		return fmt.Errorf("KVM_SET_MSRS: %w", err)
	}
	if int(n) != len(msrs) {
		return fmt.Errorf("KVM_SET_MSRS: KVM took %d of %d MSRs (the first refused: %#x)", n, len(msrs), msrs[n][0])
	}
	return nil
}

// getMSRsIoctl is KVM_GET_MSRS (_IOWR(KVMIO, 0x88, struct kvm_msrs)).
var getMSRsIoctl = gokvm.IIOWR(0x88, 8)

// MSR reads one MSR with KVM_GET_MSRS.
func (c *VCPU) MSR(index uint32) (uint64, error) {
	m := kvmMSRs{N: 1}
	m.Entries[0].Index = index
	n, err := gokvm.Ioctl(c.fd, getMSRsIoctl, uintptr(unsafe.Pointer(&m)))
	if err != nil {
		return 0, fmt.Errorf("KVM_GET_MSRS: %w", err)
	}
	if n != 1 {
		return 0, fmt.Errorf("KVM_GET_MSRS: KVM refused MSR %#x", index)
	}
	return m.Entries[0].Data, nil
}
