package hv

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/pvsim/pvsim/pvclock"
	"github.com/pvsim/pvsim/x86"
	"github.com/pvsim/pvsim/xen"
)

// Guest time and timers (Xen's common/timer.c and the timer parts of
// common/domain.c and common/sched/core.c): each vCPU has a singleshot
// timer (VCPUOP_set_singleshot_timer, set_timer_op) and a periodic one
// (VCPUOP_set_periodic_timer), which raise VIRQ_TIMER on it, and a poll
// timeout (SCHEDOP_poll).
//
// System time is what the guest computes from its vcpu_time_info: its
// TSC scaled, 0 at TSC 0 (pvclock.Publish). In a deterministic domain it
// is the logical clock, and timers fire at scheduling points once it has
// passed their deadline, so that a replay fires them at the same points.

// minPeriod is the shortest period VCPUOP_set_periodic_timer accepts
// (Xen's MILLISECS(1)).
const minPeriod = uint64(time.Millisecond)

// vcpuTimers are one vCPU's timers. Deadlines are system time in
// nanoseconds, 0 for none. The vCPU's thread sets them; a host timer (or,
// in a deterministic domain, the scheduler) fires them.
type vcpuTimers struct {
	mu         sync.Mutex
	singleshot uint64
	period     uint64
	periodic   uint64 // the periodic timer's next deadline
	poll       uint64 // SCHEDOP_poll's timeout
	host       *time.Timer
	stopped    bool // for good: the domain is being released
	// tscOffset is the guest's TSC less the host's.
	tscOffset uint64
}

// initTime measures the vCPU's TSC offset, for its system time.
func (v *vcpu) initTime() error {
	host := pvclock.TSC()
	guest, err := v.kvm.MSR(x86.MSRTSC)
	if err != nil {
		return err
	}
	v.timers.tscOffset = guest - host
	return nil
}

// systemTime is the vCPU's system time now, in nanoseconds.
func (v *vcpu) systemTime() uint64 {
	if v.d.det != nil {
		return uint64(v.d.det.Now())
	}
	mul, shift := v.d.clockMul, v.d.clockShift
	return pvclock.SystemTime(pvclock.TSC()+v.timers.tscOffset, mul, shift)
}

// setSingleshot arms (deadline > 0) or stops the singleshot timer.
func (v *vcpu) setSingleshot(deadline uint64) { v.setDeadline(&v.timers.singleshot, deadline) }

// setPollTimeout arms (deadline > 0) or stops the poll timeout.
func (v *vcpu) setPollTimeout(deadline uint64) { v.setDeadline(&v.timers.poll, deadline) }

// setDeadline sets one of the vCPU's deadlines, under the timers' lock.
func (v *vcpu) setDeadline(d *uint64, deadline uint64) {
	v.timers.mu.Lock()
	*d = deadline
	v.armLocked()
	v.timers.mu.Unlock()
}

// setPeriodic starts (period > 0) or stops the periodic timer, its first
// deadline a period from now (Xen's vcpu_periodic_timer_work).
func (v *vcpu) setPeriodic(period uint64) {
	t := &v.timers
	t.mu.Lock()
	t.period, t.periodic = period, 0
	if period > 0 {
		t.periodic = v.systemTime() + period
	}
	v.armLocked()
	t.mu.Unlock()
}

// armLocked sets the host timer for the earliest deadline, in a domain
// whose time is the host's.
//
// Precondition: v.timers.mu is held.
func (v *vcpu) armLocked() {
	t := &v.timers
	if v.d.det != nil || t.stopped {
		return // the scheduler fires them (fireTimers), or none will
	}
	next := uint64(0)
	for _, d := range [...]uint64{t.singleshot, t.periodic, t.poll} {
		if d != 0 && (next == 0 || d < next) {
			next = d
		}
	}
	if t.host == nil {
		if next == 0 {
			return
		}
		t.host = time.AfterFunc(time.Hour, v.fireTimers)
	}
	if next == 0 {
		t.host.Stop()
		return
	}
	now := v.systemTime()
	wait := time.Duration(0)
	if next > now {
		wait = time.Duration(next - now)
	}
	t.host.Reset(wait)
}

