package console

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRingDrain(t *testing.T) {
	page := make([]byte, 4096)
	var out bytes.Buffer
	c := New(&out, Both)
	r := NewRing(page)

	assert.Zero(t, r.Drain(c), "an empty ring")
	r.putOut([]byte("hello, "))
	r.putOut([]byte("ring\n"))
	assert.Equal(t, 12, r.Drain(c))
	assert.Equal(t, "hello, ring\n", out.String())
	assert.Equal(t, uint32(12), binary.LittleEndian.Uint32(page[ringOutCons:]), "out_cons caught up")

	// Across the end of out[].
	out.Reset()
	long := strings.Repeat("x", ringOutSize-20) + "|wrapped"
	r.putOut([]byte(long))
	assert.Equal(t, len(long), r.Drain(c))
	assert.Equal(t, long, out.String())

	// A producer too far ahead: consumed without output.
	out.Reset()
	binary.LittleEndian.PutUint32(page[ringOutProd:], binary.LittleEndian.Uint32(page[ringOutCons:])+ringOutSize+1)
	assert.Zero(t, r.Drain(c))
	assert.Empty(t, out.String())
	assert.Equal(t, binary.LittleEndian.Uint32(page[ringOutProd:]), binary.LittleEndian.Uint32(page[ringOutCons:]))
}

// Auto shows console_io until the ring is first written, then the ring.
func TestShow(t *testing.T) {
	for _, tt := range []struct {
		show Show
		want string
	}{
		{Auto, "xen 1\nring 1\nring 2\n"},
		{Xen, "xen 1\nxen 2\n"},
		{PV, "ring 1\nring 2\n"},
		{Both, "xen 1\nxen 2\nring 1\nring 2\n"},
	} {
		t.Run(tt.show.String(), func(t *testing.T) {
			var out bytes.Buffer
			c := New(&out, tt.show)
			r := NewRing(make([]byte, 4096))
			c.Write([]byte("xen 1\n"))
			r.putOut([]byte("ring 1\n"))
			if tt.show == Both {
				c.Write([]byte("xen 2\n"))
				r.Drain(c)
			} else {
				r.Drain(c)
				c.Write([]byte("xen 2\n"))
			}
			r.putOut([]byte("ring 2\n"))
			r.Drain(c)
			assert.Equal(t, tt.want, out.String())
			assert.Equal(t, tt.want, string(c.Tail()), "the tail keeps what was shown")
			s, ok := ParseShow(tt.show.String())
			assert.True(t, ok)
			assert.Equal(t, tt.show, s)
		})
	}
}

func TestRingPutIn(t *testing.T) {
	page := make([]byte, 4096)
	r := NewRing(page)

	assert.Equal(t, 3, r.PutIn([]byte("ls\n")))
	assert.Equal(t, 3, r.InPending())
	assert.Equal(t, "ls\n", string(r.getIn()))
	assert.Zero(t, r.InPending(), "the guest consumed it")

	// Full: only what fits goes in, and nothing more until the guest
	// consumes.
	big := bytes.Repeat([]byte("y"), ringInSize+100)
	assert.Equal(t, ringInSize, r.PutIn(big))
	assert.Zero(t, r.PutIn([]byte("z")))
	assert.Equal(t, big[:ringInSize], r.getIn(), "across the end of in[]")
	assert.Equal(t, 1, r.PutIn([]byte("z")))

	// A consumer ahead of the producer: nothing is put in.
	binary.LittleEndian.PutUint32(page[ringInCons:], binary.LittleEndian.Uint32(page[ringInProd:])+5)
	assert.Zero(t, r.PutIn([]byte("lost")))
}
