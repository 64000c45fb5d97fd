package hv

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/bobuhiro11/gokvm/kvm"
)

// This file holds the thin local wrappers over gokvm's kvm package for what
// it lacks: the full struct kvm_run with its sync-regs area (gokvm's RunData
// stops at the exit union) and immediate_exit kicks. Every ioctl still goes
// through gokvm.

// KVM_SYNC_X86_* bits of kvm_valid_regs / kvm_dirty_regs.
const (
	syncRegs   = 1 << 0
	syncSregs  = 1 << 1
	syncEvents = 1 << 2
)

// kvmRun mirrors struct kvm_run (x86) up to the end of struct kvm_sync_regs.
type kvmRun struct {
	requestInterruptWindow uint8
	immediateExit          uint8
	_                      [6]uint8
	exitReason             uint32
	_                      [4]uint8 // ready_for_interrupt_injection, if_flag, flags
	_                      [2]uint64
	exit                   [256]byte
	validRegs              uint64
	dirtyRegs              uint64
	regs                   kvm.Regs
	sregs                  kvm.Sregs
	events                 kvm.VCPUEvents
}

// mmioExit is the KVM_EXIT_MMIO member of the exit union.
type mmioExit struct {
	physAddr uint64
	data     [8]byte
	len      uint32
	isWrite  uint8
}

// ioExit is the KVM_EXIT_IO member of the exit union.
type ioExit struct {
	direction  uint8
	size       uint8
	port       uint16
	count      uint32
	dataOffset uint64
}

func (r *kvmRun) mmio() *mmioExit { return (*mmioExit)(unsafe.Pointer(&r.exit)) }
func (r *kvmRun) io() *ioExit     { return (*ioExit)(unsafe.Pointer(&r.exit)) }

// The first word of kvm_run holds request_interrupt_window and
// immediate_exit. It is written atomically so that a kick (which sets
// immediate_exit) and the vCPU thread (which clears it before checking for
// pending work) cannot lose each other's store.
func (r *kvmRun) head() *uint32       { return (*uint32)(unsafe.Pointer(r)) }
func (r *kvmRun) armImmediateExit()   { atomic.StoreUint32(r.head(), 1<<8) }
func (r *kvmRun) clearImmediateExit() { atomic.StoreUint32(r.head(), 0) }

// kvmSys is an open /dev/kvm with its capabilities checked.
type kvmSys struct {
	f       *os.File
	runSize int
	cpuid   *kvm.CPUID
}

// ErrNoKVM is returned (wrapped) when /dev/kvm cannot be opened.
var ErrNoKVM = errors.New("KVM is not available")

func openKVM() (*kvmSys, error) {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoKVM, err)
	}
	k := &kvmSys{f: f}
	fd := f.Fd()
	if v, err := kvm.GetAPIVersion(fd); err != nil || v != 12 {
		f.Close()
		return nil, fmt.Errorf("KVM API version %d (%v), want 12", v, err)
	}
	if n, err := kvm.CheckExtension(fd, kvm.CapSyncRegs); err != nil || n&(syncRegs|syncSregs) != syncRegs|syncSregs {
		f.Close()
		return nil, fmt.Errorf("KVM lacks KVM_CAP_SYNC_REGS for regs and sregs (got %#x, %v)", n, err)
	}
	if n, err := kvm.CheckExtension(fd, kvm.CapImmediateExit); err != nil || n == 0 {
		f.Close()
		return nil, fmt.Errorf("KVM lacks KVM_CAP_IMMEDIATE_EXIT (%v)", err)
	}
	sz, err := kvm.GetVCPUMMmapSize(fd)
	if err != nil || int(sz) < int(unsafe.Sizeof(kvmRun{})) {
		f.Close()
		return nil, fmt.Errorf("KVM_GET_VCPU_MMAP_SIZE: %d, %v", sz, err)
	}
	k.runSize = int(sz)
	// Long mode needs the LM bit in the vCPU's CPUID on VMX/SVM hosts; hand
	// every vCPU what KVM supports. Not all KVM flavours implement this.
	c := &kvm.CPUID{Nent: 256, Entries: make([]kvm.CPUIDEntry2, 256)}
	if kvm.GetSupportedCPUID(fd, c) == nil {
		k.cpuid = c
	}
	return k, nil
}

// sharedKVM is the process's /dev/kvm, opened by the first domain and
// kept: every domain makes its VM from it, as one VMM process would, and a
// domain restored per schedule does not pay for the open and the
// capability checks again.
var sharedKVM struct {
	mu  sync.Mutex
	sys *kvmSys
}

// systemKVM returns the shared /dev/kvm, opening it if need be.
func systemKVM() (*kvmSys, error) {
	sharedKVM.mu.Lock()
	defer sharedKVM.mu.Unlock()
	if sharedKVM.sys == nil {
		k, err := openKVM()
		if err != nil {
			return nil, err
		}
		sharedKVM.sys = k
	}
	return sharedKVM.sys, nil
}

// kvmRunIoctl is KVM_RUN (_IO(KVMIO, 0x80)).
var kvmRunIoctl = kvm.IIO(0x80)

// runVCPU enters the guest once. It reports interrupted=true when KVM_RUN
// returned EINTR (a kick through immediate_exit, or a signal such as the Go
// runtime's preemption signal): kvm_run's exit reason is then not to be
// trusted, since an immediate_exit return leaves the previous one in place.
// gokvm's Run folds EINTR into success, hence the direct ioctl.
func runVCPU(fd uintptr) (interrupted bool, err error) {
	_, err = kvm.Ioctl(fd, kvmRunIoctl, 0)
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, syscall.EINTR), errors.Is(err, syscall.EAGAIN):
		return true, nil
	}
	return false, fmt.Errorf("KVM_RUN: %w", err)
}

// KVM exit reasons pvsim handles.
const (
	exitIO            = uint32(kvm.EXITIO)
	exitHLT           = uint32(kvm.EXITHLT)
	exitMMIO          = uint32(kvm.EXITMMIO)
	exitShutdown      = uint32(kvm.EXITSHUTDOWN)
	exitFailEntry     = uint32(kvm.EXITFAILENTRY)
	exitIntr          = uint32(kvm.EXITINTR)
	exitInternalError = uint32(kvm.EXITINTERNALERROR)
)
