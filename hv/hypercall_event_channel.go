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
// drains the PV console ring; and the store's, as xenstored is: a send on
// the store's port has the requests in its ring answered (package
// xenstore), and the answers notified back on the same port. An event that raises an upcall kicks its
// vCPU to take it (event.go).

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
	if cmd == xen.EvtchnOpSend {
		switch binary.LittleEndian.Uint32(arg) {
		case builder.ConsolePort:
			v.d.consoleNotified()
		case builder.StorePort:
			v.d.storeMu.Lock()
			answered := v.d.store.Serve()
			v.d.storeMu.Unlock()
			if answered {
				if e, err := v.d.evtchn.RemoteSend(builder.StorePort, xen.BackendDomID); err == nil {
					v.d.notified(e)
				}
			}
		}
	}
	switch {
	case d.Upcall && d.VCPU != v.id:
		v.d.vcpus[d.VCPU].kick()
	case d.VCPU >= 0 && d.VCPU < len(v.d.vcpus) && d.VCPU != v.id:
		v.d.vcpus[d.VCPU].wakeUp() // a poller may be waiting for the port
	}
	return 0
}
