// Package trace is the exit trace of a domain: each vCPU's ring of its last
// exits (hypercalls, traps, guest marks and what became of them), written
// on the exit path without allocating or locking; the digest that tells
// two deterministic runs apart; and the conversion to a Chrome/Perfetto
// timeline. Analysis of a trace needs no VMM.
package trace

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/pvsim/pvsim/timeline"
	"github.com/pvsim/pvsim/x86"
	"github.com/pvsim/pvsim/xen"
)

// Kind is what caused an exit.
type Kind uint8

const (
	Hypercall Kind = iota + 1 // Nr is the hypercall number
	Trap                      // Nr is the exception vector
)

// Outcome is what the hypervisor made of an exit.
type Outcome uint8

const (
	OutcomeNone    Outcome = iota
	OutcomePTWrite         // a pagetable write emulated; Result is the new entry
	OutcomeBounce          // delivered to the guest; Result is its handler
	// OutcomePendingWrite: a write to a frame announced as becoming a
	// pagetable (pvsim extension) emulated; Result is the new entry.
	OutcomePendingWrite
	// OutcomeMark: a guest trace mark (pvsim_op trace_mark); Label is its
	// label and Result its number.
	OutcomeMark
)

// Event is one exit of one vCPU, or one entry of a multicall (Ring.Entry).
type Event struct {
	VCPU int
	Kind Kind
	Nr   uint16
	// Outcome of a trap, and its result.
	Outcome Outcome
	Result  uint64
	// Start and End are times since the domain started running, logical
	// ones in a deterministic domain; End is zero for an exit the domain
	// ended in.
	Start, End time.Duration
	// RIP is the guest's instruction pointer: the hypercall page stub, or
	// the faulting instruction.
	RIP uint64
	// Arg is the hypercall's first argument, or the trap's CR2.
	Arg uint64
	// Label is a trace mark's label, or a scheduling point's
	// (pvsim_op sched_point).
	Label string
}

// DefaultEvents is how many exits a ring keeps by default.
const DefaultEvents = 1 << 14

// Ring is one vCPU's trace: its last exits. Only the vCPU's thread writes
// it; read it once the vCPU has stopped.
type Ring struct {
	vcpu  int
	clock func() time.Duration
	ev    []Event
	n     uint64 // events recorded so far
	cur   *Event
}

// rings recycles trace rings of the default size between domains: a
// domain restored for each schedule of a search would otherwise allocate
// and clear a megabyte per vCPU. A ring's old events need no clearing:
// only those recorded since are read.
var rings sync.Pool

// Init readies the ring of vCPU vcpu to keep size events (0:
// DefaultEvents; negative: none, tracing off), stamped with clock, which
// is called only when an event is recorded.
func (t *Ring) Init(vcpu, size int, clock func() time.Duration) {
	t.vcpu, t.clock = vcpu, clock
	if size == 0 {
		size = DefaultEvents
	}
	if size == DefaultEvents {
		if ev, ok := rings.Get().(*[]Event); ok {
			t.ev = *ev
			return
		}
	}
	if size > 0 {
		t.ev = make([]Event, size)
	}
}

// Release hands the ring's memory back for another domain's.
func (t *Ring) Release() {
	if len(t.ev) == DefaultEvents {
		ev := t.ev
		rings.Put(&ev)
	}
	t.ev, t.cur = nil, nil
}

// Begin records the start of an exit.
func (t *Ring) Begin(kind Kind, nr uint16, rip, arg uint64) {
	if t.ev == nil {
		return
	}
	e := &t.ev[t.n%uint64(len(t.ev))]
	*e = Event{VCPU: t.vcpu, Kind: kind, Nr: nr, Start: t.clock(), RIP: rip, Arg: arg}
	t.cur = e
	t.n++
}

// Entry ends the current event, a multicall's, and begins one for its
// next entry, hypercall nr with first argument arg: Xen runs each entry
// as a hypercall of its own, and another vCPU's exits may fall between
// two of them.
func (t *Ring) Entry(nr uint16, arg uint64) {
	if t.cur == nil {
		return
	}
	rip := t.cur.RIP
	t.End()
	t.Begin(Hypercall, nr, rip, arg)
}

// Note records the outcome of the current exit.
func (t *Ring) Note(o Outcome, result uint64) {
	if t.cur != nil {
		t.cur.Outcome, t.cur.Result = o, result
	}
}

