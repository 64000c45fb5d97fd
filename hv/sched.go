package hv

import (
	"encoding/binary"
	"time"

	"github.com/pvsim/pvsim/hvimage"
	"github.com/pvsim/pvsim/internal/kvm"
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/pvclock"
	"github.com/pvsim/pvsim/sched"
	"github.com/pvsim/pvsim/trace"
	"github.com/pvsim/pvsim/xen"
)

// Deterministic mode: with Config.Scheduler set, one vCPU runs at a time
// and switches happen only at scheduling points, as package sched
// describes; time is a logical clock that moves at every point.

// logicalTick is how far the logical clock moves per tick.
const logicalTick = time.Microsecond

// detState is the deterministic scheduler's state. Only the vCPU holding
// the CPU touches it, and the channel hand-over orders those touches.
type detState struct {
	sched sched.Scheduler
	cur   int
	step  uint64
	// ticks is the logical clock, in logicalTick units.
	ticks uint64
	// turn[i] hands the CPU to vCPU i.
	turn  []chan struct{}
	point sched.Point
}

func newDetState(s sched.Scheduler, nvcpus int) *detState {
	t := &detState{sched: s}
	for range nvcpus {
		t.turn = append(t.turn, make(chan struct{}, 1))
	}
	return t
}

// start hands the CPU to vCPU first, before any vCPU runs.
func (t *detState) start(first int) {
	t.cur = first
	t.turn[first] <- struct{}{}
}

// now is the time since the domain started: logical in a deterministic
// domain, where each call advances it, wall time otherwise.
func (d *Domain) now() time.Duration {
	if d.det != nil {
		d.det.ticks++
		return time.Duration(d.det.ticks) * logicalTick
	}
	return time.Since(d.started)
}

// awaitTurn blocks v until it holds the CPU: until it takes the token
// from its channel (the first holder's is put there before any vCPU
// runs). It reports false when the domain ended meanwhile.
func (d *Domain) awaitTurn(v *vcpu) bool {
	select {
	case <-d.det.turn[v.id]:
		return !d.stopping.Load()
	case <-d.stopCh:
		return false
	}
}

// schedPoint is called for each exit in a deterministic domain before it
// is handled. If the exit is a scheduling point it asks the scheduler who
// runs next and, if that is another vCPU, hands over the CPU and waits for
// it to come back. It reports false when the domain ended.
func (v *vcpu) schedPoint() bool {
	d, r := v.d, v.run
	p := &d.det.point
	*p = sched.Point{VCPU: v.id}
	switch {
	case r.ExitReason == kvm.ExitMMIO && r.MMIO().PhysAddr&^(mmu.PageSize-1) == d.mem.Doorbell:
		nr := binary.LittleEndian.Uint32(r.MMIO().Data[:4])
		p.Kind, p.Nr = trace.Hypercall, uint16(nr)
		switch {
		case nr == xen.HypercallSchedOp && r.Regs.RDI == xen.SchedOpYield:
			p.Yield = true
		case nr == xen.HypercallPVSimOp && r.Regs.RDI == xen.PVSimOpTraceMark:
			return true // an annotation, not an action
		case nr == xen.HypercallPVSimOp && r.Regs.RDI == xen.PVSimOpSchedPoint:
			p.Label, _ = v.label(r.Regs.RSI)
		}
	case r.ExitReason == kvm.ExitIO && r.IO().Port == hvimage.TrapPort && v.onCPL0Stack(r.Regs.RSP):
		p.Kind, p.Nr = trace.Trap, uint16(v.stackGet(r.Regs.RSP+hvimage.FrameVector))
	default:
		return true // a fault: it ends the domain
	}
	s := d.det
	s.step++
	p.Step, p.Runnable = s.step, sched.VCPUMask(d.upMask())
	next := s.sched.Next(p)
	if next < 0 || next >= len(d.vcpus) || p.Runnable&(1<<next) == 0 {
		d.end(Result{}, &sched.Error{Step: p.Step, VCPU: next, Runnable: p.Runnable})
		return false
	}
	d.setLogicalTime()
	if next == v.id {
		return true
	}
	s.cur = next
	s.turn[next] <- struct{}{}
	return d.awaitTurn(v)
}

// setLogicalTime publishes the logical clock in every vCPU's pvclock, with
// Xen's version protocol (odd while the record changes).
func (d *Domain) setLogicalTime() {
	ns := d.det.ticks * uint64(logicalTick)
	for i := range d.vcpus {
		pvclock.SetSystemTime(d.sharedInfo, i, ns)
	}
}
