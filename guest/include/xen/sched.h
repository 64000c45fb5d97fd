/* sched_op hypercall: give up the CPU, or end the domain. */
#ifndef _XEN_SCHED_H
#define _XEN_SCHED_H

#include <xen/xen.h>

#define SCHEDOP_yield		0	/* arg: NULL */
#define SCHEDOP_block		1	/* arg: NULL */
#define SCHEDOP_shutdown	2	/* arg: struct sched_shutdown * */

struct sched_shutdown {
	unsigned int reason;		/* SHUTDOWN_* */
};

#define SHUTDOWN_poweroff	0	/* exited normally */
#define SHUTDOWN_reboot		1	/* asks to be restarted */
#define SHUTDOWN_suspend	2	/* suspended; state saved */
#define SHUTDOWN_crash		3	/* the kernel crashed */
#define SHUTDOWN_watchdog	4	/* a watchdog expired */

_Static_assert(sizeof(struct sched_shutdown) == 4, "sched_shutdown");

/* Blocks until an event on one of the ports is pending, or timeout. */
#define SCHEDOP_poll		3	/* arg: struct sched_poll * */

struct sched_poll {
	uint32_t *ports;		/* evtchn_port_t */
	unsigned int nr_ports;
	uint64_t timeout;		/* system time; 0: none */
};

_Static_assert(sizeof(struct sched_poll) == 24, "sched_poll");

#endif /* _XEN_SCHED_H */
