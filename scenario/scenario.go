// Package scenario is the protocol a guest kernel follows so that `pvsim
// explore KERNEL` can search its schedules, and the judge of each run.
//
// A scenario kernel is a race written down as a small kernel, with
// Linux's names:
//
//   - It runs on two or more vCPUs under pvsim's deterministic scheduler
//     (the pvsim_deterministic feature bit tells it so), sets up what the
//     race needs on vCPU 0, and takes pvsim_op snapshot_point there with
//     only vCPU 0 up: every schedule starts from that snapshot.
//   - It marks the points where the interleaving matters with pvsim_op
//     sched_point and a label (the function the thread's diagram names);
//     every hypercall and exception is a scheduling point too.
//   - It counts what goes wrong in a global `struct scenario_oracles
//     scenario_oracles` whose members are unsigned longs: `magic`, set to
//     Magic as the kernel starts; `completed`, the operations the
//     scenario finished (a run that finishes none shows no progress); and
//     one member per oracle, whose name is the oracle's, non-zero when it
//     fired. The members are read by name from the kernel's DWARF, so the
//     kernel's source is the only place their offsets live.
//   - It powers off when the scenario is done. A crash, a fault, a hang or
//     a failure of the pagetable audit is a violation of its own.
//
// Kernel arguments (name=value words on its command line) choose the
// variant (`variant=`, the buggy code or its fix) and the model's size.
package scenario

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/pvsim/pvsim/explore"
	"github.com/pvsim/pvsim/guestsym"
	"github.com/pvsim/pvsim/hv"
	"github.com/pvsim/pvsim/trace"
	"github.com/pvsim/pvsim/xen"
)

const (
	// Symbol is the global a scenario kernel counts its oracles in, and
	// Struct its type.
	Symbol = "scenario_oracles"
	Struct = "scenario_oracles"
	// Magic is what the kernel sets scenario_oracles.magic to as it
	// starts ("scenario" in ASCII).
	Magic = 0x6f6972616e656373
	// Timeout ends a schedule that runs longer: a hang.
	Timeout = 20 * time.Second
	// DefaultVCPUs is a scenario's vCPU count: the two columns of the
	// diagram.
	DefaultVCPUs = 2
)

// The members of struct scenario_oracles that are not oracles.
const (
	memberMagic     = "magic"
	memberCompleted = "completed"
)

// Kernel is a scenario kernel to explore.
type Kernel struct {
	Name  string
	Image []byte
	// Args are its name=value arguments.
	Args  []string
	VCPUs int
}

// CmdLine is the kernel's command line: its arguments, as `pvsim run
// KERNEL --schedule S -- <cmdline>` replays a schedule with.
func (k Kernel) CmdLine() string { return strings.Join(k.Args, " ") }

// Target boots k to its snapshot point and returns the target a search
// explores. Close the snapshot after the search.
func Target(ctx context.Context, k Kernel, console io.Writer) (explore.Target, error) {
	if k.VCPUs == 0 {
		k.VCPUs = DefaultVCPUs
	}
	for _, a := range k.Args {
		if name, _, ok := strings.Cut(a, "="); !ok || name == "" {
			return explore.Target{}, fmt.Errorf("kernel argument %q: want name=value", a)
		}
	}
	syms := guestsym.New(k.Image, nil)
	l, err := syms.Struct(Struct)
	if err != nil {
		return explore.Target{}, fmt.Errorf("%s follows no scenario protocol: %w (it needs a global struct %s %s; see 'pvsim explore -h')", k.Name, err, Struct, Symbol)
	}
	if _, err := oracles(l); err != nil {
		return explore.Target{}, fmt.Errorf("%s: %w", k.Name, err)
	}
	snap, err := explore.BootSnapshot(ctx, hv.Config{
		Name: k.Name, Kernel: k.Image, VCPUs: k.VCPUs, CmdLine: k.CmdLine(), Console: console, Timeout: Timeout,
	})
	if err != nil {
		return explore.Target{}, err
	}
	return explore.Target{Snapshot: snap, Check: CheckRun, Timeout: Timeout, Audit: true}, nil
}

// oracle is one oracle member of struct scenario_oracles.
type oracle struct {
	name   string
	offset int64
}

// oracles lists l's oracle members in declaration order, checking the
// protocol's members.
func oracles(l *guestsym.StructLayout) ([]oracle, error) {
	var o []oracle
	for _, name := range []string{memberMagic, memberCompleted} {
		m, ok := l.Members[name]
		if !ok || m.Size != 8 {
			return nil, fmt.Errorf("struct %s has no unsigned long %s", Struct, name)
		}
	}
	for name, m := range l.Members {
		if name == memberMagic || name == memberCompleted {
			continue
		}
		if m.Size != 8 {
			return nil, fmt.Errorf("struct %s: oracle %s is %d bytes, not an unsigned long", Struct, name, m.Size)
		}
		o = append(o, oracle{name, m.Offset})
	}
	if len(o) == 0 {
		return nil, fmt.Errorf("struct %s has no oracle", Struct)
	}
	sort.Slice(o, func(i, j int) bool { return o[i].offset < o[j].offset })
	return o, nil
}

