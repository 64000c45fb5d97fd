package xenstore

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// guest is the guest's end of the ring, as Linux's xenbus drives it.
type guest struct {
	page  []byte
	s     *Store
	reqID uint32
}

func newGuest(t *testing.T) *guest {
	page := make([]byte, 4096)
	return &guest{page: page, s: New(page, Config{DomID: 1, Name: "dom", VCPUs: 2, MemoryK: 65536})}
}

func (g *guest) u32(off int) uint32      { return binary.LittleEndian.Uint32(g.page[off:]) }
func (g *guest) put32(off int, v uint32) { binary.LittleEndian.PutUint32(g.page[off:], v) }
func (g *guest) putReq(b []byte)         { g.putAt(reqOff, reqProd, b) }
func (g *guest) putAt(ring, idx int, b []byte) {
	p := g.u32(idx)
	for i, c := range b {
		g.page[ring+int((p+uint32(i))%ringSize)] = c
	}
	g.put32(idx, p+uint32(len(b)))
}

// msg is one message of the wire protocol.
type msg struct {
	typ, reqID uint32
	payload    string
}

func encode(typ, reqID uint32, payload string) []byte {
	b := make([]byte, headerSize+len(payload))
	binary.LittleEndian.PutUint32(b[0:], typ)
	binary.LittleEndian.PutUint32(b[4:], reqID)
	binary.LittleEndian.PutUint32(b[12:], uint32(len(payload)))
	copy(b[headerSize:], payload)
	return b
}

// call sends one request, serves it, and returns every message the store
// answered with.
func (g *guest) call(t *testing.T, typ uint32, payload string) []msg {
	t.Helper()
	g.reqID++
	g.putReq(encode(typ, g.reqID, payload))
	g.s.Serve()
	return g.responses(t)
}

// responses reads the response ring as Linux's xb_read does, a byte
// stream, asking the store for more while it has more to give, and
// returns the messages.
func (g *guest) responses(t *testing.T) []msg {
	t.Helper()
	var stream []byte
	for {
		cons, prod := g.u32(rspCons), g.u32(rspProd)
		require.LessOrEqual(t, prod-cons, uint32(ringSize))
		for i := cons; i != prod; i++ {
			stream = append(stream, g.page[rspOff+int(i%ringSize)])
		}
		g.put32(rspCons, prod)
		if !g.s.Serve() {
			break
		}
	}
	var out []msg
	for len(stream) > 0 {
		require.GreaterOrEqual(t, len(stream), headerSize, "a partial header")
		n := int(binary.LittleEndian.Uint32(stream[12:]))
		require.GreaterOrEqual(t, len(stream), headerSize+n, "a partial payload")
		out = append(out, msg{binary.LittleEndian.Uint32(stream[0:]), binary.LittleEndian.Uint32(stream[4:]), string(stream[headerSize : headerSize+n])})
		stream = stream[headerSize+n:]
	}
	return out
}

func TestRequests(t *testing.T) {
	g := newGuest(t)
	for _, tt := range []struct {
		name    string
		typ     uint32
		payload string
		want    []msg
	}{
		{"read domid, relative", typeRead, "domid\x00", []msg{{typeRead, 1, "1"}}},
		{"read absolute", typeRead, "/local/domain/1/memory/target\x00", []msg{{typeRead, 2, "65536"}}},
		{"read a node that is not there", typeRead, "device/vif/0/state\x00", []msg{{typeError, 3, "ENOENT\x00"}}},
		{"directory", typeDirectory, "cpu\x00", []msg{{typeDirectory, 4, "0\x001\x00"}}},
		{"directory of nothing", typeDirectory, "device\x00", []msg{{typeError, 5, "ENOENT\x00"}}},
		{"write", typeWrite, "control/feature-poweroff\x001", []msg{{typeWrite, 6, "OK\x00"}}},
		{"read it back", typeRead, "control/feature-poweroff\x00", []msg{{typeRead, 7, "1"}}},
		{"watch: OK, then the watch fires once", typeWatch, "control/shutdown\x00tok\x00",
			[]msg{{typeWatch, 8, "OK\x00"}, {typeWatchEvent, 0, "control/shutdown\x00tok\x00"}}},
		{"a write under the watch fires it", typeWrite, "control/shutdown\x00poweroff",
			[]msg{{typeWrite, 9, "OK\x00"}, {typeWatchEvent, 0, "control/shutdown\x00tok\x00"}}},
		{"rm of a parent fires watches under it, naming them", typeRm, "control\x00",
			[]msg{{typeRm, 10, "OK\x00"}, {typeWatchEvent, 0, "control/shutdown\x00tok\x00"}}},
		{"unwatch", typeUnwatch, "control/shutdown\x00tok\x00", []msg{{typeUnwatch, 11, "OK\x00"}}},
		{"unwatch again", typeUnwatch, "control/shutdown\x00tok\x00", []msg{{typeError, 12, "ENOENT\x00"}}},
		{"transaction", typeTransactionStart, "\x00", []msg{{typeTransactionStart, 13, "1\x00"}}},
		{"domain path", typeGetDomainPath, "1\x00", []msg{{typeGetDomainPath, 14, "/local/domain/1\x00"}}},
		{"introduce: a privileged domain's", typeIntroduce, "2\x00", []msg{{typeError, 15, "EACCES\x00"}}},
		{"unknown type", 99, "", []msg{{typeError, 16, "EINVAL\x00"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, g.call(t, tt.typ, tt.payload))
		})
	}
}

