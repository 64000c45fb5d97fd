// Package kvm is the only code in pvsim that knows KVM's ABI: the shared
// /dev/kvm, VMs and their memory slots, vCPUs with their kvm_run area and
// sync regs, KVM_RUN, and exit reasons. Every ioctl goes through gokvm's
// kvm package; this package adds the thin wrappers gokvm lacks (the full
// struct kvm_run with its sync-regs area, immediate_exit, KVM_RUN that
// reports EINTR) and nothing else. The register types are gokvm's, under
// their KVM names.
package kvm

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"
	"unsafe"

	gokvm "github.com/bobuhiro11/gokvm/kvm"
)

// Register state, as KVM_GET_REGS, KVM_GET_SREGS and KVM_GET_VCPU_EVENTS
// exchange it (struct kvm_regs, kvm_sregs, kvm_segment, kvm_dtable,
// kvm_vcpu_events).
type (
	Regs       = gokvm.Regs
	Sregs      = gokvm.Sregs
	Segment    = gokvm.Segment
	Descriptor = gokvm.Descriptor
	Events     = gokvm.VCPUEvents
)

// ErrNoKVM is returned (wrapped) when /dev/kvm cannot be opened.
var ErrNoKVM = errors.New("KVM is not available")

// System is an open /dev/kvm with the capabilities pvsim needs checked.
type System struct {
	f       *os.File
	runSize int
	cpuid   *gokvm.CPUID
}

func open() (*System, error) {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoKVM, err)
	}
	k := &System{f: f}
	fd := f.Fd()
	if v, err := gokvm.GetAPIVersion(fd); err != nil || v != 12 {
		f.Close()
		return nil, fmt.Errorf("KVM API version %d (%v), want 12", v, err)
	}
	if n, err := gokvm.CheckExtension(fd, gokvm.CapSyncRegs); err != nil || n&(SyncRegs|SyncSregs) != SyncRegs|SyncSregs {
		f.Close()
		return nil, fmt.Errorf("KVM lacks KVM_CAP_SYNC_REGS for regs and sregs (got %#x, %v)", n, err)
	}
	if n, err := gokvm.CheckExtension(fd, gokvm.CapImmediateExit); err != nil || n == 0 {
		f.Close()
		return nil, fmt.Errorf("KVM lacks KVM_CAP_IMMEDIATE_EXIT (%v)", err)
	}
	sz, err := gokvm.GetVCPUMMmapSize(fd)
	if err != nil || int(sz) < int(unsafe.Sizeof(Run{})) {
		f.Close()
		return nil, fmt.Errorf("KVM_GET_VCPU_MMAP_SIZE: %d, %v", sz, err)
	}
	k.runSize = int(sz)
	// Long mode needs the LM bit in the vCPU's CPUID on VMX/SVM hosts; hand
	// every vCPU what KVM supports. Not all KVM flavours implement this.
	c := &gokvm.CPUID{Nent: 256, Entries: make([]gokvm.CPUIDEntry2, 256)}
	if gokvm.GetSupportedCPUID(fd, c) == nil {
		k.cpuid = c
	}
	return k, nil
}

// shared is the process's /dev/kvm, opened by the first caller of Open and
// kept: every VM is made from it, as one VMM process would, and a domain
// restored per schedule does not pay for the open and the capability
// checks again.
var shared struct {
	mu  sync.Mutex
	sys *System
}

// Open returns the process's /dev/kvm, opening it if need be.
func Open() (*System, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.sys == nil {
		k, err := open()
		if err != nil {
			return nil, err
		}
		shared.sys = k
	}
	return shared.sys, nil
}

// VM is one KVM virtual machine.
type VM struct {
	sys *System
	f   *os.File
}

