package evtchn

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/xen"
)

func TestNewSharedInfo(t *testing.T) {
	_, err := NewSharedInfo(newPage()[:xen.SharedInfoWCVersion-1])
	require.Error(t, err, "too short")
	_, err = NewSharedInfo(newPage()[1:])
	require.Error(t, err, "misaligned")
	_, err = NewSharedInfo(newPage()[:xen.SharedInfoWCVersion])
	require.NoError(t, err)
}

func TestNewTable(t *testing.T) {
	s, err := NewSharedInfo(newPage())
	require.NoError(t, err)
	assert.Panics(t, func() { NewTable(0, s) })
	assert.Panics(t, func() { NewTable(xen.LegacyMaxVCPUs+1, s) })
	assert.Panics(t, func() { NewTable(1, nil) })
	tab := NewTable(xen.LegacyMaxVCPUs, s)
	require.NoError(t, tab.Audit())
	st, err := tab.Status(xen.DomIDSelf, 0)
	require.NoError(t, err)
	assert.Equal(t, Status{State: xen.EvtchnStatClosed}, st, "port 0 is reserved and reads closed")
}

func TestAllocUnbound(t *testing.T) {
	tests := []struct {
		name        string
		dom, remote uint16
		want        error
		port        Port
		remoteDom   uint16
	}{
		{"self for self", xen.DomIDSelf, xen.DomIDSelf, nil, 1, DomID},
		{"own id for own id", DomID, DomID, nil, 2, DomID},
		{"for another domain", xen.DomIDSelf, 7, nil, 3, 7},
		{"in another domain", 2, xen.DomIDSelf, xen.ESRCH, 0, 0},
		{"in the backend's domain", xen.BackendDomID, xen.DomIDSelf, xen.ESRCH, 0, 0},
		{"in DOMID_IO", 0x7ff1, xen.DomIDSelf, xen.ESRCH, 0, 0},
	}
	fx := newFixture(t, 2)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := fx.snapshot()
			p, err := fx.t.AllocUnbound(tc.dom, tc.remote)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
				require.Equal(t, before, fx.snapshot())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.port, p, "lowest free port")
			st, err := fx.t.Status(xen.DomIDSelf, p)
			require.NoError(t, err)
			assert.Equal(t, Status{State: xen.EvtchnStatUnbound, Dom: tc.remoteDom}, st)
			fx.audit(t)
		})
	}
}

func TestBindVIRQ(t *testing.T) {
	tests := []struct {
		name       string
		virq, vcpu uint32
		want       error
		port       Port
	}{
		{"timer on 0", xen.VIRQTimer, 0, nil, 1},
		{"timer on 1", xen.VIRQTimer, 1, nil, 2},
		{"timer on 1 again", xen.VIRQTimer, 1, xen.EEXIST, 0},
		{"debug on 1", xen.VIRQDebug, 1, nil, 3},
		{"console on 0", xen.VIRQConsole, 0, nil, 4},
		{"console on 0 again", xen.VIRQConsole, 0, xen.EEXIST, 0},
		{"global virq on 1", xen.VIRQDomExc, 1, xen.EINVAL, 0},
		{"per-domain virq on 1", xen.VIRQArgo, 1, xen.EINVAL, 0},
		{"arch virq on 0", xen.VIRQMCA, 0, nil, 5},
		{"unnamed virq 5", 5, 0, nil, 6},
		{"last virq", xen.NrVIRQs - 1, 0, nil, 7},
		{"virq NR_VIRQS", xen.NrVIRQs, 0, xen.EINVAL, 0},
		{"virq negative as int", 0xffffffff, 0, xen.EINVAL, 0},
		{"timer on absent vcpu", xen.VIRQTimer, 2, xen.ENOENT, 0},
		{"timer on huge vcpu", xen.VIRQTimer, 0x80000000, xen.ENOENT, 0},
		{"global on absent vcpu: EINVAL first", xen.VIRQConsole, 2, xen.EINVAL, 0},
	}
	fx := newFixture(t, 2)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := fx.snapshot()
			p, err := fx.t.BindVIRQ(tc.virq, tc.vcpu)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
				require.Equal(t, before, fx.snapshot())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.port, p)
			st, err := fx.t.Status(xen.DomIDSelf, p)
			require.NoError(t, err)
			assert.Equal(t, Status{State: xen.EvtchnStatVIRQ, VCPU: tc.vcpu, VIRQ: tc.virq}, st)
			assert.Equal(t, p, fx.t.VIRQPort(tc.virq, int(tc.vcpu)))
			fx.audit(t)
		})
	}
}

