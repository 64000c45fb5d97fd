/*
 * Event channels delivered as upcalls, and the timers and blocking that
 * go with them, each against Xen's answer:
 *
 *   - a singleshot timer (VCPUOP_set_singleshot_timer) raises VIRQ_TIMER,
 *     and SCHEDOP_block sleeps until it does, with events unmasked; the
 *     upcall runs with evtchn_upcall_mask set, and HYPERVISOR_iret puts
 *     the mask back from the frame's IF;
 *   - a masked vCPU takes no upcall: the event waits in
 *     evtchn_upcall_pending until the mask is cleared and a hypercall
 *     returns (Linux's xen_force_evtchn_callback);
 *   - set_timer_op, a periodic timer and stopping it;
 *   - an IPI from vCPU 1 reaches vCPU 0 while it spins in guest code with
 *     no hypercall: the hypervisor kicks it out of the guest;
 *   - SCHEDOP_poll on a masked port wakes when vCPU 1 sends on it, with no
 *     upcall, and returns at its timeout otherwise;
 *   - what the timer and poll calls refuse (-ETIME, -EINVAL).
 *
 * The upcall handler is Linux's 2-level one (xen/events.h).
 */
#include <atomic.h>
#include <delay.h>
#include <hypercall.h>
#include <kernel.h>
#include <processor.h>
#include <ptrace.h>
#include <pvclock.h>
#include <smp.h>
#include <traps.h>
#include <xen/errno.h>
#include <xen/event_channel.h>
#include <xen/events.h>
#include <xen/hypervisor.h>
#include <xen/sched.h>
#include <xen/vcpu.h>
#include <xen/version.h>

PVSIM_DESCRIPTION("event channel upcalls, timers, SCHEDOP_block and SCHEDOP_poll, against Xen's answers");

#define NR_PORTS_SEEN		64
#define BITS_PER_LONG		64

static unsigned long port_events[NR_PORTS_SEEN];	/* upcalls per port */
static unsigned long upcalls[2];			/* per vCPU */
static unsigned long mask_in_upcall[2];			/* the mask the handler saw */
static atomic_t phase = ATOMIC_INIT(0);

static void expect(const char *what, long got, long want)
{
	if (got != want)
		panic("events: FAIL: %s: got %ld (0x%lx), want %ld (0x%lx)", what, got, got, want, want);
	printk("events: %s: %ld\n", what, got);
}

/* Linux's xen_clocksource_read(): system time, from the pvclock. */
static u64 xen_clocksource_read(void)
{
	return pvclock_cycles_to_ns(rdtsc());
}

static void count_port(evtchn_port_t port)
{
	if (port < NR_PORTS_SEEN)
		__atomic_fetch_add(&port_events[port], 1, __ATOMIC_SEQ_CST);
}

static int events_trap(struct pt_regs *regs, int trapnr)
{
	unsigned int cpu = smp_processor_id();

	if (trapnr != XEN_UPCALL_VECTOR)
		return 0;
	mask_in_upcall[cpu] = READ_ONCE(xen_vcpu_info()->evtchn_upcall_mask);
	upcalls[cpu]++;
	xen_evtchn_do_upcall(count_port);
	return 1;
}

static unsigned long port_count(evtchn_port_t port)
{
	return __atomic_load_n(&port_events[port], __ATOMIC_SEQ_CST);
}

static void set_mask(bool masked)
{
	WRITE_ONCE(xen_vcpu_info()->evtchn_upcall_mask, masked);
	barrier();
}

static evtchn_port_t bind_virq(unsigned int virq, unsigned int vcpu)
{
	struct evtchn_bind_virq b = { .virq = virq, .vcpu = vcpu };

	expect("bind_virq", HYPERVISOR_event_channel_op(EVTCHNOP_bind_virq, &b), 0);
	return b.port;
}

static evtchn_port_t bind_ipi(unsigned int vcpu)
{
	struct evtchn_bind_ipi b = { .vcpu = vcpu };

	expect("bind_ipi", HYPERVISOR_event_channel_op(EVTCHNOP_bind_ipi, &b), 0);
	return b.port;
}

