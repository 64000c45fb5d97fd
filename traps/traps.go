// Package traps is how Xen delivers exceptions to a 64-bit PV guest
// kernel and lets it return from them, as pure functions of the guest's
// state: the virtual IDT the guest registers (set_trap_table), the bounce
// frame Xen builds on the guest stack to enter a handler
// (create_bounce_frame), and the checks of HYPERVISOR_iret (do_iret). hv
// reads and writes the guest; the decisions are here, testable without
// KVM. Callbacks (callback_op) belong here too.
package traps

import (
	"fmt"

	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/x86"
	"github.com/pvsim/pvsim/xen"
)

// GuestAddress reports whether va is a canonical address outside the
// hypervisor's reserved range: an address a guest may hand Xen as code.
func GuestAddress(va uint64) bool {
	return mmu.Canonical(va) && (va < xen.HypervisorVirtStart || va >= xen.HypervisorVirtEnd)
}

// Table is a vCPU's virtual IDT, by vector (Xen's trap_ctxt).
type Table [256]xen.TrapInfo

// ErrNoTerminator is a set_trap_table list whose first 256 entries, one
// for every vector, are all handlers: it is refused without reading more.
var ErrNoTerminator = fmt.Errorf("set_trap_table: no terminating entry within 256 entries: %w", xen.EINVAL)

// Set applies a set_trap_table list to t: entries up to the first with a
// zero address replace those of their vectors. entry(i) reads the list's
// i-th entry from the guest. Errors are entry's, xen.EINVAL for a handler
// that is not a guest address, or ErrNoTerminator; the table changes only
// if the whole list is valid. scratch is space for the new table, so that
// Set allocates nothing.
func (t *Table) Set(entry func(i int) (xen.TrapInfo, error), scratch *Table) error {
	*scratch = *t
	for i := 0; ; i++ {
		if i == len(t) {
			return ErrNoTerminator
		}
		e, err := entry(i)
		if err != nil {
			return err
		}
		if e.Address == 0 {
			break
		}
		if !GuestAddress(e.Address) {
			return xen.EINVAL
		}
		scratch[e.Vector] = e
	}
	*t = *scratch
	return nil
}

// Bounce is the delivery of an exception to the guest's handler: the frame
// to write at SP (Words[:N], from SP up), and where the guest resumes.
type Bounce struct {
	Words [8]uint64
	N     int
	// SP is the new stack pointer, where the frame starts.
	SP uint64
	// RIP, CS, RFLAGS and SS are the handler's.
	RIP, CS, RFLAGS, SS uint64
	// MaskEvents says entering the handler masks event upcalls: its
	// trap_info has TI_SET_IF (Xen's TBF_INTERRUPT).
	MaskEvents bool
}

// Frame is the bounce frame's words.
func (b *Bounce) Frame() []uint64 { return b.Words[:b.N] }

// Undeliverable is an exception the guest cannot take: the domain ends as
// after a triple fault.
type Undeliverable struct{ Reason string }

func (e *Undeliverable) Error() string { return e.Reason }

// Mode is the guest mode an exception, event or syscall interrupts (Xen's
// TF_kernel_mode): kernel mode, whose bounce frame goes on the stack it
// was on, with the RPL of its CS cleared; or user mode, from which Xen
// first switches to kernel mode (toggle_guest_mode) and puts the frame on
// the kernel stack the guest named with stack_switch, keeping the user CS.
type Mode struct {
	User bool
	// KernelSP is stack_switch's stack pointer, used in user mode.
	KernelSP uint64
	// IOPL is the virtual IOPL a frame's RFLAGS carries (bits 12-13),
	// with VMASST_TYPE_architectural_iopl; 0 without.
	IOPL uint64
}

// Context is the guest context a bounce interrupts: where it resumes when
// the handler returns, its RCX and R11, whether its event upcalls are
// masked (evtchn_upcall_mask), and its mode.
type Context struct {
	RIP, CS, RFLAGS, RSP, SS uint64
	RCX, R11                 uint64
	UpcallMasked             bool
	Mode
}

