package hv

import (
	"encoding/binary"
	"strconv"
	"syscall"

	"github.com/pvsim/pvsim/guestsym"
	"github.com/pvsim/pvsim/xen"
)

// sched_op (sched.h): yield, block, poll and shutdown.

// schedOp: HYPERVISOR_sched_op(cmd, arg).
func (v *vcpu) schedOp(a *hypercallArgs) uint64 {
	switch a[0] {
	case xen.SchedOpYield:
		// A deterministic domain switched vCPUs as the exit arrived.
		if v.d.det == nil {
			syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0)
		}
		return 0
	case xen.SchedOpBlock:
		return v.block()
	case xen.SchedOpPoll:
		return v.poll(a[1])
	case xen.SchedOpShutdown:
		var b [4]byte
		if err := v.readGuest(b[:], a[1]); err != nil {
			return errRet(err)
		}
		res := Result{Reason: xen.ShutdownReason(binary.LittleEndian.Uint32(b[:])), VCPU: v.id}
		if res.Reason == xen.ShutdownCrash {
			res.Oops = v.oops()
		}
		v.d.end(res, nil)
		return 0
	}
	return xen.ENOSYS.Ret()
}

// oops builds the report for a crash requested by v.
func (v *vcpu) oops() *guestsym.Oops {
	o := &guestsym.Oops{Text: guestsym.OopsText(v.d.console.Tail())}
	if ts := &v.traps; ts.bounced {
		x := ts.lastBounce
		o.Fault = &x
		o.Where = v.d.syms.Format(x.RIP)
		o.NotEmulated = ts.lastBounceWhy
		if file, line, ok := v.d.syms.Line(x.RIP); ok {
			o.Source = file + ":" + strconv.Itoa(line)
		}
	}
	return o
}
