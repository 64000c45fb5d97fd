package evtchn

import (
	"encoding/binary"

	"github.com/pvsim/pvsim/xen"
)

// ArgSize is the size of the argument structure of event_channel_op
// command cmd, which the hypervisor copies from the guest before Op, or 0
// for a command Xen does not know (Op answers ENOSYS without reading).
func ArgSize(cmd uint32) int {
	switch cmd {
	case xen.EvtchnOpBindInterdomain:
		return xen.EvtchnBindInterdomainSize
	case xen.EvtchnOpBindVIRQ:
		return xen.EvtchnBindVIRQSize
	case xen.EvtchnOpBindPIRQ:
		return xen.EvtchnBindPIRQSize
	case xen.EvtchnOpClose, xen.EvtchnOpSend, xen.EvtchnOpUnmask:
		return xen.EvtchnPortArgSize
	case xen.EvtchnOpStatus:
		return xen.EvtchnStatusSize
	case xen.EvtchnOpAllocUnbound:
		return xen.EvtchnAllocUnboundSize
	case xen.EvtchnOpBindIPI:
		return xen.EvtchnBindIPISize
	case xen.EvtchnOpBindVCPU:
		return xen.EvtchnBindVCPUSize
	case xen.EvtchnOpReset, xen.EvtchnOpResetCont:
		return xen.EvtchnResetSize
	case xen.EvtchnOpInitControl:
		return xen.EvtchnInitControlSize
	case xen.EvtchnOpExpandArray:
		return xen.EvtchnExpandArraySize
	case xen.EvtchnOpSetPriority:
		return xen.EvtchnSetPrioritySize
	}
	return 0
}

// WritesBack reports whether a successful cmd has written results into
// its argument that the hypervisor must copy back to the guest: the
// allocated port of the bind and alloc commands, the status. Xen copies
// back the whole structure, and only on success.
func WritesBack(cmd uint32) bool {
	switch cmd {
	case xen.EvtchnOpAllocUnbound, xen.EvtchnOpBindInterdomain, xen.EvtchnOpBindVIRQ,
		xen.EvtchnOpBindIPI, xen.EvtchnOpBindPIRQ, xen.EvtchnOpStatus, xen.EvtchnOpInitControl:
		return true
	}
	return false
}

func u16(b []byte, off int) uint16 { return binary.LittleEndian.Uint16(b[off:]) }
func u32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }

func put16(b []byte, off int, v uint16) { binary.LittleEndian.PutUint16(b[off:], v) }
func put32(b []byte, off int, v uint32) { binary.LittleEndian.PutUint32(b[off:], v) }

// Op runs event_channel_op(cmd, arg) for the guest, as Xen's
// do_event_channel_op: arg holds the argument structure the hypervisor
// copied from the guest (ArgSize(cmd) bytes; extra bytes are ignored,
// fewer are EFAULT, as a failed copy is). On success the command's
// results are written into arg (only the fields Xen writes; the rest keep
// the guest's bytes), for the hypervisor to copy back when
// WritesBack(cmd). The Delivery is Send's or Unmask's. The error is a
// xen.Errno, the hypercall's negated return; nil returns 0.
//
// Commands Xen does not know are ENOSYS. The FIFO ABI is not offered:
// init_control and expand_array are EOPNOTSUPP, as from a Xen built
// without it, and set_priority is ENOSYS on a valid port (EINVAL on
// another), as Xen answers a domain using the 2-level ABI.
func (t *Table) Op(cmd uint32, arg []byte) (Delivery, error) {
	n := ArgSize(cmd)
	if n == 0 {
		return Delivery{}, xen.ENOSYS
	}
	if len(arg) < n {
		return Delivery{}, xen.EFAULT
	}
	switch cmd {
	case xen.EvtchnOpAllocUnbound:
		p, err := t.AllocUnbound(u16(arg, xen.EvtchnAllocUnboundDom), u16(arg, xen.EvtchnAllocUnboundRemoteDom))
		if err == nil {
			put32(arg, xen.EvtchnAllocUnboundPort, uint32(p))
		}
		return Delivery{}, err
	case xen.EvtchnOpBindInterdomain:
		p, err := t.BindInterdomain(u16(arg, xen.EvtchnBindInterdomainRemoteDom), Port(u32(arg, xen.EvtchnBindInterdomainRemotePort)))
		if err == nil {
			put32(arg, xen.EvtchnBindInterdomainLocalPort, uint32(p))
		}
		return Delivery{}, err
	case xen.EvtchnOpBindVIRQ:
		p, err := t.BindVIRQ(u32(arg, xen.EvtchnBindVIRQVIRQ), u32(arg, xen.EvtchnBindVIRQVCPU))
		if err == nil {
			put32(arg, xen.EvtchnBindVIRQPort, uint32(p))
		}
		return Delivery{}, err
	case xen.EvtchnOpBindPIRQ:
		p, err := t.BindPIRQ(u32(arg, xen.EvtchnBindPIRQPIRQ), u32(arg, xen.EvtchnBindPIRQFlags))
		if err == nil {
			put32(arg, xen.EvtchnBindPIRQPort, uint32(p))
		}
		return Delivery{}, err
	case xen.EvtchnOpBindIPI:
		p, err := t.BindIPI(u32(arg, xen.EvtchnBindIPIVCPU))
		if err == nil {
			put32(arg, xen.EvtchnBindIPIPort, uint32(p))
		}
		return Delivery{}, err
	case xen.EvtchnOpClose:
		return Delivery{}, t.Close(Port(u32(arg, 0)))
	case xen.EvtchnOpSend:
		return t.Send(Port(u32(arg, 0)))
	case xen.EvtchnOpStatus:
		s, err := t.Status(u16(arg, xen.EvtchnStatusDom), Port(u32(arg, xen.EvtchnStatusPort)))
		if err != nil {
			return Delivery{}, err
		}
		put32(arg, xen.EvtchnStatusStatus, s.State)
		put32(arg, xen.EvtchnStatusVCPU, s.VCPU)
		switch s.State {
		case xen.EvtchnStatUnbound:
			put16(arg, xen.EvtchnStatusUnboundDom, s.Dom)
		case xen.EvtchnStatVIRQ:
			put32(arg, xen.EvtchnStatusVIRQ, s.VIRQ)
		}
		return Delivery{}, nil
	case xen.EvtchnOpBindVCPU:
		return Delivery{}, t.BindVCPU(Port(u32(arg, xen.EvtchnBindVCPUPort)), u32(arg, xen.EvtchnBindVCPUVCPU))
	case xen.EvtchnOpUnmask:
		return t.Unmask(Port(u32(arg, 0)))
	case xen.EvtchnOpReset:
		return Delivery{}, t.Reset(u16(arg, xen.EvtchnResetDom))
	case xen.EvtchnOpResetCont:
		// Xen continues a reset it preempted; none is ever in progress
		// here, which Xen answers EBUSY.
		if !isSelf(u16(arg, xen.EvtchnResetDom)) {
			return Delivery{}, xen.ESRCH
		}
		return Delivery{}, xen.EBUSY
	case xen.EvtchnOpInitControl, xen.EvtchnOpExpandArray:
		return Delivery{}, xen.EOPNOTSUPP
	case xen.EvtchnOpSetPriority:
		t.mu.Lock()
		valid := t.lookup(Port(u32(arg, xen.EvtchnSetPriorityPort))) != nil
		t.mu.Unlock()
		if !valid {
			return Delivery{}, xen.EINVAL
		}
		return Delivery{}, xen.ENOSYS
	}
	return Delivery{}, xen.ENOSYS
}
