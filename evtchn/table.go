// Package evtchn owns a domain's event channels under Xen's 2-level ABI:
// the table of ports and what each is bound to (a virtual IRQ, an IPI, or
// nothing yet), the event_channel_op sub-operations a guest applies to
// it, with Xen's semantics and error codes, and the bits an event sets in
// the shared_info page (evtchn_pending, evtchn_pending_sel,
// evtchn_upcall_pending) on its way to a vCPU.
//
// It decides; it does not deliver. Send, Unmask and RaiseVIRQ say which
// vCPU now has an upcall pending, and the hypervisor kicks that vCPU and
// enters the guest's event callback. It needs no KVM: the shared_info
// page is a byte slice the caller maps.
//
// pvsim runs one domain, so there is no other domain to connect a
// channel to: interdomain channels and physical IRQs are refused as Xen
// refuses them to a domain that has no such peer or IRQ, and a channel
// allocated unbound stays unbound.
package evtchn

import (
	"sync"
	"unsafe"

	"github.com/pvsim/pvsim/fingerprint"
	"github.com/pvsim/pvsim/xen"
)

// Port is an event channel port (evtchn_port_t).
type Port uint32

// NrPorts bounds the ports of a 64-bit guest under the 2-level ABI
// (EVTCHN_2L_NR_CHANNELS): ports are below it.
const NrPorts = xen.Evtchn2LNrChannels

// DomID is the domain id of pvsim's one domain (xen.PVSimDomID). A guest
// names it this way or as DOMID_SELF. Being the only domain, it is also
// the one that handles global virtual IRQs (as Xen's hardware domain is
// by default).
const DomID = xen.PVSimDomID

// bucketPorts is how many ports Xen makes valid at a time (its
// EVTCHNS_PER_BUCKET: a page of 64-byte struct evtchn). A port is valid,
// as opposed to merely free, once a port of its bucket has been
// allocated; valid ports stay valid.
const bucketPorts = 64

// state is a channel's state (Xen's ECS_*). ECS_INTERDOMAIN and ECS_PIRQ
// are never entered: the operations that would are refused.
type state uint8

const (
	stateFree     state = iota // ECS_FREE
	stateReserved              // ECS_RESERVED: port 0, never allocated
	stateUnbound               // ECS_UNBOUND: allocated for a remote domain
	stateVIRQ                  // ECS_VIRQ
	stateIPI                   // ECS_IPI
)

func (s state) String() string {
	switch s {
	case stateFree:
		return "free"
	case stateReserved:
		return "reserved"
	case stateUnbound:
		return "unbound"
	case stateVIRQ:
		return "virq"
	case stateIPI:
		return "ipi"
	}
	return "state?"
}

// channel is one port's record (Xen's struct evtchn).
type channel struct {
	state state
	// vcpu is the vCPU notified of an event on the port
	// (notify_vcpu_id); 0 while free.
	vcpu uint16
	// remote is the domain an unbound channel waits for
	// (u.unbound.remote_domid).
	remote uint16
	// virq is a VIRQ channel's virtual IRQ (u.virq).
	virq uint8
}

// usable is Xen's evtchn_usable: a port that is allocated to the guest,
// on which events may be set pending and which unmask acts on.
func (c *channel) usable() bool { return c.state > stateReserved }

// Delivery is what an operation did to a vCPU: Upcall says its
// evtchn_upcall_pending went from clear to set, so the hypervisor must
// kick VCPU (wake it if blocked, and enter its event callback when it
// runs with events unmasked), as Xen's vcpu_mark_events_pending does. The
// zero Delivery asks for nothing.
type Delivery struct {
	VCPU   int
	Upcall bool
}