// TestPartialRequest: Linux writes a header, notifies, then writes the
// payload without notifying unless the server had emptied the ring; the
// store consumes the header at once, so that it does.
func TestPartialRequest(t *testing.T) {
	g := newGuest(t)
	m := encode(typeRead, 7, "name\x00")
	g.putReq(m[:headerSize])
	assert.False(t, g.s.Serve(), "nothing to answer yet")
	assert.Equal(t, g.u32(reqProd), g.u32(reqCons), "the header is consumed")
	g.putReq(m[headerSize:])
	assert.True(t, g.s.Serve())
	assert.Equal(t, []msg{{typeRead, 7, "dom"}}, g.responses(t))
}

// TestResponseRingFull: answers longer than the ring's room go out as
// the guest consumes, a byte stream.
func TestResponseRingFull(t *testing.T) {
	g := newGuest(t)
	long := fmt.Sprintf("%0900d", 0)
	g.call(t, typeWrite, "big\x00"+long)
	g.putReq(encode(typeRead, 100, "big\x00"))
	g.putReq(encode(typeRead, 101, "big\x00"))
	assert.True(t, g.s.Serve())
	assert.Equal(t, uint32(ringSize), g.u32(rspProd)-g.u32(rspCons), "the ring is full")
	assert.Equal(t, []msg{{typeRead, 100, long}, {typeRead, 101, long}}, g.responses(t))
}

// TestBrokenRing: indexes more than a ring apart, or a request longer
// than PayloadMax, drop what the ring holds; the store serves on.
func TestBrokenRing(t *testing.T) {
	g := newGuest(t)
	g.put32(reqProd, 5000)
	g.s.Serve()
	assert.Equal(t, uint32(5000), g.u32(reqCons))
	g.putReq(encode(typeRead, 1, string(make([]byte, 0)))[:12])
	g.putReq([]byte{0xff, 0xff, 0, 0})
	g.s.Serve()
	assert.Equal(t, g.u32(reqProd), g.u32(reqCons))
	assert.Equal(t, []msg{{typeRead, 1, "1"}}, g.call(t, typeRead, "domid\x00"))
}

// TestLimits: the guest cannot make the store hold more than its caps.
func TestLimits(t *testing.T) {
	g := newGuest(t)
	for i := range MaxWatches {
		r := g.call(t, typeWatch, fmt.Sprintf("w%d\x00t\x00", i))
		require.Equal(t, "OK\x00", r[0].payload)
	}
	assert.Equal(t, "E2BIG\x00", g.call(t, typeWatch, "one-more\x00t\x00")[0].payload)
	assert.Equal(t, "OK\x00", g.call(t, typeResetWatches, "")[0].payload)
	var last string
	for i := 0; i < MaxNodes; i++ {
		last = g.call(t, typeWrite, fmt.Sprintf("n/%d\x00v", i))[0].payload
	}
	assert.Equal(t, "ENOSPC\x00", last)
	assert.LessOrEqual(t, len(g.s.nodes), MaxNodes)
}

// FuzzServe feeds the request ring arbitrary bytes and indexes: the store
// never panics, keeps its caps, and leaves the response ring consistent.
func FuzzServe(f *testing.F) {
	f.Add(encode(typeWatch, 1, "a\x00b\x00"), uint32(0))
	f.Add(encode(typeWrite, 2, "x/y\x00z"), uint32(3))
	f.Add(append(encode(typeRead, 3, "domid\x00"), encode(typeDirectory, 4, "cpu\x00")...), uint32(1000))
	f.Fuzz(func(t *testing.T, data []byte, start uint32) {
		page := make([]byte, 4096)
		s := New(page, Config{DomID: 1, Name: "f", VCPUs: 1, MemoryK: 1})
		binary.LittleEndian.PutUint32(page[reqCons:], start)
		binary.LittleEndian.PutUint32(page[reqProd:], start)
		binary.LittleEndian.PutUint32(page[rspCons:], start)
		binary.LittleEndian.PutUint32(page[rspProd:], start)
		for len(data) > 0 {
			n := min(len(data), 700)
			p := binary.LittleEndian.Uint32(page[reqProd:])
			for i, c := range data[:n] {
				page[reqOff+int((p+uint32(i))%ringSize)] = c
			}
			binary.LittleEndian.PutUint32(page[reqProd:], p+uint32(n))
			data = data[n:]
			s.Serve()
			// The guest reads every answer.
			binary.LittleEndian.PutUint32(page[rspCons:], binary.LittleEndian.Uint32(page[rspProd:]))
			rp, rc := binary.LittleEndian.Uint32(page[rspProd:]), binary.LittleEndian.Uint32(page[rspCons:])
			if rp-rc > ringSize || len(s.watches) > MaxWatches || len(s.nodes) > MaxNodes || len(s.out) > maxOut {
				t.Fatalf("ring %d..%d, %d watches, %d nodes, %d queued", rc, rp, len(s.watches), len(s.nodes), len(s.out))
			}
		}
	})
}
