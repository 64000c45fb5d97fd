package evtchn

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/xen"
)

// maxFuzzSteps bounds a sequence.
const maxFuzzSteps = 256

// FuzzOp runs a domain of 1 to 4 vCPUs through a sequence of steps, each
// a byte followed by its operands:
//
//	0x00..0xdf  event_channel_op, cmd = byte % 18 (15..17 unknown), then
//	            the command's argument bytes as the guest passed them
//	            (4 for an unknown one), zero-padded at the end of data
//	0xe0..0xe7  the guest masks port (2 bytes, little-endian, mod 4096)
//	0xe8..0xef  the guest unmasks a port by hand (no hypercall)
//	0xf0..0xf7  vCPU (1 byte) takes its events, as its handler would
//	0xf8..0xfb  the hypervisor raises virq (1 byte) on vCPU (1 byte)
//	0xfc        alloc_unbound until the ports run out (the first two
//	            times; then once)
//	0xfd..0xff  reset
//
// After every step: nothing panicked, a refused command changed neither
// the table nor the shared page and wrote nothing back, a port handed out
// is below NrPorts and not 0, an upcall reported is pending on a vCPU of
// the domain, no free port is pending, and Audit finds nothing wrong.
func FuzzOp(f *testing.F) {
	f.Add(uint8(1), []byte{xen.EvtchnOpBindIPI, 1, 0, 0, 0, 0, 0, 0, 0, xen.EvtchnOpSend, 1, 0, 0, 0})
	f.Add(uint8(0), []byte{xen.EvtchnOpBindVIRQ, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf8, 0, 0, 0xf0, 0, xen.EvtchnOpClose, 1, 0, 0, 0})
	f.Add(uint8(3), []byte{0xfc, xen.EvtchnOpClose, 0x10, 0, 0, 0, xen.EvtchnOpBindIPI, 3, 0, 0, 0, 0, 0, 0, 0, 0xfd})
	f.Add(uint8(1), []byte{xen.EvtchnOpBindVIRQ, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		xen.EvtchnOpBindVCPU, 1, 0, 0, 0, 1, 0, 0, 0, 0xe0, 1, 0, 0xf8, 2, 1, xen.EvtchnOpUnmask, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, nr uint8, data []byte) {
		fx := newFixture(t, 1+int(nr)%4)
		fills := 0
		next := func(n int) []byte {
			b := make([]byte, n)
			data = data[copy(b, data):]
			return b
		}
		for step := 0; len(data) > 0 && step < maxFuzzSteps; step++ {
			b := next(1)[0]
			switch {
			case b < 0xe0:
				cmd := uint32(b % 18)
				n := ArgSize(cmd)
				if n == 0 {
					n = 4
				}
				arg := next(n)
				in := append([]byte(nil), arg...)
				before := fx.snapshot()
				d, err := fx.t.Op(cmd, arg)
				if err != nil {
					_, ok := err.(xen.Errno)
					require.True(t, ok, "cmd %d: error %v is no Errno", cmd, err)
					require.Equal(t, in, arg, "cmd %d refused (%v) but wrote back", cmd, err)
					require.Equal(t, before, fx.snapshot(), "cmd %d refused (%v) but changed state", cmd, err)
					require.Equal(t, Delivery{}, d)
				} else {
					checkPortOut(t, cmd, arg)
				}
				checkDelivery(t, fx, d)
			case b < 0xe8:
				fx.guestMask(Port(binary.LittleEndian.Uint16(next(2))) % NrPorts)
			case b < 0xf0:
				fx.guestUnmask(Port(binary.LittleEndian.Uint16(next(2))) % NrPorts)
			case b < 0xf8:
				fx.guestTake(int(next(1)[0]) % fx.t.NrVCPUs())
			case b < 0xfc:
				o := next(2)
				checkDelivery(t, fx, fx.t.RaiseVIRQ(uint32(o[0]), int(int8(o[1]))))
			case b == 0xfc:
				fills++
				for i := 0; ; i++ {
					require.Less(t, i, NrPorts, "more ports than the bound")
					p, err := fx.t.AllocUnbound(xen.DomIDSelf, xen.DomIDSelf)
					if err != nil {
						require.ErrorIs(t, err, xen.ENOSPC)
						require.Len(t, fx.t.chans, NrPorts, "ports ran out below the bound")
						break
					}
					require.True(t, p > 0 && p < NrPorts, "port %d", p)
					if fills > 2 {
						break
					}
				}
			default:
				require.NoError(t, fx.t.Reset(xen.DomIDSelf))
			}
			fx.audit(t)
			require.LessOrEqual(t, len(fx.t.chans), NrPorts)
			fx.t.mu.Lock()
			for p := range fx.t.chans {
				if fx.t.chans[p].state == stateFree && fx.s.Pending(Port(p)) {
					t.Errorf("free port %d is pending", p)
				}
			}
			fx.t.mu.Unlock()
		}
	})
}

// checkPortOut checks the port a successful binding wrote back.
func checkPortOut(t *testing.T, cmd uint32, arg []byte) {
	off := -1
	switch cmd {
	case xen.EvtchnOpAllocUnbound:
		off = xen.EvtchnAllocUnboundPort
	case xen.EvtchnOpBindVIRQ:
		off = xen.EvtchnBindVIRQPort
	case xen.EvtchnOpBindIPI:
		off = xen.EvtchnBindIPIPort
	case xen.EvtchnOpBindInterdomain, xen.EvtchnOpBindPIRQ:
		t.Fatalf("cmd %d succeeded", cmd)
	}
	if off >= 0 {
		p := binary.LittleEndian.Uint32(arg[off:])
		require.True(t, p > 0 && p < NrPorts, "cmd %d gave port %d", cmd, p)
	}
}

func checkDelivery(t *testing.T, fx *fixture, d Delivery) {
	if d.Upcall {
		require.True(t, d.VCPU >= 0 && d.VCPU < fx.t.NrVCPUs(), "upcall on vCPU %d", d.VCPU)
		require.True(t, fx.s.UpcallPending(d.VCPU))
	}
}
