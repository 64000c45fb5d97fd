package console

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Output goes on whole; the tail keeps the latest, bounded, and a
// snapshot's tail is kept without being written again.
func TestTail(t *testing.T) {
	var out bytes.Buffer
	c := New(&out, Auto)
	c.Keep([]byte("from the snapshot\n"))
	c.Write([]byte("hello\n"))
	assert.Equal(t, "hello\n", out.String())
	assert.Equal(t, "from the snapshot\nhello\n", string(c.Tail()))

	line := strings.Repeat("x", 99) + "\n"
	for i := 0; i < 2*TailSize/len(line); i++ {
		c.Write([]byte(line))
	}
	c.Write([]byte("last\n"))
	tail := c.Tail()
	assert.LessOrEqual(t, len(tail), TailSize)
	assert.GreaterOrEqual(t, len(tail), TailSize/2)
	assert.True(t, bytes.HasSuffix(tail, []byte(line+"last\n")))
	assert.Equal(t, 2*TailSize/len(line)*len(line)+len("hello\nlast\n"), out.Len(), "everything was passed on")

	New(nil, Auto).Write([]byte("discarded"))
}