static int send(evtchn_port_t port)
{
	struct evtchn_send s = { .port = port };

	return HYPERVISOR_event_channel_op(EVTCHNOP_send, &s);
}

static int singleshot(u64 timeout, unsigned int flags, unsigned int vcpu)
{
	struct vcpu_set_singleshot_timer t = { .timeout_abs_ns = timeout, .flags = flags };

	return HYPERVISOR_vcpu_op(VCPUOP_set_singleshot_timer, vcpu, &t);
}

static int poll(evtchn_port_t *ports, unsigned int n, u64 timeout)
{
	struct sched_poll p = { .ports = ports, .nr_ports = n, .timeout = timeout };

	return HYPERVISOR_sched_op(SCHEDOP_poll, &p);
}

static void test_timer_block(evtchn_port_t timer)
{
	u64 t0 = xen_clocksource_read();

	set_mask(true);
	expect("set_singleshot_timer(1 ms)", singleshot(t0 + 1000000, VCPU_SSHOTTMR_future, 0), 0);
	while (!port_count(timer))
		expect("SCHEDOP_block", HYPERVISOR_sched_op(SCHEDOP_block, NULL), 0);
	expect("VIRQ_TIMER taken once", port_count(timer), 1);
	expect("no sooner than the deadline", xen_clocksource_read() >= t0 + 1000000, 1);
	expect("the upcall ran masked", mask_in_upcall[0], 1);
	expect("HYPERVISOR_iret unmasked from IF", xen_vcpu_info()->evtchn_upcall_mask, 0);
}

static void test_masked(evtchn_port_t timer)
{
	unsigned long before = port_count(timer), n = upcalls[0];

	set_mask(true);
	expect("set_timer_op(now): fires at once", HYPERVISOR_set_timer_op(xen_clocksource_read()), 0);
	HYPERVISOR_xen_version(XENVER_version, NULL);
	expect("masked: no upcall", upcalls[0] - n, 0);
	expect("masked: the upcall waits pending", xen_vcpu_info()->evtchn_upcall_pending, 1);
	set_mask(false);
	/* xen_force_evtchn_callback(): any hypercall returns through delivery. */
	HYPERVISOR_xen_version(XENVER_version, NULL);
	expect("unmasked: taken on the way back from a hypercall", port_count(timer) - before, 1);
}

static void test_refusals(void)
{
	struct vcpu_set_periodic_timer p = { .period_ns = 100000 };

	expect("singleshot in the past with VCPU_SSHOTTMR_future",
	       singleshot(1, VCPU_SSHOTTMR_future, 0), -ETIME);
	expect("singleshot for another vCPU", singleshot(xen_clocksource_read() + 1000000000, 0, 1), -EINVAL);
	expect("stop_singleshot for another vCPU", HYPERVISOR_vcpu_op(VCPUOP_stop_singleshot_timer, 1, NULL), -EINVAL);
	expect("periodic under 1 ms", HYPERVISOR_vcpu_op(VCPUOP_set_periodic_timer, 0, &p), -EINVAL);
	expect("singleshot of an unreadable argument", HYPERVISOR_vcpu_op(VCPUOP_set_singleshot_timer, 0, NULL), -EFAULT);
}

static void test_periodic(evtchn_port_t timer)
{
	struct vcpu_set_periodic_timer p = { .period_ns = 1000000 };
	unsigned long start = port_count(timer), stopped;
	u64 t;

	expect("set_periodic_timer(1 ms)", HYPERVISOR_vcpu_op(VCPUOP_set_periodic_timer, 0, &p), 0);
	while (port_count(timer) < start + 3)
		HYPERVISOR_sched_op(SCHEDOP_block, NULL);
	expect("stop_periodic_timer", HYPERVISOR_vcpu_op(VCPUOP_stop_periodic_timer, 0, NULL), 0);
	stopped = port_count(timer);
	for (t = xen_clocksource_read(); xen_clocksource_read() < t + 5000000;)
		HYPERVISOR_xen_version(XENVER_version, NULL);
	expect("no tick once stopped", port_count(timer) - stopped, 0);
}

