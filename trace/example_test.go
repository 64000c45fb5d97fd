package trace_test

import (
	"fmt"
	"time"

	"github.com/pvsim/pvsim/timeline"
	"github.com/pvsim/pvsim/trace"
	"github.com/pvsim/pvsim/x86"
	"github.com/pvsim/pvsim/xen"
)

// ExampleDigest digests two hand-made traces: equal events give equal
// digests, and a change to any one field of any one event changes it.
func ExampleDigest() {
	run := []trace.Event{
		{VCPU: 0, Kind: trace.Hypercall, Nr: xen.HypercallMMUUpdate, Start: 1, End: 2, RIP: 0x1020, Arg: 0x8000},
		{VCPU: 1, Kind: trace.Trap, Nr: uint16(x86.VectorPF), Outcome: trace.OutcomePTWrite, Result: 0x5023,
			Start: 3, End: 4, RIP: 0x400123, Arg: 0x7000},
	}
	replay := append([]trace.Event(nil), run...)
	other := append([]trace.Event(nil), run...)
	other[1].Result |= 0x40 // the emulated write set the dirty bit

	a, b, c := trace.Digest(run), trace.Digest(replay), trace.Digest(other)
	fmt.Println(len(a), "hex digits:", a[:16]+"...")
	fmt.Println("replay matches:", a == b)
	fmt.Println("changed result matches:", a == c)
	fmt.Println("empty trace:", trace.Digest(nil)[:16])
	// Output:
	// 64 hex digits: 3bba39009e9040de...
	// replay matches: true
	// changed result matches: false
	// empty trace: e3b0c44298fc1c14
}

// names is a tiny trace.Symbolizer: it names the addresses it knows and
// prints the others in hex. A nil *names names nothing, so it is safe to
// pass when no symbols were loaded.
type names map[uint64]string

// Format implements trace.Symbolizer.
func (n *names) Format(addr uint64) string {
	if n != nil {
		if s, ok := (*n)[addr]; ok {
			return s
		}
	}
	return fmt.Sprintf("%#x", addr)
}

// ExampleTimeline turns two exits of two vCPUs into Chrome/Perfetto
// timeline events: a process name, a thread name per vCPU, and a span per
// exit, with the guest's RIP symbolized.
func ExampleTimeline() {
	events := []trace.Event{
		{VCPU: 0, Kind: trace.Hypercall, Nr: xen.HypercallMMUUpdate, Start: 1 * time.Microsecond,
			End: 3 * time.Microsecond, RIP: 0x1020, Arg: 0x8000},
		{VCPU: 1, Kind: trace.Trap, Nr: uint16(x86.VectorPF), Outcome: trace.OutcomePTWrite, Result: 0x5063,
			Start: 2 * time.Microsecond, End: 6 * time.Microsecond, RIP: 0x400123, Arg: 0x7000},
	}
	syms := &names{0x400123: "set_pte+0x13"}
	for _, te := range trace.Timeline(1, "hello", events, syms) {
		if te.Ph == timeline.Metadata {
			fmt.Println(te.Ph, te.TID, te.Name, te.Args["name"])
			continue
		}
		fmt.Printf("%s %d %s ts=%gus dur=%gus rip=%v\n", te.Ph, te.TID, te.Name, te.TS, te.Dur, te.Args["rip"])
	}

	// Without symbols, addresses stay in hex.
	var none *names
	fmt.Println(trace.Timeline(1, "hello", events[1:], none)[2].Args["rip"])
	// Output:
	// M 0 process_name hello
	// M 0 thread_name vCPU 0
	// M 1 thread_name vCPU 1
	// X 0 mmu_update ts=1us dur=2us rip=0x1020
	// X 1 #PF ptwr ts=2us dur=4us rip=set_pte+0x13
	// 0x400123
}
