package hv

import (
	"encoding/binary"

	"github.com/pvsim/pvsim/xen"
)

// callbackOp: HYPERVISOR_callback_op(cmd, arg) (public/callback.h).
func (v *vcpu) callbackOp(a *hypercallArgs) uint64 {
	b := v.hc.buf[:xen.CallbackRegisterSize]
	switch a[0] {
	case xen.CallbackOpRegister:
		if err := v.readGuest(b, a[1]); err != nil {
			return errRet(err)
		}
		typ, flags := xen.CallbackType(binary.LittleEndian.Uint16(b)), binary.LittleEndian.Uint16(b[2:])
		return errRet(v.traps.callbacks.Register(&v.traps.table, typ, flags, binary.LittleEndian.Uint64(b[xen.CallbackAddressOffset:])))
	case xen.CallbackOpUnregister:
		if err := v.readGuest(b[:xen.CallbackUnregisterSize], a[1]); err != nil {
			return errRet(err)
		}
		return errRet(v.traps.callbacks.Unregister(&v.traps.table, xen.CallbackType(binary.LittleEndian.Uint16(b))))
	}
	return xen.ENOSYS.Ret()
}

// setCallbacks: HYPERVISOR_set_callbacks(event, failsafe, syscall), the
// older interface; as Xen's do_set_callbacks it ignores each
// registration's result and returns 0.
func (v *vcpu) setCallbacks(a *hypercallArgs) uint64 {
	for i, typ := range [...]xen.CallbackType{xen.CallbackEvent, xen.CallbackFailsafe, xen.CallbackSyscall} {
		_ = v.traps.callbacks.Register(&v.traps.table, typ, 0, a[i])
	}
	return 0
}