func TestBindIPI(t *testing.T) {
	fx := newFixture(t, 3)
	for v := uint32(0); v < 3; v++ {
		p, err := fx.t.BindIPI(v)
		require.NoError(t, err)
		assert.Equal(t, Port(v+1), p)
		st, err := fx.t.Status(xen.DomIDSelf, p)
		require.NoError(t, err)
		assert.Equal(t, Status{State: xen.EvtchnStatIPI, VCPU: v}, st)
	}
	p, err := fx.t.BindIPI(1)
	require.NoError(t, err)
	assert.Equal(t, Port(4), p, "many IPI ports may notify one vCPU")
	_, err = fx.t.BindIPI(3)
	require.ErrorIs(t, err, xen.ENOENT)
	fx.audit(t)
}

func TestRefusedBindings(t *testing.T) {
	fx := newFixture(t, 1)
	before := fx.snapshot()
	_, err := fx.t.BindInterdomain(xen.DomIDSelf, 1)
	require.ErrorIs(t, err, xen.ESRCH)
	_, err = fx.t.BindInterdomain(1, 1)
	require.ErrorIs(t, err, xen.ESRCH)
	_, err = fx.t.BindPIRQ(0, 0)
	require.ErrorIs(t, err, xen.EPERM)
	_, err = fx.t.BindPIRQ(1, xen.BindPIRQWillShare)
	require.ErrorIs(t, err, xen.EPERM)
	require.Equal(t, before, fx.snapshot())
}

// bound is a table with one channel of each kind on 2 vCPUs: port 1
// unbound, 2 IPI to vCPU 1, 3 timer on vCPU 1, 4 console (on vCPU 0).
func bound(t *testing.T) *fixture {
	fx := newFixture(t, 2)
	p, err := fx.t.AllocUnbound(xen.DomIDSelf, xen.DomIDSelf)
	require.NoError(t, err)
	require.Equal(t, Port(1), p)
	p, err = fx.t.BindIPI(1)
	require.NoError(t, err)
	require.Equal(t, Port(2), p)
	p, err = fx.t.BindVIRQ(xen.VIRQTimer, 1)
	require.NoError(t, err)
	require.Equal(t, Port(3), p)
	p, err = fx.t.BindVIRQ(xen.VIRQConsole, 0)
	require.NoError(t, err)
	require.Equal(t, Port(4), p)
	return fx
}

func TestClose(t *testing.T) {
	tests := []struct {
		name string
		port Port
		want error
	}{
		{"unbound", 1, nil},
		{"ipi", 2, nil},
		{"per-vcpu virq", 3, nil},
		{"global virq", 4, nil},
		{"reserved port 0", 0, xen.EINVAL},
		{"free valid port", 5, xen.EINVAL},
		{"last valid port", bucketPorts - 1, xen.EINVAL},
		{"past the valid ports", bucketPorts, xen.EINVAL},
		{"past the bound", NrPorts, xen.EINVAL},
		{"huge", 0xffffffff, xen.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := bound(t)
			// An event left pending on the port is cleared with it.
			atomicSet(fx, tc.port)
			before := fx.snapshot()
			err := fx.t.Close(tc.port)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
				require.Equal(t, before, fx.snapshot())
				return
			}
			require.NoError(t, err)
			assert.False(t, fx.s.Pending(tc.port), "close clears pending")
			st, err := fx.t.Status(xen.DomIDSelf, tc.port)
			require.NoError(t, err)
			assert.Equal(t, Status{State: xen.EvtchnStatClosed}, st, "closed, notifying vCPU 0")
			require.ErrorIs(t, fx.t.Close(tc.port), xen.EINVAL, "closed twice")
			fx.audit(t)
			// The port is the lowest free one again.
			p, err := fx.t.BindIPI(0)
			require.NoError(t, err)
			assert.Equal(t, tc.port, p)
		})
	}
}

// atomicSet sets port's pending bit as an event would, if the port is
// in the page.
func atomicSet(fx *fixture, port Port) {
	if port < NrPorts {
		fx.s.setPending(port, 0)
	}
}

