package trace

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A flood of distinct label addresses keeps at most MaxLabels; a clone is
// independent of the original.
func TestLabelsBounded(t *testing.T) {
	var l Labels
	_, ok := l.Get(1)
	assert.False(t, ok)
	for va := uint64(0); va < 10*MaxLabels; va++ {
		l.Add(va, fmt.Sprint(va))
	}
	assert.Equal(t, MaxLabels, l.Len())
	s, ok := l.Get(7)
	assert.True(t, ok)
	assert.Equal(t, "7", s)
	_, ok = l.Get(MaxLabels)
	assert.False(t, ok, "past the bound: not kept")

	c := l.Clone()
	c.m[7] = "changed"
	s, _ = l.Get(7)
	assert.Equal(t, "7", s)
}
