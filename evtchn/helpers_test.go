package evtchn

import (
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/xen"
)

// newPage is a zeroed, 8-byte aligned shared_info page.
func newPage() []byte {
	w := make([]uint64, 4096/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), 4096)
}

type fixture struct {
	t    *Table
	s    *SharedInfo
	page []byte
}

func newFixture(tb testing.TB, nrVCPUs int) *fixture {
	tb.Helper()
	page := newPage()
	s, err := NewSharedInfo(page)
	require.NoError(tb, err)
	return &fixture{t: NewTable(nrVCPUs, s), s: s, page: page}
}

// The guest's side of the shared page, with the locked instructions a
// guest uses.

func (fx *fixture) guestMask(p Port)   { atomic.OrUint64(fx.s.maskWord(p), portBit(p)) }
func (fx *fixture) guestUnmask(p Port) { atomic.AndUint64(fx.s.maskWord(p), ^portBit(p)) }

// guestTake is the guest's event handler on vcpu: clear
// evtchn_upcall_pending, take the selector, and clear the pending bits it
// covers that are not masked; it returns the ports it took.
func (fx *fixture) guestTake(vcpu int) []Port {
	atomic.AndUint64(fx.s.upcallWord(vcpu), ^uint64(0xff))
	sel := atomic.SwapUint64(fx.s.selWord(vcpu), 0)
	var ports []Port
	for w := Port(0); w < 64; w++ {
		if sel&(1<<w) == 0 {
			continue
		}
		pend := atomic.LoadUint64(&fx.s.w[xen.SharedInfoEvtchnPending/8+w]) &^ atomic.LoadUint64(&fx.s.w[xen.SharedInfoEvtchnMask/8+w])
		for b := Port(0); b < 64; b++ {
			if pend&(1<<b) != 0 {
				atomic.AndUint64(&fx.s.w[xen.SharedInfoEvtchnPending/8+w], ^uint64(1<<b))
				ports = append(ports, w*64+b)
			}
		}
	}
	return ports
}

func (fx *fixture) audit(tb testing.TB) {
	tb.Helper()
	require.NoError(tb, fx.t.Audit())
}

// snapshot is the table's state and the shared page, to compare before
// and after a refused operation. The allocation scan's start is a hint
// and left out.
type snapshot struct {
	chans []channel
	virqs [][xen.NrVIRQs]Port
	page  string
}

func (fx *fixture) snapshot() snapshot {
	fx.t.mu.Lock()
	defer fx.t.mu.Unlock()
	return snapshot{
		chans: append([]channel(nil), fx.t.chans...),
		virqs: append([][xen.NrVIRQs]Port(nil), fx.t.virqs...),
		page:  string(fx.page),
	}
}

func le32(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }
func le16(v uint16) []byte { return []byte{byte(v), byte(v >> 8)} }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}