func TestCloseUnbindsVIRQ(t *testing.T) {
	fx := bound(t)
	require.NoError(t, fx.t.Close(3))
	assert.Equal(t, Port(0), fx.t.VIRQPort(xen.VIRQTimer, 1))
	assert.Equal(t, Delivery{}, fx.t.RaiseVIRQ(xen.VIRQTimer, 1))
	p, err := fx.t.BindVIRQ(xen.VIRQTimer, 1)
	require.NoError(t, err, "the virq may be bound again")
	assert.Equal(t, Port(3), p)
	// A global virq moved to vCPU 1 is still unbound from vCPU 0's table.
	require.NoError(t, fx.t.BindVCPU(4, 1))
	require.NoError(t, fx.t.Close(4))
	_, err = fx.t.BindVIRQ(xen.VIRQConsole, 0)
	require.NoError(t, err)
	fx.audit(t)
}

func TestSend(t *testing.T) {
	tests := []struct {
		name string
		port Port
		want error
		d    Delivery
	}{
		{"ipi", 2, nil, Delivery{VCPU: 1, Upcall: true}},
		{"unbound: dropped", 1, nil, Delivery{}},
		{"per-vcpu virq", 3, xen.EINVAL, Delivery{}},
		{"global virq", 4, xen.EINVAL, Delivery{}},
		{"reserved port 0", 0, xen.EINVAL, Delivery{}},
		{"free port", 5, xen.EINVAL, Delivery{}},
		{"past the valid ports", bucketPorts, xen.EINVAL, Delivery{}},
		{"huge", 0xffffffff, xen.EINVAL, Delivery{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := bound(t)
			before := fx.snapshot()
			d, err := fx.t.Send(tc.port)
			require.ErrorIs(t, err, tc.want)
			assert.Equal(t, tc.d, d)
			if !tc.d.Upcall {
				require.Equal(t, before, fx.snapshot(), "nothing set")
			}
		})
	}
}

// page is the expected shared_info page: pending and mask bitmaps, and
// each vCPU's upcall byte and selector.
type page struct {
	pending, mask map[Port]bool
	sel           map[int]uint64
	upcall        map[int]bool
	upcallMask    map[int]bool
}

func (e page) bytes() []byte {
	b := newPage()
	for p := range e.pending {
		b[xen.SharedInfoEvtchnPending+int(p/8)] |= 1 << (p % 8)
	}
	for p := range e.mask {
		b[xen.SharedInfoEvtchnMask+int(p/8)] |= 1 << (p % 8)
	}
	for v, s := range e.sel {
		for i := 0; i < 8; i++ {
			b[v*xen.VCPUInfoSize+xen.VCPUInfoPendingSel+i] = byte(s >> (8 * i))
		}
	}
	for v := range e.upcall {
		b[v*xen.VCPUInfoSize+xen.VCPUInfoUpcallPending] = 1
	}
	for v := range e.upcallMask {
		b[v*xen.VCPUInfoSize+xen.VCPUInfoUpcallMask] = 1
	}
	return b
}

