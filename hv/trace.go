package hv

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/pvsim/pvsim/timeline"
	"github.com/pvsim/pvsim/xen"
)

// Each vCPU keeps its last exits in a ring of TraceEvents, written on the
// exit path without allocating or locking: cheap enough to leave on.
// Domain.Trace collects them once the domain has stopped.

// TraceKind is what caused an exit.
type TraceKind uint8

const (
	TraceHypercall TraceKind = iota + 1 // Nr is the hypercall number
	TraceTrap                           // Nr is the exception vector
)

// TraceOutcome is what the hypervisor made of a trap.
type TraceOutcome uint8

const (
	OutcomeNone    TraceOutcome = iota
	OutcomePTWrite              // a pagetable write emulated; Result is the new entry
	OutcomeBounce               // delivered to the guest; Result is its handler
	// OutcomePendingWrite: a write to a frame announced as becoming a
	// pagetable (pvsim extension) emulated; Result is the new entry.
	OutcomePendingWrite
	// OutcomeMark: a guest trace mark (pvsim_op trace_mark); Label is its
	// label and Result its number.
	OutcomeMark
)

// TraceEvent is one exit of one vCPU.
type TraceEvent struct {
	VCPU int
	Kind TraceKind
	Nr   uint16
	// Outcome of a trap, and its result.
	Outcome TraceOutcome
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
	// Label is a trace mark's label.
	Label string
}

// DefaultTraceEvents is how many exits each vCPU's trace ring keeps.
const DefaultTraceEvents = 1 << 14

type traceRing struct {
	d    *Domain
	vcpu int
	ev   []TraceEvent
	n    uint64 // events recorded so far
	cur  *TraceEvent
}

// rings recycles trace rings of the default size between domains: a
// domain restored for each schedule of a search would otherwise allocate
// and clear a megabyte per vCPU. A ring's old events need no clearing:
// only those recorded since are read.
var rings sync.Pool

func (t *traceRing) init(d *Domain, vcpu, size int) {
	t.d, t.vcpu = d, vcpu
	if size == 0 {
		size = DefaultTraceEvents
	}
	if size == DefaultTraceEvents {
		if ev, ok := rings.Get().(*[]TraceEvent); ok {
			t.ev = *ev
			return
		}
	}
	if size > 0 {
		t.ev = make([]TraceEvent, size)
	}
}

// release hands the ring back for another domain.
func (t *traceRing) release() {
	if len(t.ev) == DefaultTraceEvents {
		ev := t.ev
		rings.Put(&ev)
	}
	t.ev, t.cur = nil, nil
}

// begin records the start of an exit.
func (t *traceRing) begin(kind TraceKind, nr uint16, rip, arg uint64) {
	if t.ev == nil {
		return
	}
	e := &t.ev[t.n%uint64(len(t.ev))]
	*e = TraceEvent{VCPU: t.vcpu, Kind: kind, Nr: nr, Start: t.d.now(), RIP: rip, Arg: arg}
	t.cur = e
	t.n++
}

// note records the outcome of the current exit.
func (t *traceRing) note(o TraceOutcome, result uint64) {
	if t.cur != nil {
		t.cur.Outcome, t.cur.Result = o, result
	}
}

// mark turns the current exit into a guest trace mark.
func (t *traceRing) mark(label string, arg uint64) {
	if t.cur != nil {
		t.cur.Outcome, t.cur.Result, t.cur.Label = OutcomeMark, arg, label
	}
}

// end records the end of the current exit.
func (t *traceRing) end() {
	if t.cur != nil {
		t.cur.End = t.d.now()
		t.cur = nil
	}
}

// restore refills the ring with events, oldest first, of the n recorded
// so far.
func (t *traceRing) restore(events []TraceEvent, n uint64) {
	if t.ev == nil {
		return
	}
	size := uint64(len(t.ev))
	for i, e := range events {
		t.ev[(n-uint64(len(events))+uint64(i))%size] = e
	}
	t.n = n
}

// events returns the ring's events, oldest first.
func (t *traceRing) events() []TraceEvent {
	if t.ev == nil {
		return nil
	}
	size := uint64(len(t.ev))
	if t.n <= size {
		return append([]TraceEvent(nil), t.ev[:t.n]...)
	}
	i := t.n % size
	return append(append([]TraceEvent(nil), t.ev[i:]...), t.ev[:i]...)
}

// Trace returns the exits the vCPUs' trace rings still hold, ordered by
// start time. Call it after Run has returned.
func (d *Domain) Trace() []TraceEvent {
	var all []TraceEvent
	for _, v := range d.vcpus {
		all = append(all, v.trace.events()...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Start < all[j].Start })
	return all
}

// TraceDigest is a SHA-256 of events, field by field: two runs of a
// deterministic domain on one schedule give the same digest.
func TraceDigest(events []TraceEvent) string {
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

// Symbols returns the symbolizer of the domain's kernel.
func (d *Domain) Symbols() *Symbolizer { return d.syms }

// Timeline renders trace events as a Chrome/Perfetto timeline: one thread
// per vCPU of process pid, one span per exit, named after the hypercall or
// the exception and what became of it, with the guest RIP symbolized.
func Timeline(pid int, domain string, events []TraceEvent, syms *Symbolizer) []timeline.Event {
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
		case TraceHypercall:
			te.Name, te.Cat = xen.HypercallName(int(e.Nr)), "hypercall"
			te.Args["arg0"] = fmt.Sprintf("%#x", e.Arg)
			if e.Outcome == OutcomeMark {
				te.Name, te.Cat = e.Label, "mark"
				te.Args = map[string]any{"rip": syms.Format(e.RIP), "arg": fmt.Sprintf("%#x", e.Result)}
			}
		case TraceTrap:
			te.Name, te.Cat = "#"+vectorMnemonic(int(e.Nr)), "trap"
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