// CreateVM makes an empty VM.
func (s *System) CreateVM() (*VM, error) {
	fd, err := gokvm.CreateVM(s.f.Fd())
	for errors.Is(err, syscall.EINTR) { // a signal, e.g. the Go runtime's: try again
		fd, err = gokvm.CreateVM(s.f.Fd())
	}
	if err != nil {
		return nil, fmt.Errorf("KVM_CREATE_VM: %w", err)
	}
	// VMX needs a TSS area for real-mode emulation even when the guest never
	// uses real mode; elsewhere this is a no-op. Placed above everything.
	_ = gokvm.SetTSSAddr(fd, 0xfffbd000)
	return &VM{sys: s, f: os.NewFile(fd, "kvm-vm")}, nil
}

// SetMemory backs guest-physical addresses [gpa, gpa+len(mem)) with mem in
// memory slot slot. With logDirty, KVM logs the pages the guest writes
// (KVM_MEM_LOG_DIRTY_PAGES), for DirtyLog.
func (vm *VM) SetMemory(slot int, gpa uint64, mem []byte, logDirty bool) error {
	region := gokvm.UserspaceMemoryRegion{
		Slot: uint32(slot), GuestPhysAddr: gpa, MemorySize: uint64(len(mem)),
		UserspaceAddr: uint64(uintptr(unsafe.Pointer(&mem[0]))),
	}
	if logDirty {
		region.SetMemLogDirtyPages()
	}
	if err := gokvm.SetUserMemoryRegion(vm.f.Fd(), &region); err != nil {
		return fmt.Errorf("KVM_SET_USER_MEMORY_REGION slot %d: %w", slot, err)
	}
	return nil
}

// getDirtyLog is KVM_GET_DIRTY_LOG, _IOW(KVMIO, 0x42, struct kvm_dirty_log).
// gokvm's GetDirtyLog takes ENOENT (no such slot) for an empty log; here
// it is an error, since a state digest that missed a slot's writes would
// let a search prune what it has not searched.
const getDirtyLog = 1<<30 | 16<<16 | 0xae<<8 | 0x42

// DirtyLog is KVM_GET_DIRTY_LOG: it sets bit i of bitmap for each page i
// of memory slot slot the guest wrote since the last call (or since the
// slot was made), and starts the log afresh. bitmap must hold a bit for
// every page of the slot. Writes the VMM makes from the host are not
// logged.
func (vm *VM) DirtyLog(slot int, bitmap []uint64) error {
	if len(bitmap) == 0 {
		return nil
	}
	arg := gokvm.DirtyLog{Slot: uint32(slot), BitMap: uint64(uintptr(unsafe.Pointer(&bitmap[0])))}
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, vm.f.Fd(), getDirtyLog, uintptr(unsafe.Pointer(&arg)))
	runtime.KeepAlive(bitmap) // held only as a number in arg
	if errno != 0 {
		return fmt.Errorf("KVM_GET_DIRTY_LOG slot %d: %w", slot, errno)
	}
	return nil
}

// Close releases the VM. Its vCPUs must be closed first.
func (vm *VM) Close() { vm.f.Close() }

// CPUIDEntry is one leaf KVM_GET_SUPPORTED_CPUID reports; Indexed says its
// Index (the subleaf) is significant.
type CPUIDEntry struct {
	Function, Index    uint32
	Indexed            bool
	EAX, EBX, ECX, EDX uint32
}

// SupportedCPUID is what KVM_GET_SUPPORTED_CPUID reported, or nil where
// this KVM does not implement it.
func (s *System) SupportedCPUID() []CPUIDEntry {
	if s.cpuid == nil {
		return nil
	}
	out := make([]CPUIDEntry, 0, s.cpuid.Nent)
	for _, e := range s.cpuid.Entries[:s.cpuid.Nent] {
		out = append(out, CPUIDEntry{Function: e.Function, Index: e.Index, Indexed: e.Flags&1 != 0,
			EAX: e.Eax, EBX: e.Ebx, ECX: e.Ecx, EDX: e.Edx})
	}
	return out
}
