package evtchn

import (
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/xen"
)

// The argument structures as C lays them out on x86-64, to check the
// xen package's offsets and sizes against.
type (
	cAllocUnbound struct {
		Dom, RemoteDom uint16
		Port           uint32
	}
	cBindInterdomain struct {
		RemoteDom             uint16
		RemotePort, LocalPort uint32
	}
	cBindVIRQ    struct{ VIRQ, VCPU, Port uint32 }
	cBindPIRQ    struct{ PIRQ, Flags, Port uint32 }
	cBindIPI     struct{ VCPU, Port uint32 }
	cPort        struct{ Port uint32 }
	cEvtchnState struct {
		Dom                uint16
		Port, Status, VCPU uint32
		U                  struct {
			Dom  uint16
			Port uint32
		}
	}
	cBindVCPU    struct{ Port, VCPU uint32 }
	cReset       struct{ Dom uint16 }
	cInitControl struct {
		GFN          uint64
		Offset, VCPU uint32
		LinkBits     uint8
		Pad          [7]uint8
	}
	cExpandArray struct{ GFN uint64 }
	cSetPriority struct{ Port, Priority uint32 }
	cVCPUInfo    struct {
		UpcallPending, UpcallMask uint8
		PendingSel                uint64
		CR2, Pad                  uint64
		Time                      [32]byte
	}
	cSharedInfo struct {
		VCPUInfo  [xen.LegacyMaxVCPUs]cVCPUInfo
		Pending   [64]uint64
		Mask      [64]uint64
		WCVersion uint32
	}
)

