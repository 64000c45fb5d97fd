// Package tlb is the protocol of remote TLB flushes between the vCPUs of a
// domain, as Xen's flush_tlb_mask: a requester asks each target vCPU for a
// flush and waits until each has flushed in its own context. Xen's flush
// semantics are kept even where shadow paging hides stale-TLB effects.
//
// A Flusher is one vCPU's side. Requests are generations: the requester
// bumps the target's, kicks it, and waits until the target has served that
// generation. A waiter sleeps, leaving the host CPU to the vCPUs it waits
// for, and wakes when one of them has flushed or when another vCPU asks it
// for a flush, which it then serves, so that two vCPUs flushing each other
// do not deadlock.
package tlb

import (
	"sync/atomic"
	"time"
)

// Rekick is how often a waiter kicks a target that has not flushed yet: a
// target kicked while it could not flush (at CPL0 in a stub, or with an
// injection pending) needs another kick later.
const Rekick = 200 * time.Microsecond

// Flusher is one vCPU's side of remote flushes. Every vCPU's thread may
// call its methods.
type Flusher struct {
	gen, done atomic.Uint64
	waiting   atomic.Bool
	wake      chan struct{}
	timer     *time.Timer
}

// NewFlusher makes a Flusher with nothing requested.
func NewFlusher() *Flusher {
	f := &Flusher{wake: make(chan struct{}, 1), timer: time.NewTimer(time.Hour)}
	f.timer.Stop()
	return f
}

// Request asks f for a flush and returns the generation that answers it.
func (f *Flusher) Request() uint64 { return f.gen.Add(1) }

// Pending returns the newest generation requested of f, and whether f has
// yet to serve it.
func (f *Flusher) Pending() (gen uint64, ok bool) {
	gen = f.gen.Load()
	return gen, gen != f.done.Load()
}

// Served records that f flushed for every request up to gen.
func (f *Flusher) Served(gen uint64) { f.done.Store(gen) }

// Wake wakes f if it waits.
func (f *Flusher) Wake() {
	if f.waiting.Load() {
		select {
		case f.wake <- struct{}{}:
		default:
		}
	}
}

// State is what a snapshot keeps of f: the generations requested and
// served.
func (f *Flusher) State() (gen, done uint64) { return f.gen.Load(), f.done.Load() }

// Wait blocks the vCPU of f until every targets[i] with want[i] != 0 has
// served generation want[i], or stop is closed. kick(i) makes targets[i]
// leave the guest to flush; serve serves f's own pending request if it
// can now and reports whether it did.
//
// Precondition: the caller holds nothing another vCPU needs in order to
// flush (no lock, no queued write another vCPU waits for).
func (f *Flusher) Wait(targets []*Flusher, want []uint64, kick func(i int), serve func() bool, stop <-chan struct{}) {
	f.waiting.Store(true)
	defer f.waiting.Store(false)
	for {
		pending := false
		for i, t := range targets {
			if want[i] != 0 && t.done.Load() < want[i] {
				pending = true
			}
		}
		if !pending {
			return
		}
		select {
		case <-stop:
			return
		default:
		}
		if _, ok := f.Pending(); ok && serve() {
			continue
		}
		f.timer.Reset(Rekick)
		select {
		case <-f.wake:
		case <-f.timer.C:
			for i, t := range targets {
				if want[i] != 0 && t.done.Load() < want[i] {
					kick(i)
				}
			}
		case <-stop:
			return
		}
	}
}
