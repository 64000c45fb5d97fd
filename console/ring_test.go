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
	c := New(&out)
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