// Table is one domain's event channels. Its methods are safe for
// concurrent use by the domain's vCPU threads and the hypervisor's own
// (a mutex orders them, as Xen's per-domain event_lock and per-channel
// locks do); the shared_info words they set are written atomically
// against the guest.
//
// Errors are xen.Errno values: the code the hypercall returns, negated.
type Table struct {
	mu      sync.Mutex
	nrVCPUs int
	shared  *SharedInfo
	// chans holds the valid ports (Xen's valid_evtchns, grown a bucket
	// at a time), at most NrPorts.
	chans []channel
	// lowFree is a port no higher than the lowest free one: every port
	// below it is in use, so an allocation scans from there.
	lowFree Port
	// virqs[v][virq] is the port bound to virq on vCPU v, or 0
	// (v->virq_to_evtchn); a virq that is not per-vCPU is kept in vCPU
	// 0's entry wherever its channel notifies.
	virqs [][xen.NrVIRQs]Port
}

// NewTable makes the event channel table of a domain of nrVCPUs vCPUs
// whose shared_info is shared, with port 0 reserved as Xen reserves it
// and nothing bound.
//
// Precondition: 1 <= nrVCPUs <= xen.LegacyMaxVCPUs (each vCPU's
// vcpu_info is in shared_info); shared is not nil.
func NewTable(nrVCPUs int, shared *SharedInfo) *Table {
	if nrVCPUs < 1 || nrVCPUs > xen.LegacyMaxVCPUs {
		panic("evtchn: vCPU count out of range")
	}
	if shared == nil {
		panic("evtchn: no shared_info")
	}
	t := &Table{nrVCPUs: nrVCPUs, shared: shared, virqs: make([][xen.NrVIRQs]Port, nrVCPUs)}
	t.chans = make([]channel, bucketPorts)
	t.chans[0].state = stateReserved
	t.lowFree = 1
	return t
}

// MoveVCPUInfo makes area vcpu's vcpu_info (VCPUOP_register_vcpu_info
// once the hypervisor has checked and taken the page): its contents are
// copied there, and every event marked pending so that none is lost
// (SharedInfo.VCPUInfo says where it is now).
//
// Precondition: 0 <= vcpu < NrVCPUs(); area is 64 bytes, 8-byte aligned,
// and stays mapped.
func (t *Table) MoveVCPUInfo(vcpu int, area []byte) Delivery {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Delivery{VCPU: vcpu, Upcall: t.shared.moveVCPUInfo(vcpu, area)}
}

// PlaceVCPUInfo makes area vcpu's vcpu_info as it is, for a domain
// restored from a snapshot taken after MoveVCPUInfo: nothing is copied or
// marked.
//
// Precondition: as MoveVCPUInfo's; no vCPU runs.
func (t *Table) PlaceVCPUInfo(vcpu int, area []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.shared.vi[vcpu].Store((*vcpuInfo)(unsafe.Pointer(unsafe.SliceData(area))))
}

// NrVCPUs is the domain's vCPU count.
func (t *Table) NrVCPUs() int { return t.nrVCPUs }

// Shared is the shared_info view events are set pending in.
func (t *Table) Shared() *SharedInfo { return t.shared }

// isSelf reports whether dom names the domain: DOMID_SELF or its id
// (rcu_lock_domain_by_any_id finds no other).
func isSelf(dom uint16) bool { return dom == xen.DomIDSelf || dom == DomID }

// perVCPU reports whether virq is bound per vCPU (Xen's get_virq_type
// giving VIRQ_VCPU); the others are bound once per domain, on vCPU 0. On
// x86 the architecture's VIRQs are global.
func perVCPU(virq uint32) bool {
	switch virq {
	case xen.VIRQTimer, xen.VIRQDebug, xen.VIRQXenOprof, xen.VIRQXenPMU:
		return true
	}
	return false
}

// lookup is port's record, or nil if the port is not valid (Xen's
// _evtchn_from_port).
func (t *Table) lookup(port Port) *channel {
	if uint64(port) >= uint64(len(t.chans)) {
		return nil
	}
	return &t.chans[port]
}

