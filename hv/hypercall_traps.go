package hv

import (
	"fmt"

	"github.com/pvsim/pvsim/x86"
	"github.com/pvsim/pvsim/xen"
)

// The trap hypercalls of a 64-bit PV guest (xen.h, arch-x86/xen-x86_64.h):
// set_trap_table, stack_switch and iret. Their state is the vCPU's
// trapState (trap.go), which delivers the exceptions. callback_op
// (callback.h) and set_gdt belong here too.

// setTrapTable: HYPERVISOR_set_trap_table(traps). Entries up to the first
// with a zero address replace those of their vectors; a NULL list clears
// the table. The table changes only if the whole list is read.
func (v *vcpu) setTrapTable(a *hypercallArgs) uint64 {
	list := a[0]
	next := &v.traps.next
	if list == 0 {
		*next = [256]xen.TrapInfo{}
	} else {
		*next = v.traps.table
		var e [xen.TrapInfoSize]byte
		for i := 0; ; i++ {
			if i > len(next) {
				return xen.EINVAL.Ret() // no terminator: more entries than vectors
			}
			if err := v.readGuest(e[:], list+uint64(i)*xen.TrapInfoSize); err != nil {
				return errRet(err)
			}
			t := xen.DecodeTrapInfo(e[:])
			if t.Address == 0 {
				break
			}
			if !guestAddress(t.Address) {
				return xen.EINVAL.Ret()
			}
			next[t.Vector] = t
		}
	}
	v.traps.table = *next
	return 0
}

// stackSwitch: HYPERVISOR_stack_switch(ss, esp). It records the stack the
// guest kernel is entered on from user mode; pvsim guests run in kernel
// mode only, so bounce frames go on the current stack, as Xen puts them
// for a fault in kernel mode.
func (v *vcpu) stackSwitch(a *hypercallArgs) uint64 {
	v.traps.kernelSS, v.traps.kernelSP = a[0]|3, a[1]
	return 0
}

// iret: HYPERVISOR_iret. The guest jumped to the iret stub, which pushed
// rcx, r11 and rax under the guest's frame: the stack holds struct
// iret_context. A frame pvsim cannot return to crashes the domain, as
// Xen's do_iret does.
func (v *vcpu) iret(a *hypercallArgs) uint64 {
	r := &v.run.Regs
	b := v.hc.buf[:xen.IretSize]
	if err := v.readGuest(b, r.RSP); err != nil {
		v.fatal(DomainCrash, r.RIP, fmt.Sprintf("HYPERVISOR_iret: frame at %#x unreadable", r.RSP))
		return 0
	}
	ic := xen.DecodeIretContext(b)
	cs, rip := uint16(ic.CS), ic.RIP // above bit 15: the saved upcall mask
	switch {
	case cs&3 == 3:
		v.fatal(DomainCrash, rip, fmt.Sprintf("HYPERVISOR_iret to user mode (cs %#x): pvsim runs no guest user mode", cs))
		return 0
	case cs|3 != xen.FlatRing3CS64:
		v.fatal(DomainCrash, rip, fmt.Sprintf("HYPERVISOR_iret to cs %#x: pvsim runs on FLAT_KERNEL_CS only", cs))
		return 0
	case !guestAddress(rip):
		v.fatal(DomainCrash, rip, fmt.Sprintf("HYPERVISOR_iret to %#x, not a guest address", rip))
		return 0
	}
	r.RIP = rip
	r.RFLAGS = ic.RFLAGS&^(x86.FlagIOPL|x86.FlagVM) | x86.FlagIF | x86.FlagRes1
	r.RSP = ic.RSP
	if ic.Flags&xen.VGCFInSyscall == 0 {
		r.R11, r.RCX = ic.R11, ic.RCX
	}
	return ic.RAX
}