func TestLayouts(t *testing.T) {
	var (
		au cAllocUnbound
		bi cBindInterdomain
		bv cBindVIRQ
		bp cBindPIRQ
		ip cBindIPI
		st cEvtchnState
		bc cBindVCPU
		ic cInitControl
		sp cSetPriority
		vi cVCPUInfo
		si cSharedInfo
	)
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"alloc_unbound.dom", unsafe.Offsetof(au.Dom), xen.EvtchnAllocUnboundDom},
		{"alloc_unbound.remote_dom", unsafe.Offsetof(au.RemoteDom), xen.EvtchnAllocUnboundRemoteDom},
		{"alloc_unbound.port", unsafe.Offsetof(au.Port), xen.EvtchnAllocUnboundPort},
		{"alloc_unbound", unsafe.Sizeof(au), xen.EvtchnAllocUnboundSize},
		{"bind_interdomain.remote_dom", unsafe.Offsetof(bi.RemoteDom), xen.EvtchnBindInterdomainRemoteDom},
		{"bind_interdomain.remote_port", unsafe.Offsetof(bi.RemotePort), xen.EvtchnBindInterdomainRemotePort},
		{"bind_interdomain.local_port", unsafe.Offsetof(bi.LocalPort), xen.EvtchnBindInterdomainLocalPort},
		{"bind_interdomain", unsafe.Sizeof(bi), xen.EvtchnBindInterdomainSize},
		{"bind_virq.virq", unsafe.Offsetof(bv.VIRQ), xen.EvtchnBindVIRQVIRQ},
		{"bind_virq.vcpu", unsafe.Offsetof(bv.VCPU), xen.EvtchnBindVIRQVCPU},
		{"bind_virq.port", unsafe.Offsetof(bv.Port), xen.EvtchnBindVIRQPort},
		{"bind_virq", unsafe.Sizeof(bv), xen.EvtchnBindVIRQSize},
		{"bind_pirq.pirq", unsafe.Offsetof(bp.PIRQ), xen.EvtchnBindPIRQPIRQ},
		{"bind_pirq.flags", unsafe.Offsetof(bp.Flags), xen.EvtchnBindPIRQFlags},
		{"bind_pirq.port", unsafe.Offsetof(bp.Port), xen.EvtchnBindPIRQPort},
		{"bind_pirq", unsafe.Sizeof(bp), xen.EvtchnBindPIRQSize},
		{"bind_ipi.vcpu", unsafe.Offsetof(ip.VCPU), xen.EvtchnBindIPIVCPU},
		{"bind_ipi.port", unsafe.Offsetof(ip.Port), xen.EvtchnBindIPIPort},
		{"bind_ipi", unsafe.Sizeof(ip), xen.EvtchnBindIPISize},
		{"close/send/unmask", unsafe.Sizeof(cPort{}), xen.EvtchnPortArgSize},
		{"status.dom", unsafe.Offsetof(st.Dom), xen.EvtchnStatusDom},
		{"status.port", unsafe.Offsetof(st.Port), xen.EvtchnStatusPort},
		{"status.status", unsafe.Offsetof(st.Status), xen.EvtchnStatusStatus},
		{"status.vcpu", unsafe.Offsetof(st.VCPU), xen.EvtchnStatusVCPU},
		{"status.u", unsafe.Offsetof(st.U), xen.EvtchnStatusUnboundDom},
		{"status.u.interdomain.port", unsafe.Offsetof(st.U) + unsafe.Offsetof(st.U.Port), xen.EvtchnStatusInterdomainPort},
		{"status", unsafe.Sizeof(st), xen.EvtchnStatusSize},
		{"bind_vcpu.port", unsafe.Offsetof(bc.Port), xen.EvtchnBindVCPUPort},
		{"bind_vcpu.vcpu", unsafe.Offsetof(bc.VCPU), xen.EvtchnBindVCPUVCPU},
		{"bind_vcpu", unsafe.Sizeof(bc), xen.EvtchnBindVCPUSize},
		{"reset", unsafe.Sizeof(cReset{}), xen.EvtchnResetSize},
		{"init_control.offset", unsafe.Offsetof(ic.Offset), xen.EvtchnInitControlOffset},
		{"init_control.vcpu", unsafe.Offsetof(ic.VCPU), xen.EvtchnInitControlVCPU},
		{"init_control.link_bits", unsafe.Offsetof(ic.LinkBits), xen.EvtchnInitControlLinkBits},
		{"init_control", unsafe.Sizeof(ic), xen.EvtchnInitControlSize},
		{"expand_array", unsafe.Sizeof(cExpandArray{}), xen.EvtchnExpandArraySize},
		{"set_priority.priority", unsafe.Offsetof(sp.Priority), xen.EvtchnSetPriorityPriority},
		{"set_priority", unsafe.Sizeof(sp), xen.EvtchnSetPrioritySize},
		{"vcpu_info.evtchn_upcall_pending", unsafe.Offsetof(vi.UpcallPending), xen.VCPUInfoUpcallPending},
		{"vcpu_info.evtchn_upcall_mask", unsafe.Offsetof(vi.UpcallMask), xen.VCPUInfoUpcallMask},
		{"vcpu_info.evtchn_pending_sel", unsafe.Offsetof(vi.PendingSel), xen.VCPUInfoPendingSel},
		{"vcpu_info.arch.cr2", unsafe.Offsetof(vi.CR2), xen.VCPUInfoCR2},
		{"vcpu_info.time", unsafe.Offsetof(vi.Time), xen.VCPUInfoTime},
		{"vcpu_info", unsafe.Sizeof(vi), xen.VCPUInfoSize},
		{"shared_info.evtchn_pending", unsafe.Offsetof(si.Pending), xen.SharedInfoEvtchnPending},
		{"shared_info.evtchn_mask", unsafe.Offsetof(si.Mask), xen.SharedInfoEvtchnMask},
		{"shared_info.wc_version", unsafe.Offsetof(si.WCVersion), xen.SharedInfoWCVersion},
	} {
		assert.Equal(t, c.want, c.got, c.name)
	}
	assert.Equal(t, 4096, xen.Evtchn2LNrChannels)
	assert.Equal(t, 64*64, NrPorts, "one selector bit per pending word")
}

func TestArgSize(t *testing.T) {
	for cmd := uint32(0); cmd <= xen.EvtchnOpResetCont; cmd++ {
		assert.NotZero(t, ArgSize(cmd), "cmd %d", cmd)
	}
	for _, cmd := range []uint32{15, 16, 0xffffffff} {
		assert.Zero(t, ArgSize(cmd))
		assert.False(t, WritesBack(cmd))
	}
}

// op runs cmd through Op with arg, and returns what it left in arg.
func op(t *testing.T, tab *Table, cmd uint32, arg []byte) ([]byte, Delivery, error) {
	t.Helper()
	require.Len(t, arg, ArgSize(cmd), "cmd %d", cmd)
	b := append([]byte(nil), arg...)
	d, err := tab.Op(cmd, b)
	if err != nil {
		require.Equal(t, arg, b, "a failed cmd %d writes nothing back", cmd)
	}
	return b, d, err
}

