package hvimage

import (
	"bytes"
	"encoding/binary"

	"github.com/pvsim/pvsim/xen"
)

// DoorbellInsnLen is the length of a hypercall stub's doorbell store,
// `movabs %eax, DoorbellVA`, and StubMovLen that of the `mov $nr, %eax`
// before it, where a stub begins (but iret's).
const (
	DoorbellInsnLen = 9
	StubMovLen      = 5
)

// FillHypercallPage writes the hypercall stubs into page. Entry nr, at
// nr*32, is
//
//	mov  $nr, %eax
//	movabs %eax, DoorbellVA
//	ret
//
// The store to the unbacked doorbell exits to the VMM as MMIO carrying the
// hypercall number; arguments stay in rdi, rsi, rdx, r10, r8 and the result
// comes back in rax, as with Xen. Nothing else is clobbered.
//
// HYPERVISOR_iret is special, as in Xen: the guest jumps to it with an
// iret frame on its stack, and the stub saves the registers the return
// restores before exiting; it never returns:
//
//	push %rcx; push %r11; push %rax
//	mov  $__HYPERVISOR_iret, %eax
//	movabs %eax, DoorbellVA
//	ud2
func FillHypercallPage(page []byte) {
	clear(page)
	for nr := 0; nr < xen.NrHypercalls; nr++ {
		s := page[nr*xen.HypercallStubSize:][:xen.HypercallStubSize]
		n := 0
		if nr == xen.HypercallIret {
			n = copy(s, []byte{0x51, 0x41, 0x53, 0x50}) // push %rcx, %r11, %rax
		}
		s[n] = 0xb8
		binary.LittleEndian.PutUint32(s[n+1:], uint32(nr))
		copy(s[n+StubMovLen:], doorbellStore)
		s[n+14] = 0xc3 // ret
		if nr == xen.HypercallIret {
			s[n+14], s[n+15] = 0x0f, 0x0b // ud2
		}
	}
}

// doorbellStore is the instruction `movabs %eax, DoorbellVA`.
var doorbellStore = func() []byte {
	b := make([]byte, DoorbellInsnLen)
	b[0] = 0xa3
	binary.LittleEndian.PutUint64(b[1:], DoorbellVA)
	return b
}()

// IsDoorbellStore reports whether code starts with a stub's doorbell
// store.
func IsDoorbellStore(code []byte) bool { return bytes.HasPrefix(code, doorbellStore) }

// IsStubMov reports whether code starts with a stub's `mov $nr, %eax`.
func IsStubMov(code []byte) bool { return len(code) >= StubMovLen && code[0] == 0xb8 }

// SyscallDoorbellOff is where in the doorbell page the syscall transport
// stores the hypercall number, so that the VMM tells the transports apart.
const SyscallDoorbellOff = 8

// SyscallStoreLen is the length of the syscall entry's doorbell store,
// its first instruction.
const SyscallStoreLen = DoorbellInsnLen

// SyscallEntryCode is the code at SyscallEntryVA, the second hypercall
// transport: a 64-bit PV kernel without a hypercall page makes a
// hypercall with `syscall`, number in RAX, arguments as for the page
// (Xen's ABI, which Linux's xen_hypercall_pv and xen_iret use). The
// syscall leaves the return address in RCX and RFLAGS in R11, and lands
// here:
//
//	movabs %eax, DoorbellVA+SyscallDoorbellOff  # the hypercall; RAX = result
//	push   %rax
//	mov    %cs, %eax
//	test   $3, %al
//	pop    %rax
//	jz     1f
//	push   %r11                                 # landed at CPL3 (kvm_pvm):
//	popfq                                       #   RFLAGS back,
//	jmp    *%rcx                                #   back to the caller
//	1: sysretq                                  # landed at CPL0, as the
//	                                            #   architecture has it
//
// On kvm_pvm a syscall at CPL3 jumps to MSR_LSTAR and stays at CPL3, even
// with EFER.SCE clear (measured); on a CPU that enters CPL0 as the
// architecture says, sysretq returns to the caller on STAR's selectors.
// HYPERVISOR_iret made this way never returns here: the VMM resumes the
// guest where the iret frame says.
var SyscallEntryCode = func() []byte {
	b := make([]byte, 0, 32)
	b = append(b, 0xa3)
	b = binary.LittleEndian.AppendUint64(b, DoorbellVA+SyscallDoorbellOff)
	b = append(b,
		0x50,       // push %rax
		0x8c, 0xc8, // mov %cs, %eax
		0xa8, 0x03, // test $3, %al
		0x58,       // pop %rax
		0x74, 0x05, // jz 1f
		0x41, 0x53, // push %r11
		0x9d,       // popfq
		0xff, 0xe1, // jmp *%rcx
		0x48, 0x0f, 0x07, // 1: sysretq
	)
	return b
}()

// The offsets in SyscallEntryCode of its instructions after the doorbell
// store, on the CPL3 path (kvm_pvm's).
const (
	syscallPushRAX = SyscallStoreLen    // push %rax
	syscallMovCS   = syscallPushRAX + 1 // mov %cs, %eax
	syscallTest    = syscallMovCS + 2   // test $3, %al
	syscallPopRAX  = syscallTest + 2    // pop %rax
	syscallJZ      = syscallPopRAX + 1  // jz 1f
	syscallPushR11 = syscallJZ + 2      // push %r11
	syscallPopfq   = syscallPushR11 + 2 // popfq
	syscallJmp     = syscallPopfq + 1   // jmp *%rcx
)

// SyscallStop is where a vCPU stopped at CPL3 in the syscall entry
// (SyscallEntryCode) stands, for a VMM that would deliver an event to it:
// the guest's state is then as if it were at the syscall or back at its
// caller, not in a page the guest cannot return to.
type SyscallStop struct {
	// Before says the hypercall has not been made: the guest is as at
	// its syscall instruction (RCX-2), with RFLAGS from R11.
	Before bool
	// Otherwise the guest returns to RCX; Pushed is how far its stack
	// pointer is below the caller's; RAXOnStack says RAX was overwritten
	// and the result is at the top of the stack; FlagsPending that
	// RFLAGS is yet to come from R11.
	Pushed       uint64
	RAXOnStack   bool
	FlagsPending bool
}

// SyscallStopAt describes a vCPU stopped at rip, or reports false if rip
// is not in the syscall entry's CPL3 path.
func SyscallStopAt(rip uint64) (SyscallStop, bool) {
	if rip < SyscallEntryVA || rip > SyscallEntryVA+syscallJmp {
		return SyscallStop{}, false
	}
	switch rip - SyscallEntryVA {
	case 0:
		return SyscallStop{Before: true}, true
	case syscallPushRAX, syscallJZ, syscallPushR11:
		// RAX is the result, the stack the caller's.
		return SyscallStop{FlagsPending: true}, true
	case syscallMovCS:
		return SyscallStop{Pushed: 8, FlagsPending: true}, true
	case syscallTest, syscallPopRAX:
		return SyscallStop{Pushed: 8, RAXOnStack: true, FlagsPending: true}, true
	case syscallPopfq:
		return SyscallStop{Pushed: 8, FlagsPending: true}, true
	case syscallJmp:
		return SyscallStop{}, true
	}
	return SyscallStop{}, false // inside an instruction: cannot happen
}
