package trace

import (
	"encoding/binary"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Of vCPUs registering a counter page at once, exactly one wins, and the
// page and frame published are the winner's.
func TestCounterPageSetOnce(t *testing.T) {
	var c CounterPage
	_, set := c.PFN()
	assert.False(t, set)
	c.Publish(0, 1) // no page: nothing happens

	pages := make([][]byte, 8)
	won := make([]bool, len(pages))
	var wg sync.WaitGroup
	for i := range pages {
		pages[i] = make([]byte, 64)
		wg.Add(1)
		go func() {
			defer wg.Done()
			won[i] = c.Set(pages[i], uint64(100+i))
		}()
	}
	wg.Wait()
	winner := -1
	for i, w := range won {
		if w {
			assert.Equal(t, -1, winner, "two calls won")
			winner = i
		}
	}
	pfn, set := c.PFN()
	assert.True(t, set)
	assert.Equal(t, uint64(100+winner), pfn)
	c.Publish(2, 42)
	assert.Equal(t, uint64(42), binary.LittleEndian.Uint64(pages[winner][16:]))
}