// TestSendSetsBits checks, byte for byte, what an IPI sets in shared_info
// under the 2-level ABI: the port's pending bit, its word's bit in the
// target vCPU's evtchn_pending_sel, and that vCPU's
// evtchn_upcall_pending; with the port masked, the pending bit only.
func TestSendSetsBits(t *testing.T) {
	fx := newFixture(t, 3)
	// Ports 1..130: IPIs to vCPU 2, so that port 130 is in word 2.
	for i := 1; i <= 130; i++ {
		_, err := fx.t.BindIPI(2)
		require.NoError(t, err)
	}
	// The guest has events masked on vCPU 2: Xen still sets
	// evtchn_upcall_pending (delivery reads the mask).
	fx.page[2*xen.VCPUInfoSize+xen.VCPUInfoUpcallMask] = 1

	d, err := fx.t.Send(130)
	require.NoError(t, err)
	assert.Equal(t, Delivery{VCPU: 2, Upcall: true}, d)
	want := page{pending: map[Port]bool{130: true}, sel: map[int]uint64{2: 1 << 2}, upcall: map[int]bool{2: true}, upcallMask: map[int]bool{2: true}}
	require.Equal(t, want.bytes(), fx.page)
	assert.True(t, fx.s.UpcallPending(2))
	assert.True(t, fx.s.UpcallMasked(2))
	assert.False(t, fx.s.EventsNeedDelivery(2), "masked")
	assert.Equal(t, uint64(1<<2), fx.s.PendingSel(2))

	// Again: already pending, nothing changes, no kick.
	d, err = fx.t.Send(130)
	require.NoError(t, err)
	assert.Equal(t, Delivery{VCPU: 2}, d)
	require.Equal(t, want.bytes(), fx.page)

	// Another port in the same word: its pending bit; the selector and
	// upcall are set already, so no kick.
	d, err = fx.t.Send(129)
	require.NoError(t, err)
	assert.Equal(t, Delivery{VCPU: 2}, d)
	want.pending[129] = true
	require.Equal(t, want.bytes(), fx.page)

	// The guest's handler takes both and unmasks; a masked port then
	// gets its pending bit only.
	fx.page[2*xen.VCPUInfoSize+xen.VCPUInfoUpcallMask] = 0
	assert.ElementsMatch(t, []Port{129, 130}, fx.guestTake(2))
	require.Equal(t, newPage(), fx.page)
	fx.guestMask(5)
	d, err = fx.t.Send(5)
	require.NoError(t, err)
	assert.Equal(t, Delivery{VCPU: 2}, d)
	want = page{pending: map[Port]bool{5: true}, mask: map[Port]bool{5: true}}
	require.Equal(t, want.bytes(), fx.page)

	fx.guestUnmask(5)
	fx.s.clearPending(5)
	d, err = fx.t.Send(6)
	require.NoError(t, err)
	assert.Equal(t, Delivery{VCPU: 2, Upcall: true}, d)
	assert.True(t, fx.s.EventsNeedDelivery(2))
	// The guest clears evtchn_upcall_pending and the port, but has not
	// taken the selector yet: a new event in that word sets no upcall.
	fx.page[2*xen.VCPUInfoSize+xen.VCPUInfoUpcallPending] = 0
	fx.s.clearPending(6)
	d, err = fx.t.Send(7)
	require.NoError(t, err)
	assert.Equal(t, Delivery{VCPU: 2}, d, "selector bit already set: Xen does not mark the vCPU again")
	assert.False(t, fx.s.UpcallPending(2))
}

func TestUnmask(t *testing.T) {
	fx := bound(t) // port 2: IPI to vCPU 1
	fx.guestMask(2)
	d, err := fx.t.Send(2)
	require.NoError(t, err)
	assert.Equal(t, Delivery{VCPU: 1}, d, "masked: pending only")
	require.Equal(t, page{pending: map[Port]bool{2: true}, mask: map[Port]bool{2: true}}.bytes(), fx.page)

	d, err = fx.t.Unmask(2)
	require.NoError(t, err)
	assert.Equal(t, Delivery{VCPU: 1, Upcall: true}, d, "the event raised while masked is delivered")
	require.Equal(t, page{pending: map[Port]bool{2: true}, sel: map[int]uint64{1: 1}, upcall: map[int]bool{1: true}}.bytes(), fx.page)

	// Unmasking an unmasked port does nothing, even though it is pending.
	before := fx.snapshot()
	d, err = fx.t.Unmask(2)
	require.NoError(t, err)
	assert.Equal(t, Delivery{VCPU: 1}, d)
	require.Equal(t, before, fx.snapshot())

	// A masked port that is not pending is unmasked, nothing more.
	fx.guestTake(1)
	fx.guestMask(3)
	d, err = fx.t.Unmask(3)
	require.NoError(t, err)
	assert.Equal(t, Delivery{VCPU: 1}, d)
	require.Equal(t, newPage(), fx.page)

	// Free ports and port 0 are left masked (Xen's evtchn_usable), and
	// the call succeeds; ports that are not valid are EINVAL.
	for _, p := range []Port{0, 5, bucketPorts - 1} {
		fx.guestMask(p)
		_, err = fx.t.Unmask(p)
		require.NoError(t, err)
		assert.True(t, fx.s.Masked(p), "port %d", p)
	}
	for _, p := range []Port{bucketPorts, NrPorts, 0xffffffff} {
		_, err = fx.t.Unmask(p)
		require.ErrorIs(t, err, xen.EINVAL, "port %d", p)
	}
}