static void test_ipi_while_spinning(evtchn_port_t ipi)
{
	u64 t0 = xen_clocksource_read();

	atomic_set(&phase, 1);
	while (!port_count(ipi)) {
		if (xen_clocksource_read() > t0 + 5000000000UL)
			panic("events: FAIL: no upcall for an IPI in 5 s of spinning");
		cpu_relax();
	}
	expect("an IPI taken while spinning in guest code", port_count(ipi), 1);
}

static void test_poll(evtchn_port_t port)
{
	struct shared_info *s = HYPERVISOR_shared_info;
	evtchn_port_t bad = 4095;
	u64 t0;

	__atomic_fetch_or(&s->evtchn_mask[port / BITS_PER_LONG], 1UL << (port % BITS_PER_LONG), __ATOMIC_SEQ_CST);
	atomic_set(&phase, 2);
	expect("SCHEDOP_poll, woken by vCPU 1's send", poll(&port, 1, xen_clocksource_read() + 5000000000UL), 0);
	expect("the polled port is pending", (READ_ONCE(s->evtchn_pending[port / BITS_PER_LONG]) >> (port % BITS_PER_LONG)) & 1, 1);
	expect("a masked port raises no upcall", port_count(port), 0);
	__atomic_fetch_and(&s->evtchn_pending[port / BITS_PER_LONG], ~(1UL << (port % BITS_PER_LONG)), __ATOMIC_SEQ_CST);

	t0 = xen_clocksource_read();
	expect("SCHEDOP_poll with a 2 ms timeout", poll(&port, 1, t0 + 2000000), 0);
	expect("returned at its timeout", xen_clocksource_read() >= t0 + 2000000, 1);
	expect("SCHEDOP_poll of 129 ports", poll(&port, 129, 0), -EINVAL);
	expect("SCHEDOP_poll of a port not valid", poll(&bad, 1, 0), -EINVAL);
	expect("SCHEDOP_poll of an unreadable array", poll(NULL, 1, 0), -EFAULT);
}

void secondary_main(void)
{
	evtchn_port_t port;

	while (atomic_read(&phase) != 1)
		cpu_relax();
	port = READ_ONCE(port_events[NR_PORTS_SEEN - 1]);	/* the IPI's, from vCPU 0 */
	expect("send from vCPU 1", send(port), 0);
	while (atomic_read(&phase) != 2)
		cpu_relax();
	udelay(2000);
	port = READ_ONCE(port_events[NR_PORTS_SEEN - 2]);	/* the polled port */
	expect("send to the polled port", send(port), 0);
	for (;;)
		HYPERVISOR_sched_op(SCHEDOP_block, NULL);
}

void kernel_main(void)
{
	evtchn_port_t timer, ipi, polled;

	if (num_possible_cpus() < 2)
		panic("events: needs 2 vCPUs");
	if (!pvclock_present())
		panic("events: needs the pvclock (a domain that is not deterministic)");
	trap_hook = events_trap;
	expect("set_callbacks(event)", HYPERVISOR_set_callbacks((unsigned long)xen_hypervisor_callback, 0, 0), 0);

	timer = bind_virq(VIRQ_TIMER, 0);
	test_timer_block(timer);
	test_masked(timer);
	test_refusals();
	test_periodic(timer);

	ipi = bind_ipi(0);
	polled = bind_ipi(0);
	if (ipi >= NR_PORTS_SEEN - 2 || polled >= NR_PORTS_SEEN - 2)
		panic("events: ports %u and %u: past what the test counts", ipi, polled);
	/* vCPU 1 learns the ports from the last slots, which no port uses. */
	WRITE_ONCE(port_events[NR_PORTS_SEEN - 1], ipi);
	WRITE_ONCE(port_events[NR_PORTS_SEEN - 2], polled);
	smp_init();
	test_ipi_while_spinning(ipi);
	test_poll(polled);
	printk("events: %lu upcalls\n", upcalls[0]);
	printk("events: ok\n");
	xen_poweroff();
}