// fireTimers fires every timer of the vCPU whose deadline has passed: the
// singleshot and periodic timers raise VIRQ_TIMER (a periodic one that
// fell behind fires once and catches up, as Xen's does), the poll timeout
// wakes the vCPU. Any thread may call it; it holds the timers' lock
// throughout, so that once stopTimers returns none is firing.
func (v *vcpu) fireTimers() {
	t := &v.timers
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	now := v.systemTime()
	timer, wake := false, false
	if t.singleshot != 0 && t.singleshot <= now {
		t.singleshot, timer = 0, true
	}
	if t.periodic != 0 && t.periodic <= now {
		for t.periodic <= now {
			t.periodic += t.period
		}
		timer = true
	}
	if t.poll != 0 && t.poll <= now {
		t.poll, wake = 0, true
	}
	v.armLocked()
	if timer {
		v.d.raiseVIRQ(xen.VIRQTimer, v.id)
	}
	if wake {
		v.wakeUp()
	}
}

// pollExpired reports whether a poll's timeout has fired (or none was set).
func (v *vcpu) pollExpired() bool {
	v.timers.mu.Lock()
	defer v.timers.mu.Unlock()
	return v.timers.poll == 0
}

// stopTimers stops the vCPU's timers for good, waiting for one firing:
// the domain is being released.
func (v *vcpu) stopTimers() {
	t := &v.timers
	t.mu.Lock()
	t.stopped = true
	t.singleshot, t.periodic, t.poll = 0, 0, 0
	if t.host != nil {
		t.host.Stop()
	}
	t.mu.Unlock()
}

// setTimerOp: HYPERVISOR_set_timer_op(timeout), Xen's do_set_timer_op:
// 0 stops the singleshot timer, any other time (past ones at once) arms
// it.
func (v *vcpu) setTimerOp(a *hypercallArgs) uint64 {
	v.setSingleshot(a[0])
	if a[0] != 0 && a[0] <= v.systemTime() {
		v.fireTimers()
	}
	return 0
}

// singleshotTimer is VCPUOP_set_singleshot_timer for the calling vCPU:
// -ETIME for a deadline passed when the guest asked for one in the
// future (VCPU_SSHOTTMR_future), and a deadline passed otherwise fires
// at once.
func (v *vcpu) singleshotTimer(t *vcpu, arg uint64) uint64 {
	if t != v {
		return xen.EINVAL.Ret()
	}
	b := v.hc.buf[:xen.SingleshotTimerSize]
	if err := v.readGuest(b, arg); err != nil {
		return errRet(err)
	}
	deadline := binary.LittleEndian.Uint64(b)
	flags := binary.LittleEndian.Uint32(b[xen.SingleshotTimerFlags:])
	now := v.systemTime()
	if flags&xen.SSHotTmrFuture != 0 && deadline < now {
		return xen.ETIME.Ret()
	}
	v.setSingleshot(max(deadline, 1))
	if deadline <= now {
		v.fireTimers()
	}
	return 0
}

// periodicTimer is VCPUOP_set_periodic_timer for vCPU t: periods under a
// millisecond are -EINVAL, as in Xen.
func (v *vcpu) periodicTimer(t *vcpu, arg uint64) uint64 {
	b := v.hc.buf[:8]
	if err := v.readGuest(b, arg); err != nil {
		return errRet(err)
	}
	period := binary.LittleEndian.Uint64(b)
	if period < minPeriod {
		return xen.EINVAL.Ret()
	}
	t.setPeriodic(period)
	return 0
}

// fireTimers, in a deterministic domain, fires the timers of every vCPU
// whose deadline the logical clock has passed: at each scheduling point.
func (d *Domain) fireTimers() {
	for _, u := range d.vcpus {
		u.fireTimers()
	}
}