func TestStatus(t *testing.T) {
	fx := bound(t)
	require.NoError(t, fx.t.BindVCPU(4, 1))
	tests := []struct {
		name string
		dom  uint16
		port Port
		want Status
		err  error
	}{
		{"unbound", xen.DomIDSelf, 1, Status{State: xen.EvtchnStatUnbound, Dom: DomID}, nil},
		{"ipi", DomID, 2, Status{State: xen.EvtchnStatIPI, VCPU: 1}, nil},
		{"timer", xen.DomIDSelf, 3, Status{State: xen.EvtchnStatVIRQ, VCPU: 1, VIRQ: xen.VIRQTimer}, nil},
		{"console, moved", xen.DomIDSelf, 4, Status{State: xen.EvtchnStatVIRQ, VCPU: 1, VIRQ: xen.VIRQConsole}, nil},
		{"port 0", xen.DomIDSelf, 0, Status{State: xen.EvtchnStatClosed}, nil},
		{"free", xen.DomIDSelf, bucketPorts - 1, Status{State: xen.EvtchnStatClosed}, nil},
		{"not valid", xen.DomIDSelf, bucketPorts, Status{}, xen.EINVAL},
		{"other domain", 3, 1, Status{}, xen.ESRCH},
		{"other domain, bad port", 3, NrPorts, Status{}, xen.ESRCH},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := fx.t.Status(tc.dom, tc.port)
			require.ErrorIs(t, err, tc.err)
			assert.Equal(t, tc.want, st)
		})
	}
}

func TestBindVCPU(t *testing.T) {
	tests := []struct {
		name string
		port Port
		vcpu uint32
		want error
	}{
		{"unbound", 1, 1, nil},
		{"global virq", 4, 1, nil},
		{"ipi", 2, 0, xen.EINVAL},
		{"per-vcpu virq", 3, 0, xen.EINVAL},
		{"per-vcpu virq to its own vcpu", 3, 1, xen.EINVAL},
		{"port 0", 0, 0, xen.EINVAL},
		{"free", 5, 0, xen.EINVAL},
		{"not valid", bucketPorts, 0, xen.EINVAL},
		{"absent vcpu", 1, 2, xen.ENOENT},
		{"absent vcpu, bad port: ENOENT first", NrPorts, 2, xen.ENOENT},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := bound(t)
			before := fx.snapshot()
			err := fx.t.BindVCPU(tc.port, tc.vcpu)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
				require.Equal(t, before, fx.snapshot())
				return
			}
			require.NoError(t, err)
			st, err := fx.t.Status(xen.DomIDSelf, tc.port)
			require.NoError(t, err)
			assert.Equal(t, tc.vcpu, st.VCPU)
			fx.audit(t)
		})
	}
}

func TestRaiseVIRQ(t *testing.T) {
	fx := bound(t) // timer on vCPU 1 at port 3, console at port 4
	assert.Equal(t, Delivery{}, fx.t.RaiseVIRQ(xen.VIRQTimer, 0), "timer not bound on vCPU 0")
	assert.Equal(t, Delivery{}, fx.t.RaiseVIRQ(xen.VIRQDebug, 1), "debug not bound")
	assert.Equal(t, Delivery{}, fx.t.RaiseVIRQ(xen.NrVIRQs, 0))
	assert.Equal(t, Delivery{}, fx.t.RaiseVIRQ(xen.VIRQTimer, 2))
	assert.Equal(t, Delivery{}, fx.t.RaiseVIRQ(xen.VIRQTimer, -1))
	require.Equal(t, newPage(), fx.page)

	assert.Equal(t, Delivery{VCPU: 1, Upcall: true}, fx.t.RaiseVIRQ(xen.VIRQTimer, 1))
	assert.True(t, fx.s.Pending(3))
	// A global virq goes where its channel notifies, whatever vCPU the
	// hypervisor names.
	assert.Equal(t, Delivery{VCPU: 0, Upcall: true}, fx.t.RaiseVIRQ(xen.VIRQConsole, 1))
	assert.True(t, fx.s.Pending(4))
	clear(fx.page)
	require.NoError(t, fx.t.BindVCPU(4, 1))
	assert.Equal(t, Delivery{VCPU: 1, Upcall: true}, fx.t.RaiseVIRQ(xen.VIRQConsole, 0))
	require.Equal(t, page{pending: map[Port]bool{4: true}, sel: map[int]uint64{1: 1}, upcall: map[int]bool{1: true}}.bytes(), fx.page)
	assert.Equal(t, Port(4), fx.t.VIRQPort(xen.VIRQConsole, 1), "global virqs are the domain's")
}