func TestOp(t *testing.T) {
	fx := newFixture(t, 2)
	tab := fx.t
	junk := le32(0xdeadbeef)

	// alloc_unbound: the port is written at offset 4.
	b, _, err := op(t, tab, xen.EvtchnOpAllocUnbound, cat(le16(xen.DomIDSelf), le16(9), junk))
	require.NoError(t, err)
	assert.Equal(t, cat(le16(xen.DomIDSelf), le16(9), le32(1)), b)
	_, _, err = op(t, tab, xen.EvtchnOpAllocUnbound, cat(le16(4), le16(xen.DomIDSelf), junk))
	require.ErrorIs(t, err, xen.ESRCH)

	// bind_virq, bind_ipi: the port after the inputs.
	b, _, err = op(t, tab, xen.EvtchnOpBindVIRQ, cat(le32(xen.VIRQTimer), le32(1), junk))
	require.NoError(t, err)
	assert.Equal(t, cat(le32(xen.VIRQTimer), le32(1), le32(2)), b)
	_, _, err = op(t, tab, xen.EvtchnOpBindVIRQ, cat(le32(xen.VIRQTimer), le32(1), junk))
	require.ErrorIs(t, err, xen.EEXIST)
	b, _, err = op(t, tab, xen.EvtchnOpBindIPI, cat(le32(0), junk))
	require.NoError(t, err)
	assert.Equal(t, cat(le32(0), le32(3)), b)

	// status: status, vcpu and the union's member; the union's other
	// bytes keep what the guest passed.
	b, _, err = op(t, tab, xen.EvtchnOpStatus, cat(le16(xen.DomIDSelf), le16(0xaaaa), le32(1), junk, junk, junk, junk))
	require.NoError(t, err)
	assert.Equal(t, cat(le16(xen.DomIDSelf), le16(0xaaaa), le32(1), le32(xen.EvtchnStatUnbound), le32(0), le16(9), []byte{0xad, 0xde}, junk), b)
	b, _, err = op(t, tab, xen.EvtchnOpStatus, cat(le16(DomID), le16(0), le32(2), junk, junk, junk, junk))
	require.NoError(t, err)
	assert.Equal(t, cat(le16(DomID), le16(0), le32(2), le32(xen.EvtchnStatVIRQ), le32(1), le32(xen.VIRQTimer), junk), b)
	b, _, err = op(t, tab, xen.EvtchnOpStatus, cat(le16(DomID), le16(0), le32(3), junk, junk, junk, junk))
	require.NoError(t, err)
	assert.Equal(t, cat(le16(DomID), le16(0), le32(3), le32(xen.EvtchnStatIPI), le32(0), junk, junk), b)
	_, _, err = op(t, tab, xen.EvtchnOpStatus, cat(le16(DomID), le16(0), le32(NrPorts), junk, junk, junk, junk))
	require.ErrorIs(t, err, xen.EINVAL)

	// send and unmask give their Delivery.
	fx.guestMask(3)
	_, d, err := op(t, tab, xen.EvtchnOpSend, le32(3))
	require.NoError(t, err)
	assert.Equal(t, Delivery{VCPU: 0}, d)
	_, d, err = op(t, tab, xen.EvtchnOpUnmask, le32(3))
	require.NoError(t, err)
	assert.Equal(t, Delivery{VCPU: 0, Upcall: true}, d)
	_, _, err = op(t, tab, xen.EvtchnOpSend, le32(2))
	require.ErrorIs(t, err, xen.EINVAL, "a virq port")

	// bind_vcpu, close.
	_, _, err = op(t, tab, xen.EvtchnOpBindVCPU, cat(le32(1), le32(1)))
	require.NoError(t, err)
	_, _, err = op(t, tab, xen.EvtchnOpBindVCPU, cat(le32(3), le32(1)))
	require.ErrorIs(t, err, xen.EINVAL)
	_, _, err = op(t, tab, xen.EvtchnOpClose, le32(3))
	require.NoError(t, err)
	_, _, err = op(t, tab, xen.EvtchnOpClose, le32(3))
	require.ErrorIs(t, err, xen.EINVAL)

	// Refused: no other domain, no pirqs, no FIFO.
	_, _, err = op(t, tab, xen.EvtchnOpBindInterdomain, cat(le16(xen.DomIDSelf), le16(0), le32(1), junk))
	require.ErrorIs(t, err, xen.ESRCH)
	_, _, err = op(t, tab, xen.EvtchnOpBindPIRQ, cat(le32(0), le32(0), junk))
	require.ErrorIs(t, err, xen.EPERM)
	_, _, err = op(t, tab, xen.EvtchnOpInitControl, make([]byte, xen.EvtchnInitControlSize))
	require.ErrorIs(t, err, xen.EOPNOTSUPP)
	_, _, err = op(t, tab, xen.EvtchnOpExpandArray, make([]byte, xen.EvtchnExpandArraySize))
	require.ErrorIs(t, err, xen.EOPNOTSUPP)
	_, _, err = op(t, tab, xen.EvtchnOpSetPriority, cat(le32(1), le32(0)))
	require.ErrorIs(t, err, xen.ENOSYS, "2-level: no priorities")
	_, _, err = op(t, tab, xen.EvtchnOpSetPriority, cat(le32(NrPorts), le32(0)))
	require.ErrorIs(t, err, xen.EINVAL)
	_, _, err = op(t, tab, xen.EvtchnOpResetCont, le16(xen.DomIDSelf))
	require.ErrorIs(t, err, xen.EBUSY, "no reset to continue")
	_, _, err = op(t, tab, xen.EvtchnOpResetCont, le16(2))
	require.ErrorIs(t, err, xen.ESRCH)

	// Unknown commands, short arguments.
	_, err = tab.Op(15, nil)
	require.ErrorIs(t, err, xen.ENOSYS)
	_, err = tab.Op(0x80000004, make([]byte, 64))
	require.ErrorIs(t, err, xen.ENOSYS)
	_, err = tab.Op(xen.EvtchnOpStatus, make([]byte, xen.EvtchnStatusSize-1))
	require.ErrorIs(t, err, xen.EFAULT)

	// reset.
	_, _, err = op(t, tab, xen.EvtchnOpReset, le16(7))
	require.ErrorIs(t, err, xen.ESRCH)
	_, _, err = op(t, tab, xen.EvtchnOpReset, le16(xen.DomIDSelf))
	require.NoError(t, err)
	fx.audit(t)
	for p := Port(1); p < 4; p++ {
		_, err := tab.Status(xen.DomIDSelf, p)
		require.NoError(t, err)
		require.ErrorIs(t, tab.Close(p), xen.EINVAL)
	}
}

