package hv

import (
	"fmt"

	"github.com/pvsim/pvsim/traps"
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
	if list == 0 {
		v.traps.table = traps.Table{}
		return 0
	}
	var e [xen.TrapInfoSize]byte
	err := v.traps.table.Set(func(i int) (xen.TrapInfo, error) {
		if err := v.readGuest(e[:], list+uint64(i)*xen.TrapInfoSize); err != nil {
			return xen.TrapInfo{}, err
		}
		return xen.DecodeTrapInfo(e[:]), nil
	}, &v.traps.next)
	return errRet(err)
}

// stackSwitch: HYPERVISOR_stack_switch(ss, esp). It records the stack the
// guest kernel is entered on from user mode (Xen's kernel_ss, kernel_sp):
// a bounce from user mode puts its frame there.
func (v *vcpu) stackSwitch(a *hypercallArgs) uint64 {
	v.traps.kernelSS, v.traps.kernelSP = a[0]|3, a[1]
	return 0
}

// iret: HYPERVISOR_iret. The guest jumped to the iret stub, which pushed
// rcx, r11 and rax under the guest's frame: the stack holds struct
// iret_context. A CS with RPL 3 returns to user mode (enterUserMode). A
// frame pvsim cannot return to crashes the domain, as Xen's do_iret does.
func (v *vcpu) iret(a *hypercallArgs) uint64 {
	r := &v.run.Regs
	b := v.hc.buf[:xen.IretSize]
	if err := v.readGuest(b, r.RSP); err != nil {
		v.fatal(DomainCrash, r.RIP, fmt.Sprintf("HYPERVISOR_iret: frame at %#x unreadable", r.RSP))
		return 0
	}
	ic := xen.DecodeIretContext(b)
	ret, err := traps.Iret(ic)
	if err != nil {
		v.fatal(DomainCrash, ic.RIP, err.Error())
		return 0
	}
	if v.exec.Parked() {
		// An entry of the same multicall ran an executor round: the
		// registers the executor restores are the multicall's. pvsim
		// does not return through iret from there.
		v.fatal(DomainCrash, ic.RIP, "HYPERVISOR_iret in a multicall after an entry that used the executor: pvsim does not offer it")
		return 0
	}
	if !ret.Restore {
		// VGCF_in_syscall: Xen returns by sysretq, which loads
		// FLAT_USER_CS64 and FLAT_USER_SS from STAR, whatever the frame
		// says.
		ret.CS, ret.SS = xen.FlatRing3CS64, xen.FlatRing3SS64
	}
	if ret.User && !v.enterUserMode(ret.CS, ret.SS) || !ret.User && !v.returnToKernel(ret.CS, ret.SS) {
		return 0
	}
	r.RIP, r.RFLAGS, r.RSP = ret.RIP, ret.RFLAGS, ret.RSP
	if v.d.assisted(xen.VMAssistArchitecturalIOPL) {
		v.priv.iopl = int(ic.RFLAGS >> 12 & 3) // do_iret's arch.pv.iopl
	}
	// The upcall mask comes back from the frame's IF, as in Xen's do_iret.
	v.d.evtchn.Shared().SetUpcallMask(v.id, ic.RFLAGS&x86.FlagIF == 0)
	v.traps.bounced = false // the exception was handled: a later crash is not its
	if ret.Restore {
		r.R11, r.RCX = ret.R11, ret.RCX
	} else {
		// VGCF_in_syscall: Xen returns by sysret (the hypercall came by
		// syscall), which loads RCX and R11 with RIP and RFLAGS.
		r.R11, r.RCX = ret.RFLAGS, ret.RIP
	}
	return ret.RAX
}