// Deliver computes the bounce of exception x, raised by the guest with
// RCX and R11 as given, its event upcalls masked or not, in mode m, to
// the handler t holds for it, into b (Bounce.Build's frame). A #PF's error
// code loses the user bit for a fault in kernel mode, as Xen clears it
// there. NMI, #DF and #MC are never handed to a PV guest, and a vector
// without a handler cannot be delivered.
func (t *Table) Deliver(x *x86.Exception, rcx, r11 uint64, upcallMasked bool, m Mode, b *Bounce) error {
	h := t[x.Vector]
	switch {
	case x.Vector == x86.VectorNMI || x.Vector == x86.VectorDF || x.Vector == x86.VectorMC:
		return &Undeliverable{"the hypervisor does not hand this vector to a PV guest"}
	case h.Address == 0:
		// As on a CPU with an empty IDT: neither the exception nor the
		// double fault that follows can be delivered.
		return &Undeliverable{"no guest trap handler, so neither it nor #DF can be delivered"}
	}
	ec := x.ErrorCode
	if x.Vector == x86.VectorPF && !m.User {
		ec &^= x86.PFUser
	}
	c := Context{RIP: x.RIP, CS: x.CS, RFLAGS: x.RFLAGS, RSP: x.RSP, SS: x.SS, RCX: rcx, R11: r11, UpcallMasked: upcallMasked, Mode: m}
	b.Build(&c, h.Address, ec, x.Vector.HasErrorCode(), h.Flags&xen.TrapInfoSetIF != 0)
	return nil
}

// Build lays out in b the bounce of c to handler, as Xen's
// create_bounce_frame lays it out for a 64-bit PV guest: from the new RSP
// (16-byte aligned, below c's RSP in kernel mode, below the kernel stack
// in user mode) up, RCX, R11, [error code], RIP, CS (the RPL cleared for
// kernel mode) with the saved upcall mask in bits 32..39, RFLAGS with IF
// the inverse of that mask and IOPL the mode's, RSP, SS. The handler runs on
// FLAT_KERNEL_CS with TF, NT, RF, AC and VM clear and IF set; maskEvents
// (TBF_INTERRUPT) masks upcalls on entry.
func (b *Bounce) Build(c *Context, handler, errorCode uint64, hasErrorCode, maskEvents bool) {
	f := b.Words[:0]
	f = append(f, c.RCX, c.R11)
	if hasErrorCode {
		f = append(f, errorCode)
	}
	cs, rflags := c.CS&0xffff, c.RFLAGS&^x86.FlagIOPL|c.IOPL&x86.FlagIOPL|x86.FlagIF
	if !c.User {
		cs &^= 3
	}
	if c.UpcallMasked {
		cs, rflags = cs|1<<32, rflags&^x86.FlagIF
	}
	f = append(f, c.RIP, cs, rflags, c.RSP, c.SS)
	b.N = len(f)
	b.MaskEvents = maskEvents
	sp := c.RSP
	if c.User {
		sp = c.KernelSP
	}
	b.SP = sp&^15 - uint64(b.N)*8
	b.RIP, b.CS, b.SS = handler, xen.FlatRing3CS64, xen.FlatRing3SS64
	b.RFLAGS = c.RFLAGS&^(x86.FlagTF|x86.FlagNT|x86.FlagRF|x86.FlagAC|x86.FlagVM|x86.FlagIOPL) | x86.FlagIF | x86.FlagRes1
}

// Return is where HYPERVISOR_iret resumes the guest.
type Return struct {
	RIP, RFLAGS, RSP, RAX uint64
	// User says the guest returns to user mode (else kernel mode), on
	// the selectors CS and SS (their RPL forced to 3), which the caller
	// checks against the guest's descriptor tables.
	User   bool
	CS, SS uint16
	// RCX and R11 are restored unless the frame came from a syscall
	// (VGCF_in_syscall); then Restore is false.
	RCX, R11 uint64
	Restore  bool
}

// Iret checks an iret_context as Xen's do_iret does and gives the
// registers to resume with: RFLAGS without IOPL and VM, with IF; a CS
// whose RPL is 3 returns to user mode, any other to kernel mode. Reserved RFLAGS bits are cleared
// too: Xen leaves that to the CPU's iretq, but a VM entry with them set
// fails (Intel). An error means a frame pvsim cannot return to: Xen
// crashes the domain.
func Iret(ic xen.IretContext) (Return, error) {
	cs := uint16(ic.CS) // above bit 15: the saved upcall mask
	user := cs&3 == 3
	if !GuestAddress(ic.RIP) {
		return Return{}, fmt.Errorf("HYPERVISOR_iret to %#x, not a guest address", ic.RIP)
	}
	return Return{
		RIP: ic.RIP, RSP: ic.RSP, RAX: ic.RAX,
		RFLAGS: ic.RFLAGS&x86.FlagsDefined&^(x86.FlagIOPL|x86.FlagVM) | x86.FlagIF | x86.FlagRes1,
		User:   user, CS: cs | 3, SS: uint16(ic.SS) | 3,
		RCX: ic.RCX, R11: ic.R11, Restore: ic.Flags&xen.VGCFInSyscall == 0,
	}, nil
}
