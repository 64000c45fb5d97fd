package tlb

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestFlushEachOther has two vCPUs request a flush of each other at once:
// each serves the other's request while it waits, or after, as a vCPU does
// before it runs the guest again; so both return.
func TestFlushEachOther(t *testing.T) {
	f := []*Flusher{NewFlusher(), NewFlusher()}
	var served [2]int
	var wg sync.WaitGroup
	for me := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			other := 1 - me
			want := make([]uint64, 2)
			want[other] = f[other].Request()
			f[other].Wake()
			serve := func() bool {
				gen, _ := f[me].Pending()
				served[me]++
				f[me].Served(gen)
				f[other].Wake()
				return true
			}
			f[me].Wait(f, want, func(int) {}, serve, nil)
			// As a vCPU does before it runs the guest again.
			if _, ok := f[me].Pending(); ok {
				serve()
			}
		}()
	}
	wg.Wait()
	for i := range f {
		_, pending := f[i].Pending()
		assert.False(t, pending, "vCPU %d flushed", i)
		assert.GreaterOrEqual(t, served[i], 1)
	}
}

// TestWaitRekicksAndStops: a target that never flushes is kicked again
// and again, and the wait ends when the domain stops.
func TestWaitRekicksAndStops(t *testing.T) {
	me, target := NewFlusher(), NewFlusher()
	want := []uint64{target.Request()}
	stop := make(chan struct{})
	kicks := make(chan int, 100)
	done := make(chan struct{})
	go func() {
		me.Wait([]*Flusher{target}, want, func(i int) { kicks <- i }, func() bool { return false }, stop)
		close(done)
	}()
	<-kicks
	<-kicks
	close(stop)
	<-done
	_, pending := target.Pending()
	assert.True(t, pending, "the target never flushed")
}
