package hv

import (
	"encoding/binary"

	"github.com/pvsim/pvsim/builder"
	"github.com/pvsim/pvsim/evtchn"
	"github.com/pvsim/pvsim/xen"
)

// event_channel_op (public/event_channel.h): the domain's event channels
// (package evtchn, Xen's 2-level ABI in the shared info page). pvsim is
// the console's backend, as xenconsoled is: a send on the console's port
// drains the PV console ring. Events are recorded, not yet delivered as
// upcalls.

// eventChannelOp: HYPERVISOR_event_channel_op(cmd, arg).
func (v *vcpu) eventChannelOp(a *hypercallArgs) uint64 {
	cmd := uint32(a[0])
	n := evtchn.ArgSize(cmd)
	if n == 0 || a[0] > 0xffffffff {
		return xen.ENOSYS.Ret()
	}
	arg := v.hc.buf[:n]
	if err := v.readGuest(arg, a[1]); err != nil {
		return errRet(err)
	}
	d, err := v.d.evtchn.Op(cmd, arg)
	if err != nil {
		return errRet(err)
	}
	if evtchn.WritesBack(cmd) {
		if err := v.writeGuest(a[1], arg); err != nil {
			return errRet(err)
		}
	}
	if cmd == xen.EvtchnOpSend && binary.LittleEndian.Uint32(arg) == builder.ConsolePort {
		v.d.consoleMu.Lock()
		v.d.consoleRing.Drain(v.d.console)
		v.d.consoleMu.Unlock()
	}
	if d.Upcall && d.VCPU != v.id {
		v.d.vcpus[d.VCPU].kick()
	}
	return 0
}
