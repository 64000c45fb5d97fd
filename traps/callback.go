package traps

import (
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/x86"
	"github.com/pvsim/pvsim/xen"
)

// Callbacks are the entry points a 64-bit PV guest registers with
// callback_op or set_callbacks, other than its exception handlers (Xen's
// arch.pv.*_callback_eip and the VGCF_*_disables_events flags). Event
// delivery and guest user mode use them; until those exist they are
// recorded and checked only.
type Callbacks struct {
	Event, Failsafe, Syscall, Syscall32, Sysenter uint64
	// MaskEvents says, by callback type, that entering it masks events
	// (CALLBACKF_mask_events).
	MaskEvents [xen.CallbackSyscall32 + 1]bool
}

// Register applies CALLBACKOP_register, as Xen's register_guest_callback
// for a 64-bit guest: a non-canonical address is EINVAL, an unknown type
// ENOSYS. The NMI callback goes into t's NMI entry, as Xen puts it
// (register_guest_nmi_callback); Deliver never hands an NMI to the guest.
func (c *Callbacks) Register(t *Table, typ xen.CallbackType, flags uint16, address uint64) error {
	if !mmu.Canonical(address) {
		return xen.EINVAL
	}
	mask := flags&xen.CallbackFlagMaskEvents != 0
	switch typ {
	case xen.CallbackEvent:
		c.Event = address
	case xen.CallbackFailsafe:
		c.Failsafe = address
	case xen.CallbackSyscall:
		c.Syscall = address
	case xen.CallbackSyscall32:
		c.Syscall32 = address
	case xen.CallbackSysenter:
		c.Sysenter = address
	case xen.CallbackNMI:
		t[x86.VectorNMI] = xen.TrapInfo{Vector: uint8(x86.VectorNMI), Flags: xen.TrapInfoSetIF, CS: xen.FlatRing3CS64, Address: address}
		return nil
	default:
		return xen.ENOSYS
	}
	c.MaskEvents[typ] = mask
	return nil
}

// Unregister applies CALLBACKOP_unregister, as Xen's
// unregister_guest_callback: only the NMI callback can be taken back; the
// others are EINVAL, an unknown type ENOSYS.
func (c *Callbacks) Unregister(t *Table, typ xen.CallbackType) error {
	switch typ {
	case xen.CallbackEvent, xen.CallbackFailsafe, xen.CallbackSyscall, xen.CallbackSyscall32, xen.CallbackSysenter:
		return xen.EINVAL
	case xen.CallbackNMI:
		t[x86.VectorNMI] = xen.TrapInfo{}
		return nil
	}
	return xen.ENOSYS
}