// Oracles names the oracles of image's scenario protocol, in declaration
// order.
func Oracles(image []byte) ([]string, error) {
	l, err := guestsym.New(image, nil).Struct(Struct)
	if err != nil {
		return nil, err
	}
	o, err := oracles(l)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(o))
	for i, x := range o {
		names[i] = x.name
	}
	return names, nil
}

// CheckRun judges one deterministic run of a scenario kernel: a crash, an
// audit failure, a hang, a fault, no progress, or the oracles the kernel
// counted, the first in declaration order reported and the others named
// in its detail.
func CheckRun(d *hv.Domain, res hv.Result, runErr error) (*explore.Violation, error) {
	if v, ok, err := explore.Ended(res, runErr); ok {
		return v, err
	}
	if res.Reason == xen.ShutdownCrash {
		detail := fmt.Sprintf("vCPU %d crashed", res.VCPU)
		if res.Oops != nil && res.Oops.Text != "" {
			first, _, _ := strings.Cut(res.Oops.Text, "\n")
			detail += ": " + first
		}
		return &explore.Violation{Oracle: "crash", Detail: detail}, nil
	}
	counts, completed, err := Read(d)
	if err != nil {
		return nil, err
	}
	var v *explore.Violation
	for _, c := range counts {
		switch {
		case c.N == 0:
		case v == nil:
			v = &explore.Violation{Oracle: c.Oracle, Detail: fmt.Sprintf("counted %d", c.N)}
		default:
			v.Detail += fmt.Sprintf("; also %s: %d", c.Oracle, c.N)
		}
	}
	if v == nil && completed == 0 {
		return &explore.Violation{Oracle: "no_progress", Detail: "the kernel powered off having completed nothing"}, nil
	}
	if v != nil {
		var b strings.Builder
		Interleaving(&b, d.Trace(), v.Oracle)
		v.Interleaving = b.String()
	}
	return v, nil
}

// column is the width of a column of Interleaving.
const column = 40

// Interleaving draws a run as the mailing list draws a race: one column
// per vCPU, and down them, in the order they were reached, the scheduling
// points the kernel labelled (the functions of the thread's diagram; the
// points labelled "begin", where each vCPU starts, are left out), ending
// with what fired.
func Interleaving(w io.Writer, events []trace.Event, fired string) {
	vcpus := 0
	for _, e := range events {
		vcpus = max(vcpus, e.VCPU+1)
	}
	var head strings.Builder
	for i := range vcpus {
		fmt.Fprintf(&head, "%-*s", column, fmt.Sprintf("CPU %d", i))
	}
	fmt.Fprintln(w, strings.TrimRight(head.String(), " "))
	for _, e := range events {
		if e.Kind != trace.Hypercall || int(e.Nr) != xen.HypercallPVSimOp || e.Label == "" || e.Outcome == trace.OutcomeMark || e.Label == "begin" {
			continue
		}
		fmt.Fprintf(w, "%s%s\n", strings.Repeat(" ", column*e.VCPU), e.Label)
	}
	fmt.Fprintf(w, "-> %s\n", fired)
}

// Count is one oracle's count at the end of a run.
type Count struct {
	Oracle string
	N      uint64
}

// Read reads a finished domain's struct scenario_oracles: each oracle's
// count in declaration order, and the operations completed.
func Read(d *hv.Domain) ([]Count, uint64, error) {
	l, err := d.Symbols().Struct(Struct)
	if err != nil {
		return nil, 0, err
	}
	o, err := oracles(l)
	if err != nil {
		return nil, 0, err
	}
	b := make([]byte, l.Size)
	if err := d.ReadSymbol(Symbol, b); err != nil {
		return nil, 0, err
	}
	word := func(off int64) uint64 {
		var w uint64
		for i := 7; i >= 0; i-- {
			w = w<<8 | uint64(b[off+int64(i)])
		}
		return w
	}
	if word(l.Members[memberMagic].Offset) != Magic {
		return nil, 0, fmt.Errorf("the scenario kernel did not start (%s.magic is not set)", Symbol)
	}
	counts := make([]Count, len(o))
	for i, x := range o {
		counts[i] = Count{x.name, word(x.offset)}
	}
	return counts, word(l.Members[memberCompleted].Offset), nil
}

// OnlyOracle makes check report a run only when oracle fired in it, as
// its first oracle or one its detail names ("also oracle: ..."); runs
// that crash, hang, fault or fail the audit are reported whatever oracle
// is asked for.
func OnlyOracle(check func(*hv.Domain, hv.Result, error) (*explore.Violation, error), oracle string, counters []string) func(*hv.Domain, hv.Result, error) (*explore.Violation, error) {
	return func(d *hv.Domain, res hv.Result, runErr error) (*explore.Violation, error) {
		v, err := check(d, res, runErr)
		switch {
		case err != nil || v == nil:
			return v, err
		case v.Oracle == oracle:
			return v, nil
		}
		isCounter := false
		for _, c := range counters {
			isCounter = isCounter || c == v.Oracle
		}
		if !isCounter {
			return v, nil
		}
		_, also, ok := strings.Cut(v.Detail, "; also "+oracle+": ")
		if !ok {
			return nil, nil
		}
		n, _, _ := strings.Cut(also, ";")
		return &explore.Violation{Oracle: oracle, Detail: oracle + ": " + n + " (and " + v.Oracle + ")"}, nil
	}
}