// TestConcurrent runs vCPU threads binding, sending and closing, the
// hypervisor raising a virq, and the guest taking events, all at once,
// for the race detector to check the locking; the table is intact after.
func TestConcurrent(t *testing.T) {
	const nrVCPUs = 4
	fx := newFixture(t, nrVCPUs)
	timers := make([]Port, nrVCPUs)
	for v := range timers {
		p, err := fx.t.BindVIRQ(xen.VIRQTimer, uint32(v))
		require.NoError(t, err)
		timers[v] = p
	}
	var stop atomic.Bool
	var wg, guest sync.WaitGroup
	for v := 0; v < nrVCPUs; v++ {
		guest.Add(1)
		go func() {
			defer guest.Done()
			for !stop.Load() {
				fx.guestTake(v)
			}
		}()
	}
	for v := 0; v < nrVCPUs; v++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				p, err := fx.t.BindIPI(uint32((v + 1) % nrVCPUs))
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := fx.t.Send(p); err != nil {
					t.Error(err)
				}
				fx.t.RaiseVIRQ(xen.VIRQTimer, v)
				if _, err := fx.t.Unmask(p); err != nil {
					t.Error(err)
				}
				if _, err := fx.t.Status(xen.DomIDSelf, p); err != nil {
					t.Error(err)
				}
				if err := fx.t.Close(p); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	stop.Store(true)
	guest.Wait()
	fx.audit(t)
	for v, p := range timers {
		assert.Equal(t, p, fx.t.VIRQPort(xen.VIRQTimer, v))
	}
}