// freePort allocates the lowest free port, as Xen's get_free_port: the
// first free valid port, else the first port of a new bucket; ENOSPC if
// all NrPorts are in use.
func (t *Table) freePort() (Port, error) {
	for p := int(t.lowFree); p < len(t.chans); p++ {
		if t.chans[p].state == stateFree {
			t.lowFree = Port(p)
			return Port(p), nil
		}
	}
	t.lowFree = Port(len(t.chans))
	if len(t.chans) >= NrPorts {
		return 0, xen.ENOSPC
	}
	t.chans = append(t.chans, make([]channel, bucketPorts)...)
	return t.lowFree, nil
}

// free closes a channel's record, as Xen's evtchn_free: its pending bit
// is cleared, so that a port bound anew starts without a stale event,
// and it notifies vCPU 0 again. The mask bit is the guest's and stays.
func (t *Table) free(port Port) {
	c := &t.chans[port]
	if c.state == stateVIRQ {
		v := 0
		if perVCPU(uint32(c.virq)) {
			v = int(c.vcpu)
		}
		t.virqs[v][c.virq] = 0
	}
	if c.usable() {
		t.shared.clearPending(port)
	}
	*c = channel{}
	t.lowFree = min(t.lowFree, port)
}

// notify sets port pending for its channel's vCPU.
func (t *Table) notify(port Port, c *channel) Delivery {
	v := int(c.vcpu)
	return Delivery{VCPU: v, Upcall: t.shared.setPending(port, v)}
}

