/*
 * Event channels (public/event_channel.h): the commands of the
 * event_channel_op hypercall the kernels use, their arguments, and the
 * hypercall itself.
 */
#ifndef _XEN_EVENT_CHANNEL_H
#define _XEN_EVENT_CHANNEL_H

#include <hypercall.h>
#include <xen/xen.h>

typedef uint32_t evtchn_port_t;

#define EVTCHNOP_bind_virq	1
#define EVTCHNOP_close		3
#define EVTCHNOP_send		4
#define EVTCHNOP_bind_ipi	7
#define EVTCHNOP_unmask		9

/* Per-vCPU virqs this header names. */
#define VIRQ_TIMER		0

struct evtchn_bind_virq {
	uint32_t virq;
	uint32_t vcpu;
	evtchn_port_t port;		/* OUT */
};

struct evtchn_bind_ipi {
	uint32_t vcpu;
	evtchn_port_t port;		/* OUT */
};

struct evtchn_send {
	evtchn_port_t port;
};

struct evtchn_unmask {
	evtchn_port_t port;
};

static inline int HYPERVISOR_event_channel_op(int cmd, void *arg)
{
	return _hypercall2(int, event_channel_op, cmd, arg);
}

_Static_assert(sizeof(struct evtchn_bind_virq) == 12, "evtchn_bind_virq");
_Static_assert(sizeof(struct evtchn_bind_ipi) == 8, "evtchn_bind_ipi");

#endif /* _XEN_EVENT_CHANNEL_H */
