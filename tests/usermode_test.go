package tests

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/x86"
	"github.com/pvsim/pvsim/xen"
)

// TestUserMode: guest user mode as Xen's x86-64 PV runs it
// (guest/kernels/usermode.c), audited. The kernel builds and pins a user
// L4 with a page only it maps, sets distinct kernel and user GS bases and
// enters user mode with HYPERVISOR_iret; from there a syscall with no
// callback raises #UD, then enters the syscall callback with Xen's frame
// on the stack_switch stack, a #PF and a #UD reach the kernel with the
// user's CS and error code, the hypercall page refuses, and an event made
// pending with events masked is taken as the iret returns to user mode.
// Every check prints a line; a mismatch panics with "usermode: FAIL:".
func TestUserMode(t *testing.T) {
	out, res, err := boot(t, "usermode", 1, 30*time.Second, "")
	require.NoError(t, err, "console:\n%s", out)
	require.Equal(t, xen.ShutdownPoweroff, res.Reason, "console:\n%s", out)
	assert.NotContains(t, out, "FAIL")

	// The checks that ran, in order: the kernel's lines, each stating
	// Xen's answer (or "ok" for one it compared itself).
	want := []string{
		// 1. The user L4, and the kernel's view without it.
		"usermode: make the new pagetables read-only: 0x0",
		"usermode: MMUEXT_PIN_L4_TABLE of the user L4: 0x0",
		"usermode: MMUEXT_NEW_USER_BASEPTR: 0x0",
		// 2. The GS bases.
		"usermode: set_segment_base(SEGBASE_GS_KERNEL): 0x0",
		"usermode: kernel mode runs on it (%gs:0): ok",
		"usermode: set_segment_base(SEGBASE_GS_USER): 0x0",
		"usermode: kernel mode keeps its GS base after SEGBASE_GS_USER: ok",
		"usermode: kernel mode: the user-only page is not mapped: 0xfa17fa17fa17fa17",
		"usermode: kernel mode #PF: !user_mode(regs), at the load: ok",
		"usermode: kernel mode #PF: error code (no X86_PF_USER): 0x0",
		"usermode: kernel mode #PF: CR2: 0x8000000000",
		"usermode: stack_switch to the entry stack: 0x0",
		"usermode: CALLBACKOP_register(CALLBACKTYPE_event): 0x0",
		"usermode: EVTCHNOP_bind_ipi: 0x0",
		"usermode: entering user mode",
		// 3. Syscalls: #UD with no callback, then the callback's frame.
		"usermode: syscall with no syscall callback: #UD at the syscall, from user mode: ok",
		"usermode: CALLBACKOP_register(CALLBACKTYPE_syscall, CALLBACKF_mask_events): 0x0",
		"usermode: syscall frame CS (FLAT_RING3_CS64, RPL 3): 0xe033",
		"usermode: syscall frame SS: 0xe02b",
		"usermode: syscall frame: user_mode(regs): ok",
		"usermode: syscall frame RIP is the syscall's return address: ok",
		"usermode: syscall frame RCX is the return address, R11 the user RFLAGS: ok",
		"usermode: syscall frame RSP is the user's: ok",
		"usermode: syscall frame RFLAGS keeps the user's DF: ok",
		"usermode: the syscall callback runs with DF clear: ok",
		"usermode: the syscall callback runs with events masked (CALLBACKF_mask_events): 0x1",
		"usermode: on the stack_switch stack: ok",
		"usermode: kernel GS base back in kernel mode (%gs:0): ok",
		"usermode: user mode read %gs:0 (SEGBASE_GS_USER): 0x53477265735521",
		"usermode: user mode read the user-only page (the user L4): 0x796c6e4f726573",
		"usermode: kernel mode after the syscall: the user-only page is not mapped (the kernel L4): 0xfa17fa17fa17fa17",
		"usermode: SYS_HELLO's result in RAX: 0x600d",
		"usermode: iret with VGCF_in_syscall: RCX is the return RIP, as Xen's sysret: ok",
		"usermode: iret with VGCF_in_syscall: R11 is the RFLAGS returned to, as Xen's sysret: ok",
		"usermode: the user's DF came back with its RFLAGS: ok",
		// 4. Exceptions from user mode.
		"usermode: #PF from user mode: user_mode(regs): ok",
		"usermode: #PF from user mode: error code (X86_PF_USER | X86_PF_WRITE): 0x6",
		"usermode: #PF from user mode: CR2 - the hole: 0x18",
		"usermode: #PF from user mode: on the stack_switch stack: ok",
		"usermode: ud2 in user mode: #UD, user_mode(regs): ok",
		// 5. The hypercall page from user mode: a syscall to the kernel.
		"usermode: the hypercall page from user mode: a syscall to the kernel, RAX __HYPERVISOR_xen_version: 0x11",
		"usermode: its first argument (XENVER_version): 0x0",
		"usermode: HYPERVISOR_xen_version through the hypercall page from user mode returns the kernel's answer: 0x17d",
		// 6. An event taken as the iret returns to user mode.
		"usermode: SYS_EVENT: events masked in the kernel: 0x1",
		"usermode: EVTCHNOP_send to this vCPU, masked: 0x0",
		"usermode: masked: no upcall yet: 0x0",
		"usermode: masked: the upcall waits pending: 0x1",
		"usermode: returning to user mode with IF set in the frame: ok",
		"usermode: upcalls taken on the way back to user mode: 0x1",
		"usermode: the upcall's frame: user_mode(regs): ok",
		"usermode: the upcall's frame CS: 0xe033",
		"usermode: the upcall's frame RIP is where the iret returned to: ok",
		"usermode: the upcall ran on the kernel GS base: ok",
		"usermode: the upcall ran masked: 0x1",
		// 7. The exit syscall.
		"usermode: 7 syscalls, 1 upcalls",
		"usermode: ok",
	}
	rest := out
	for _, line := range want {
		i := strings.Index(rest, line+"\n")
		if !assert.GreaterOrEqual(t, i, 0, "missing, or out of order: %q\nconsole:\n%s", line, out) {
			break
		}
		rest = rest[i+len(line)+1:]
	}

	// The mechanism engaged: the hypervisor counted the user syscalls
	// (the seven the callback took, the hypercall page's among them, and
	// the one before it was registered, bounced as #UD) and a switch for
	// each of the 11 entries to user mode (the first iret, and the return
	// from each of 7 syscalls, #UD, #PF, ud2 and the upcall, but the
	// exit) and the 11 entries to kernel mode (8 syscalls, #PF, ud2 and
	// the upcall).
	s := res.Exits[0]
	assert.Equal(t, uint64(8), s.UserSyscalls, "syscalls from user mode")
	assert.Equal(t, uint64(22), s.ModeSwitches, "switches between kernel and user mode")
	assert.Equal(t, uint64(1), s.Upcalls, "the one upcall, into user mode")
	assert.Equal(t, uint64(3), s.Traps[x86.VectorPF], "#PF: two in kernel mode, one in user mode")
	assert.Equal(t, uint64(1), s.Traps[x86.VectorUD], "#UD: the ud2 (the syscall's #UD is bounced from the syscall, not trapped)")
	assert.Equal(t, uint64(1), s.Pins[3], "the user L4 pinned")
}