// Mark turns the current exit into a guest trace mark.
func (t *Ring) Mark(label string, arg uint64) {
	if t.cur != nil {
		t.cur.Outcome, t.cur.Result, t.cur.Label = OutcomeMark, arg, label
	}
}

// Label names the current exit with a label: a scheduling point's.
func (t *Ring) Label(label string) {
	if t.cur != nil {
		t.cur.Label = label
	}
}

// End records the end of the current exit.
func (t *Ring) End() {
	if t.cur != nil {
		t.cur.End = t.clock()
		t.cur = nil
	}
}

// Restore refills the ring with events, oldest first, the last of the n
// recorded so far.
func (t *Ring) Restore(events []Event, n uint64) {
	if t.ev == nil {
		return
	}
	size := uint64(len(t.ev))
	for i, e := range events {
		t.ev[(n-uint64(len(events))+uint64(i))%size] = e
	}
	t.n = n
}

// Len is the number of events recorded so far, including those the ring
// no longer holds.
func (t *Ring) Len() uint64 { return t.n }

// Events returns the ring's events, oldest first.
func (t *Ring) Events() []Event {
	if t.ev == nil {
		return nil
	}
	size := uint64(len(t.ev))
	if t.n <= size {
		return append([]Event(nil), t.ev[:t.n]...)
	}
	i := t.n % size
	return append(append([]Event(nil), t.ev[i:]...), t.ev[:i]...)
}

// Merge returns the events of rings, ordered by start time.
func Merge(rings ...*Ring) []Event {
	var all []Event
	for _, r := range rings {
		all = append(all, r.Events()...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Start < all[j].Start })
	return all
}

// Digest is a SHA-256 of events, field by field: two runs of a
// deterministic domain on one schedule give the same digest.
func Digest(events []Event) string {
	h := sha256.New()
	var b [8 * 9]byte
	for _, e := range events {
		for i, x := range []uint64{uint64(e.VCPU), uint64(e.Kind), uint64(e.Nr), uint64(e.Outcome), e.Result,
			uint64(e.Start), uint64(e.End), e.RIP, e.Arg} {
			binary.LittleEndian.PutUint64(b[8*i:], x)
		}
		h.Write(b[:])
		h.Write([]byte(e.Label))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Symbolizer names guest addresses (guestsym.Symbolizer does).
type Symbolizer interface {
	Format(addr uint64) string
}

// Timeline renders trace events as a Chrome/Perfetto timeline: one thread
// per vCPU of process pid, one span per exit, named after the hypercall or
// the exception and what became of it, with the guest RIP symbolized.
func Timeline(pid int, domain string, events []Event, syms Symbolizer) []timeline.Event {
	out := []timeline.Event{timeline.ProcessName(pid, domain)}
	seen := map[int]bool{}
	for _, e := range events {
		if !seen[e.VCPU] {
			seen[e.VCPU] = true
			out = append(out, timeline.ThreadName(pid, e.VCPU, fmt.Sprintf("vCPU %d", e.VCPU)))
		}
	}
	for _, e := range events {
		te := timeline.Event{Ph: timeline.Complete, PID: pid, TID: e.VCPU, TS: timeline.Micros(e.Start),
			Args: map[string]any{"rip": syms.Format(e.RIP)}}
		if e.End > e.Start {
			te.Dur = timeline.Micros(e.End - e.Start)
		}
		switch e.Kind {
		case Hypercall:
			te.Name, te.Cat = xen.HypercallName(int(e.Nr)), "hypercall"
			te.Args["arg0"] = fmt.Sprintf("%#x", e.Arg)
			if e.Outcome == OutcomeMark {
				te.Name, te.Cat = e.Label, "mark"
				te.Args = map[string]any{"rip": syms.Format(e.RIP), "arg": fmt.Sprintf("%#x", e.Result)}
			}
		case Trap:
			te.Name, te.Cat = "#"+x86.Vector(e.Nr).Mnemonic(), "trap"
			te.Args["cr2"] = fmt.Sprintf("%#x", e.Arg)
			switch e.Outcome {
			case OutcomePTWrite:
				te.Name += " ptwr"
				te.Args["new_pte"] = fmt.Sprintf("%#x", e.Result)
			case OutcomePendingWrite:
				te.Name += " ptwr pending"
				te.Args["new_pte"] = fmt.Sprintf("%#x", e.Result)
			case OutcomeBounce:
				te.Name += " bounced"
				te.Args["handler"] = syms.Format(e.Result)
			}
		default:
			continue
		}
		out = append(out, te)
	}
	return out
}