func TestReset(t *testing.T) {
	fx := bound(t)
	require.ErrorIs(t, fx.t.Reset(5), xen.ESRCH)
	fx.t.RaiseVIRQ(xen.VIRQTimer, 1)
	fx.guestMask(2)
	require.NoError(t, fx.t.Reset(xen.DomIDSelf))
	fx.audit(t)
	for p := Port(0); p < bucketPorts; p++ {
		st, err := fx.t.Status(xen.DomIDSelf, p)
		require.NoError(t, err)
		require.Equal(t, Status{State: xen.EvtchnStatClosed}, st)
	}
	assert.False(t, fx.s.Pending(3), "pending cleared")
	assert.True(t, fx.s.Masked(2), "masks are the guest's")
	assert.Equal(t, Port(0), fx.t.VIRQPort(xen.VIRQTimer, 1))
	p, err := fx.t.BindVIRQ(xen.VIRQTimer, 1)
	require.NoError(t, err)
	assert.Equal(t, Port(1), p)
	require.NoError(t, fx.t.Reset(DomID))
	fx.audit(t)
}

// TestValidPorts: ports become valid a bucket of 64 at a time, as Xen's
// valid_evtchns grows, and stay valid once closed.
func TestValidPorts(t *testing.T) {
	fx := newFixture(t, 1)
	for i := 1; i < bucketPorts; i++ {
		_, err := fx.t.BindIPI(0)
		require.NoError(t, err)
	}
	_, err := fx.t.Status(xen.DomIDSelf, bucketPorts)
	require.ErrorIs(t, err, xen.EINVAL)
	p, err := fx.t.BindIPI(0)
	require.NoError(t, err)
	require.Equal(t, Port(bucketPorts), p)
	st, err := fx.t.Status(xen.DomIDSelf, 2*bucketPorts-1)
	require.NoError(t, err)
	assert.Equal(t, uint32(xen.EvtchnStatClosed), st.State)
	_, err = fx.t.Status(xen.DomIDSelf, 2*bucketPorts)
	require.ErrorIs(t, err, xen.EINVAL)
	require.NoError(t, fx.t.Reset(xen.DomIDSelf))
	_, err = fx.t.Status(xen.DomIDSelf, 2*bucketPorts-1)
	require.NoError(t, err, "valid ports stay valid")
	fx.audit(t)
}

// TestBound: a guest gets ports 1..4095 and no more, and the lowest free
// port after closing one.
func TestBound(t *testing.T) {
	fx := newFixture(t, 2)
	for i := 1; i < NrPorts; i++ {
		p, err := fx.t.AllocUnbound(xen.DomIDSelf, xen.DomIDSelf)
		require.NoError(t, err)
		require.Equal(t, Port(i), p)
	}
	before := fx.snapshot()
	_, err := fx.t.BindIPI(0)
	require.ErrorIs(t, err, xen.ENOSPC)
	_, err = fx.t.BindVIRQ(xen.VIRQTimer, 1)
	require.ErrorIs(t, err, xen.ENOSPC)
	_, err = fx.t.AllocUnbound(xen.DomIDSelf, 0)
	require.ErrorIs(t, err, xen.ENOSPC)
	require.Equal(t, before, fx.snapshot())
	assert.Len(t, fx.t.chans, NrPorts)
	fx.audit(t)

	require.NoError(t, fx.t.Close(NrPorts-1))
	require.NoError(t, fx.t.Close(1000))
	require.NoError(t, fx.t.Close(2000))
	for _, want := range []Port{1000, 2000, NrPorts - 1} {
		p, err := fx.t.BindIPI(1)
		require.NoError(t, err)
		assert.Equal(t, want, p)
	}
	fx.audit(t)
}

func TestAuditFinds(t *testing.T) {
	fx := bound(t)
	fx.t.chans[5] = channel{state: stateVIRQ, virq: xen.VIRQDebug}
	fx.t.chans[6] = channel{state: stateFree, vcpu: 1}
	fx.t.virqs[1][xen.VIRQConsole] = 4
	fx.t.chans[7] = channel{state: stateIPI, vcpu: 9}
	err := fx.t.Audit()
	require.Error(t, err)
	for _, s := range []string{"port 5: virq 1", "port 6: free", "vCPU 1: virq 2", "port 7: notifies vCPU 9"} {
		assert.Contains(t, err.Error(), s)
	}
}
