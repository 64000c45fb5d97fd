// Package biglock is a domain's MMU lock: the per-domain lock of Xen 3.1
// and 3.2 (LOCK_BIGLOCK in do_mmu_update, do_mmuext_op,
// do_update_va_mapping and the ptwr fault path), which a vCPU takes for
// each pagetable operation, together with the order of the pagetable
// stores a vCPU's executor still holds queued after it released the lock.
//
// pvsim makes pagetable writes in guest context (package executor), and a
// vCPU runs the last of them on its way back to the guest, after the lock
// is released. The frame table already counts them, so the lock's next
// holder must not read or change what they touch before they are in
// memory. It waits for them as it takes the lock, or, for an operation
// that moves no reference (clearing Accessed or Dirty in an entry), only
// when it reads or writes a quadword they may write, or before it moves a
// reference after all (Settle). Xen has no queued stores: its writes are in
// memory once the lock is released (docs/MODEL.md).
package biglock

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pvsim/pvsim/trace"
)

// Queue is one vCPU's executor as the lock sees it.
type Queue interface {
	// StoresPending reports whether the vCPU holds stores the frame table
	// counts that are not yet in memory. Any thread may ask.
	StoresPending() bool
	// MayStore reports whether those stores may write the quadword at
	// guest-physical address pa (false positives allowed). Asked under
	// the lock, while StoresPending holds.
	MayStore(pa uint64) bool
	// Round runs the vCPU's own queued commands now. Only the vCPU's
	// thread calls it, through Acquire.
	Round()
}

// Everything is the address Settle is given when the holder is about to
// move a reference or read memory wholesale: every store must be in.
const Everything = ^uint64(0)

// Lock is a domain's MMU lock. The zero Lock is not usable: see New.
type Lock struct {
	mu       sync.Mutex
	queues   []Queue
	stopping *atomic.Bool
	// owner is the vCPU holding mu, or -1; lazy is set while the owner
	// has not yet waited for the others' queued stores; st is the owner's
	// statistics. All three are guarded by mu.
	owner int
	lazy  bool
	st    *trace.ExitStats
}

// New makes the lock of a domain whose vCPU i has the executor queues[i],
// which may be filled in after New, before the first Acquire.
// A waiter stops waiting for queued stores once *stopping is set: the
// domain is ending, and a vCPU that will not run again never runs them.
func New(queues []Queue, stopping *atomic.Bool) *Lock {
	return &Lock{queues: queues, stopping: stopping, owner: -1}
}

// Acquire takes the lock for vCPU me, counting the acquisition and its
// waits in st. If the lock is taken, me first runs its own queued stores:
// the holder may be waiting for them. Unless lazy, Acquire then waits until
// no other vCPU holds stores pending; a lazy holder waits only when Settle
// finds a store it must wait for.
//
// Precondition: me does not hold the lock.
func (l *Lock) Acquire(me int, lazy bool, st *trace.ExitStats) {
	start := time.Now()
	got := start
	if !l.mu.TryLock() {
		if l.queues[me].StoresPending() {
			l.queues[me].Round()
		}
		l.mu.Lock()
		got = time.Now()
	}
	l.owner, l.lazy, l.st = me, true, st
	st.MMULocks++
	st.MMULockWait += got.Sub(start)
	if !lazy {
		l.Settle(Everything)
	}
}

// Settle makes sure, before the holder reads or writes the quadword at
// guest-physical address pa (or, for Everything, before it moves a
// reference or reads memory wholesale), that every store the frame table
// counts there is in memory: if another vCPU's queued stores may write pa,
// it waits for all of them, and the holder is no longer lazy.
//
// Precondition: the caller holds the lock.
func (l *Lock) Settle(pa uint64) {
	if !l.lazy {
		return
	}
	conflict := false
	for i, q := range l.queues {
		if i != l.owner && q.StoresPending() && (pa == Everything || q.MayStore(pa)) {
			conflict = true
			break
		}
	}
	if !conflict {
		l.lazy = pa != Everything
		return
	}
	start := time.Now()
	for i, q := range l.queues {
		for i != l.owner && q.StoresPending() && !l.stopping.Load() {
			runtime.Gosched()
		}
	}
	l.lazy = false
	l.st.MMUStoresWait += time.Since(start)
}

// Release releases the lock.
//
// Precondition: the caller holds the lock.
func (l *Lock) Release() {
	l.owner, l.lazy, l.st = -1, false, nil
	l.mu.Unlock()
}
