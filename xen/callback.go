package xen

// callback_op and set_callbacks (public/callback.h, xen.h).
const (
	HypercallSetCallbacks = 4  // __HYPERVISOR_set_callbacks
	HypercallCallbackOp   = 30 // __HYPERVISOR_callback_op

	CallbackOpRegister   = 0 // CALLBACKOP_register
	CallbackOpUnregister = 1 // CALLBACKOP_unregister

	// CallbackRegisterSize is struct callback_register: type (u16), flags
	// (u16), padding, address (u64) at CallbackAddressOffset.
	CallbackRegisterSize  = 16
	CallbackAddressOffset = 8
	// CallbackUnregisterSize is struct callback_unregister: type, unused.
	CallbackUnregisterSize = 4

	// CallbackFlagMaskEvents (CALLBACKF_mask_events): entering the
	// callback masks event delivery.
	CallbackFlagMaskEvents = 1 << 0
)

// CallbackType is a CALLBACKTYPE_* value.
type CallbackType uint16

// The callback types a 64-bit PV guest registers.
const (
	CallbackEvent     CallbackType = 0 // CALLBACKTYPE_event
	CallbackFailsafe  CallbackType = 1 // CALLBACKTYPE_failsafe
	CallbackSyscall   CallbackType = 2 // CALLBACKTYPE_syscall
	CallbackNMI       CallbackType = 4 // CALLBACKTYPE_nmi
	CallbackSysenter  CallbackType = 5 // CALLBACKTYPE_sysenter
	CallbackSyscall32 CallbackType = 7 // CALLBACKTYPE_syscall32
)

// TrapInfoSetIF (TI_SET_IF) in a trap_info's flags: entering the handler
// masks events, as an interrupt gate clears IF.
const TrapInfoSetIF = 1 << 2
