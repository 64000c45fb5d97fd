package biglock

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pvsim/pvsim/trace"
)

// queue is a vCPU's executor as the lock sees it: stores to addrs, pending
// until the vCPU runs them. If runAfter is set, they are run once they
// have been asked about that many times, as a vCPU in KVM_RUN would run
// them while a waiter polls: only a waiter asks that often.
type queue struct {
	pending  atomic.Bool
	polls    atomic.Int64
	runAfter int64
	addrs    []uint64
	rounds   int
}

func (q *queue) StoresPending() bool {
	if q.pending.Load() && q.runAfter > 0 && q.polls.Add(1) >= q.runAfter {
		q.pending.Store(false)
	}
	return q.pending.Load()
}

func (q *queue) MayStore(pa uint64) bool {
	for _, a := range q.addrs {
		if a == pa&^7 {
			return true
		}
	}
	return false
}

func (q *queue) Round() { q.rounds++; q.pending.Store(false) }

func newLock(n int) (*Lock, []*queue, *atomic.Bool) {
	qs := make([]*queue, n)
	iq := make([]Queue, n)
	for i := range qs {
		qs[i] = &queue{}
		iq[i] = qs[i]
	}
	var stopping atomic.Bool
	return New(iq, &stopping), qs, &stopping
}

// TestSettle: with vCPU 1's stores to 0x1000 and 0x2008 still queued,
// vCPU 0 takes the lock. Which of its acts wait for them depends on
// whether it took the lock lazily and on the address.
func TestSettle(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lazy  bool
		pa    []uint64
		waits bool
	}{
		{"eager waits at once", false, nil, true},
		{"lazy, no act", true, nil, false},
		{"lazy, other addresses", true, []uint64{0x1008, 0x2000, 0x3000}, false},
		{"lazy, a queued address", true, []uint64{0x1008, 0x2008}, true},
		{"lazy, inside a queued quadword", true, []uint64{0x100c}, false},
		{"lazy, a reference moves", true, []uint64{Everything}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, qs, _ := newLock(2)
			qs[1].addrs = []uint64{0x1000, 0x2008}
			qs[1].runAfter = 100
			qs[1].pending.Store(true)
			var st trace.ExitStats
			l.Acquire(0, tc.lazy, &st)
			for _, pa := range tc.pa {
				l.Settle(pa)
			}
			waited := !qs[1].pending.Load()
			// Settled once, vCPU 0 does not wait again.
			polls := qs[1].polls.Load()
			l.Settle(Everything)
			if waited {
				assert.Equal(t, polls, qs[1].polls.Load())
			}
			l.Release()
			assert.Equal(t, tc.waits, waited, "vCPU 0 waited for vCPU 1's stores")
			assert.Equal(t, uint64(1), st.MMULocks)
		})
	}
}

// TestAcquireRunsOwnStores: a vCPU that finds the lock taken runs its own
// queued stores before it waits: the holder may be waiting for them, and
// would otherwise wait for ever.
func TestAcquireRunsOwnStores(t *testing.T) {
	l, qs, _ := newLock(2)
	var st0, st1 trace.ExitStats
	qs[1].pending.Store(true)
	l.Acquire(0, true, &st0)
	done := make(chan struct{})
	go func() {
		l.Acquire(1, false, &st1)
		l.Release()
		close(done)
	}()
	// The holder waits for vCPU 1's stores, which vCPU 1 runs when it
	// finds the lock taken.
	l.Settle(Everything)
	l.Release()
	<-done
	assert.Equal(t, 1, qs[1].rounds)
}

// TestStopping: a waiter gives up on queued stores once the domain is
// stopping: their vCPU will never run them.
func TestStopping(t *testing.T) {
	l, qs, stopping := newLock(2)
	qs[1].pending.Store(true)
	stopping.Store(true)
	var st trace.ExitStats
	l.Acquire(0, false, &st)
	l.Release()
	assert.True(t, qs[1].pending.Load())
}

// TestMutualExclusion: vCPUs taking the lock lazily and eagerly never hold
// it at once.
func TestMutualExclusion(t *testing.T) {
	l, _, _ := newLock(4)
	var inside atomic.Int32
	var wg sync.WaitGroup
	for me := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var st trace.ExitStats
			for i := range 2000 {
				l.Acquire(me, i%2 == 0, &st)
				assert.Equal(t, int32(1), inside.Add(1))
				l.Settle(uint64(i) * 8)
				inside.Add(-1)
				l.Release()
			}
		}()
	}
	wg.Wait()
}
