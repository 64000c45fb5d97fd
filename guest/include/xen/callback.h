/* callback_op: the entry points other than exception handlers. */
#ifndef _XEN_CALLBACK_H
#define _XEN_CALLBACK_H

#include <xen/xen.h>

#define CALLBACKTYPE_event		0
#define CALLBACKTYPE_failsafe		1
#define CALLBACKTYPE_syscall		2
#define CALLBACKTYPE_nmi		4
#define CALLBACKTYPE_sysenter		5
#define CALLBACKTYPE_syscall32		7

#define CALLBACKF_mask_events		(1U << 0)

#define CALLBACKOP_register		0
struct callback_register {
	uint16_t type;
	uint16_t flags;
	unsigned long address;
};

#define CALLBACKOP_unregister		1
struct callback_unregister {
	uint16_t type;
	uint16_t _unused;
};

_Static_assert(sizeof(struct callback_register) == 16, "callback_register");
_Static_assert(offsetof(struct callback_register, address) == 8, "callback_register.address");
_Static_assert(sizeof(struct callback_unregister) == 4, "callback_unregister");

#endif
