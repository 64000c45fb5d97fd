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

// now is the time since the domain started: logical in a deterministic
// domain, where each call advances it, wall time otherwise.
func (d *Domain) now() time.Duration {
	if d.det != nil {
		return d.det.Tick()
	}
	return time.Since(d.started)
}

// schedPoint is called for each exit in a deterministic domain before it
// is handled. If the exit is a scheduling point it asks the scheduler who
// runs next and, if that is another vCPU, hands over the CPU and waits for
// it to come back. It reports false when the domain ended.
func (v *vcpu) schedPoint() bool {
	d, r := v.d, v.run
	p := d.det.Point()
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
	p.Runnable = sched.VCPUMask(d.upMask())
	if d.digests != nil {
		var err error
		if p.State, err = d.stateDigest(p); err != nil {
			d.end(Result{}, err)
			return false
		}
	}
	next, err := d.det.Decide(p)
	if err != nil {
		d.end(Result{}, err)
		return false
	}
	for _, u := range d.vcpus {
		pvclock.SetSystemTime(u.vcpuInfo(), uint64(d.det.Now())) // the logical clock
	}
	d.fireTimers()
	return d.det.Switch(v.id, next, d.stopCh)
}