// AllocUnbound allocates a port for remote to bind to
// (EVTCHNOP_alloc_unbound, Xen's evtchn_alloc_unbound). dom is the domain
// the port is allocated in: only this one (ESRCH for any other). remote
// may be any domain id, DOMID_SELF meaning this one; as no other domain
// exists and interdomain binding is refused, the channel stays unbound:
// sends on it are dropped.
func (t *Table) AllocUnbound(dom, remote uint16) (Port, error) {
	if !isSelf(dom) {
		return 0, xen.ESRCH
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p, err := t.freePort()
	if err != nil {
		return 0, err
	}
	if remote == xen.DomIDSelf {
		remote = DomID
	}
	t.chans[p] = channel{state: stateUnbound, remote: remote}
	return p, nil
}

// BindVIRQ binds virq to a new port notifying vcpu (EVTCHNOP_bind_virq,
// Xen's evtchn_bind_virq): EINVAL for a virq past NR_VIRQS or a vcpu
// other than 0 for a virq that is not per-vCPU, ENOENT for a vcpu the
// domain does not have, EEXIST if virq is bound already (on vcpu, for a
// per-vCPU virq; anywhere, for the others), ENOSPC if no port is free.
// The domain handles every global virq (DomID), so none is EBUSY.
func (t *Table) BindVIRQ(virq, vcpu uint32) (Port, error) {
	if virq >= xen.NrVIRQs {
		return 0, xen.EINVAL
	}
	if !perVCPU(virq) && vcpu != 0 {
		return 0, xen.EINVAL
	}
	if vcpu >= uint32(t.nrVCPUs) {
		return 0, xen.ENOENT
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.virqs[vcpu][virq] != 0 {
		return 0, xen.EEXIST
	}
	p, err := t.freePort()
	if err != nil {
		return 0, err
	}
	t.chans[p] = channel{state: stateVIRQ, vcpu: uint16(vcpu), virq: uint8(virq)}
	t.virqs[vcpu][virq] = p
	return p, nil
}

// BindIPI allocates a port for interprocessor events to vcpu
// (EVTCHNOP_bind_ipi, Xen's evtchn_bind_ipi): ENOENT for a vcpu the
// domain does not have, ENOSPC if no port is free.
func (t *Table) BindIPI(vcpu uint32) (Port, error) {
	if vcpu >= uint32(t.nrVCPUs) {
		return 0, xen.ENOENT
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p, err := t.freePort()
	if err != nil {
		return 0, err
	}
	t.chans[p] = channel{state: stateIPI, vcpu: uint16(vcpu)}
	return p, nil
}

// BindInterdomain (EVTCHNOP_bind_interdomain) connects to a port of
// another domain. There is none: ESRCH, as Xen answers for a domain it
// cannot find. Xen would also let a domain connect two of its own ports
// (remoteDom DOMID_SELF); pvsim does not offer that either.
func (t *Table) BindInterdomain(remoteDom uint16, remotePort Port) (Port, error) {
	return 0, xen.ESRCH
}

// BindPIRQ (EVTCHNOP_bind_pirq) binds a physical IRQ. The domain has
// access to none: EPERM, as Xen's evtchn_bind_pirq answers a PV domain
// for a pirq it is not permitted (Xen answers EINVAL instead for a pirq
// past the domain's nr_pirqs, a count that depends on the host).
func (t *Table) BindPIRQ(pirq, flags uint32) (Port, error) {
	return 0, xen.EPERM
}

// Close frees port (EVTCHNOP_close, Xen's evtchn_close): an unbound,
// VIRQ or IPI channel becomes free, its pending bit cleared and its virq
// unbound. EINVAL for a port that is not valid, free, or port 0.
func (t *Table) Close(port Port) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.close(port)
}

func (t *Table) close(port Port) error {
	c := t.lookup(port)
	if c == nil {
		return xen.EINVAL
	}
	switch c.state {
	case stateUnbound, stateVIRQ, stateIPI:
		t.free(port)
		return nil
	}
	return xen.EINVAL
}

// Send raises an event on port from the guest (EVTCHNOP_send, Xen's
// evtchn_send): on an IPI channel it sets the port pending for the
// channel's vCPU; on an unbound channel the event is dropped and the call
// succeeds. EINVAL for any other port: not valid, free, port 0, or bound
// to a virq (only the hypervisor raises those).
func (t *Table) Send(port Port) (Delivery, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.lookup(port)
	if c == nil {
		return Delivery{}, xen.EINVAL
	}
	switch c.state {
	case stateIPI:
		return t.notify(port, c), nil
	case stateUnbound:
		return Delivery{}, nil
	}
	return Delivery{}, xen.EINVAL
}

// Status is what EVTCHNOP_status reports of a port: State is an
// EVTCHNSTAT_* value, VCPU the vCPU notified; Dom is set for an unbound
// port (the remote domain) and VIRQ for a VIRQ port.
type Status struct {
	State uint32
	VCPU  uint32
	Dom   uint16
	VIRQ  uint32
}

// Status reports port of domain dom (EVTCHNOP_status, Xen's
// evtchn_status): ESRCH for a domain other than this one, EINVAL for a
// port that is not valid. A free port, and port 0, are closed.
func (t *Table) Status(dom uint16, port Port) (Status, error) {
	if !isSelf(dom) {
		return Status{}, xen.ESRCH
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.lookup(port)
	if c == nil {
		return Status{}, xen.EINVAL
	}
	s := Status{VCPU: uint32(c.vcpu)}
	switch c.state {
	case stateFree, stateReserved:
		s.State = xen.EvtchnStatClosed
	case stateUnbound:
		s.State = xen.EvtchnStatUnbound
		s.Dom = c.remote
	case stateVIRQ:
		s.State = xen.EvtchnStatVIRQ
		s.VIRQ = uint32(c.virq)
	case stateIPI:
		s.State = xen.EvtchnStatIPI
	}
	return s, nil
}

// BindVCPU makes port notify vcpu (EVTCHNOP_bind_vcpu, Xen's
// evtchn_bind_vcpu): an unbound channel, or one bound to a virq that is
// not per-vCPU, may be moved. ENOENT for a vcpu the domain does not have
// (checked first), EINVAL for a port that is not valid, or is free, port
// 0, an IPI or a per-vCPU virq. Events already pending stay where they
// were signalled.
func (t *Table) BindVCPU(port Port, vcpu uint32) error {
	if vcpu >= uint32(t.nrVCPUs) {
		return xen.ENOENT
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.lookup(port)
	if c == nil {
		return xen.EINVAL
	}
	switch {
	case c.state == stateUnbound, c.state == stateVIRQ && !perVCPU(uint32(c.virq)):
		c.vcpu = uint16(vcpu)
		return nil
	}
	return xen.EINVAL
}

// Unmask clears port's mask bit (EVTCHNOP_unmask, Xen's evtchn_unmask and
// evtchn_2l_unmask): if the port was masked and is pending, its vCPU is
// notified as if the event were raised now. EINVAL for a port that is not
// valid; a free port, or port 0, is left as it is and the call succeeds.
func (t *Table) Unmask(port Port) (Delivery, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.lookup(port)
	if c == nil {
		return Delivery{}, xen.EINVAL
	}
	if !c.usable() {
		return Delivery{}, nil
	}
	v := int(c.vcpu)
	return Delivery{VCPU: v, Upcall: t.shared.unmask(port, v)}, nil
}

// Reset closes every port of domain dom (EVTCHNOP_reset, Xen's
// evtchn_reset): ESRCH for a domain other than this one. Xen may preempt
// a reset and continue it (EVTCHNOP_reset_cont); pvsim's runs whole.
func (t *Table) Reset(dom uint16) error {
	if !isSelf(dom) {
		return xen.ESRCH
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for p := range t.chans {
		if t.chans[p].usable() {
			t.free(Port(p))
		}
	}
	return nil
}

// RaiseVIRQ raises virq from the hypervisor: a per-vCPU virq on vcpu
// (Xen's send_guest_vcpu_virq), any other on whichever vCPU its channel
// notifies, vcpu being ignored (send_guest_domain_virq). An unbound virq,
// or one out of range, raises nothing.
func (t *Table) RaiseVIRQ(virq uint32, vcpu int) Delivery {
	if virq >= xen.NrVIRQs {
		return Delivery{}
	}
	if !perVCPU(virq) {
		vcpu = 0
	}
	if vcpu < 0 || vcpu >= t.nrVCPUs {
		return Delivery{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.virqs[vcpu][virq]
	if p == 0 {
		return Delivery{}
	}
	return t.notify(p, &t.chans[p])
}

// VIRQPort is the port virq is bound to on vcpu (for a virq that is not
// per-vCPU, in the domain), or 0 if it is not bound (Xen's
// evtchn_virq_enabled).
func (t *Table) VIRQPort(virq uint32, vcpu int) Port {
	if virq >= xen.NrVIRQs {
		return 0
	}
	if !perVCPU(virq) {
		vcpu = 0
	}
	if vcpu < 0 || vcpu >= t.nrVCPUs {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.virqs[vcpu][virq]
}

// Valid reports whether port is below the domain's valid ports (Xen's
// port_is_valid): what SCHEDOP_poll checks of each port it is given.
func (t *Table) Valid(port Port) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lookup(port) != nil
}

// RemoteSend sets port pending from the domain at its other end, remote:
// a backend the hypervisor plays (the store's, the console's) notifying
// the guest, as xenstored's send on its end of the interdomain channel
// does. The port must be an unbound channel waiting for remote; any
// other is EINVAL.
func (t *Table) RemoteSend(port Port, remote uint16) (Delivery, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.lookup(port)
	if c == nil || c.state != stateUnbound || c.remote != remote {
		return Delivery{}, xen.EINVAL
	}
	return t.notify(port, c), nil
}

// Fingerprint adds the table's state to h, for a search that names a
// domain's state (package fingerprint): every channel, and the VIRQ
// bindings. What shared_info holds is the guest's memory's.
func (t *Table) Fingerprint(h *fingerprint.Hash) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fingerprint.PlainSlice(h, t.chans)
	h.Uint64(uint64(t.lowFree))
	fingerprint.PlainSlice(h, t.virqs)
}
