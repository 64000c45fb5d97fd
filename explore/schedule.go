// Package explore searches the schedules of a deterministic domain for
// violations, starting each from a snapshot: bounded depth-first search
// with a preemption bound, as CHESS does, and PCT, the probabilistic
// concurrency testing of Burckhardt et al. (ASPLOS 2010). It owns
// schedules and their string form, the two searches, the split of a
// search into shards and the merge of their results. What counts as a
// violation is the caller's (Target.Check).
package explore

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"

	"github.com/pvsim/pvsim/fingerprint"
	"github.com/pvsim/pvsim/hv"
	"github.com/pvsim/pvsim/sched"
)

// Decision is one place where a schedule departs from sched.DefaultNext: at
// scheduling point Step, vCPU VCPU runs.
type Decision struct {
	Step uint64
	VCPU int
}

// Schedule fixes a run of a domain with VCPUs vCPUs: its decisions, in
// step order. Without decisions it is sched.DefaultNext throughout.
type Schedule struct {
	VCPUs     int
	Decisions []Decision
}

// String is the schedule's text form: "cpus=N" and the decisions as
// "step:vcpu", joined by commas.
func (s Schedule) String() string {
	var b strings.Builder
	b.WriteString("cpus=")
	b.WriteString(strconv.Itoa(s.VCPUs))
	for _, d := range s.Decisions {
		b.WriteByte(',')
		b.WriteString(strconv.FormatUint(d.Step, 10))
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(d.VCPU))
	}
	return b.String()
}

// ParseSchedule reads a schedule's text form (Schedule.String).
func ParseSchedule(text string) (Schedule, error) {
	fields := strings.Split(strings.TrimSpace(text), ",")
	n, ok := strings.CutPrefix(fields[0], "cpus=")
	var s Schedule
	var err error
	if s.VCPUs, err = strconv.Atoi(n); !ok || err != nil || s.VCPUs < 1 || s.VCPUs > hv.MaxVCPUs {
		return Schedule{}, fmt.Errorf("schedule %q: want cpus=N (1 to %d) first, then step:vcpu decisions", text, hv.MaxVCPUs)
	}
	for _, f := range fields[1:] {
		step, vcpu, ok := strings.Cut(strings.TrimSpace(f), ":")
		if !ok {
			return Schedule{}, fmt.Errorf("schedule %q: decision %q is not step:vcpu", text, f)
		}
		st, err := strconv.ParseUint(step, 10, 64)
		if err != nil || st == 0 {
			return Schedule{}, fmt.Errorf("schedule %q: step %q is not a positive number", text, step)
		}
		v, err := strconv.Atoi(vcpu)
		if err != nil || v < 0 || v >= s.VCPUs {
			return Schedule{}, fmt.Errorf("schedule %q: vCPU %q is not 0 to %d", text, vcpu, s.VCPUs-1)
		}
		if k := len(s.Decisions); k > 0 && st <= s.Decisions[k-1].Step {
			return Schedule{}, fmt.Errorf("schedule %q: steps must increase (%d after %d)", text, st, s.Decisions[k-1].Step)
		}
		s.Decisions = append(s.Decisions, Decision{Step: st, VCPU: v})
	}
	return s, nil
}

// with returns s with one more decision.
func (s Schedule) with(d Decision) Schedule {
	return Schedule{VCPUs: s.VCPUs, Decisions: append(append([]Decision(nil), s.Decisions...), d)}
}

// Replay is the sched.Scheduler that follows a schedule. It records the
// points it passes when Record is set.
type Replay struct {
	Schedule Schedule
	Record   bool
	// Points are the points passed, with Record.
	Points []Point
	next   int
	// steps is the last step passed, and up the vCPUs runnable at any
	// point passed.
	steps uint64
	up    uint64
}

// Point is what the search keeps of one scheduling point.
type Point struct {
	Step     uint64
	VCPU     int
	Yield    bool
	Labelled bool
	Runnable uint64
	// Ran is the vCPU that ran after the point.
	Ran int
	// State names the domain's state at the point, when the domain keeps
	// fingerprints (sched.Point.State); zero otherwise.
	State fingerprint.Digest
}

func (r *Replay) Next(p *sched.Point) int {
	r.steps, r.up = p.Step, r.up|uint64(p.Runnable)
	v := sched.DefaultNext(p)
	if ds := r.Schedule.Decisions; r.next < len(ds) && ds[r.next].Step == p.Step {
		v = ds[r.next].VCPU
		r.next++
	}
	if r.Record {
		r.Points = append(r.Points, Point{Step: p.Step, VCPU: p.VCPU, Yield: p.Yield, Labelled: p.Label != "",
			Runnable: uint64(p.Runnable), Ran: v, State: p.State})
	}
	return v
}

// Unused reports the decisions the run ended before reaching.
func (r *Replay) Unused() []Decision { return r.Schedule.Decisions[r.next:] }

// Fit reports, once the run is over, whether the schedule fitted it: a
// *MisfitError if some decision never applied (the run ended before its
// step, or the decisions were not in increasing step order), or if the
// run brought up fewer vCPUs than the schedule is for; nil otherwise.
func (r *Replay) Fit() error {
	e := &MisfitError{Schedule: r.Schedule, Steps: r.steps, Unused: r.Unused(), Up: bits.OnesCount64(r.up)}
	if len(e.Unused) == 0 && (r.steps == 0 || e.Up >= r.Schedule.VCPUs) {
		return nil
	}
	return e
}

// MisfitError is a schedule that does not fit the run it was replayed on,
// as when it comes from another kernel or another command line.
type MisfitError struct {
	Schedule Schedule
	// Steps counts the scheduling points of the run.
	Steps uint64
	// Unused are the decisions that never applied.
	Unused []Decision
	// Up counts the vCPUs the run brought up.
	Up int
}

func (e *MisfitError) Error() string {
	if len(e.Unused) == 0 {
		return fmt.Sprintf("the schedule does not fit the run: it is for %d vCPUs, but the run brought up %d (in %d scheduling points)",
			e.Schedule.VCPUs, e.Up, e.Steps)
	}
	d := e.Unused[0]
	more := ""
	if n := len(e.Unused) - 1; n > 0 {
		more = fmt.Sprintf(" (nor did %d after it)", n)
	}
	why := fmt.Sprintf("the run had only %d scheduling points", e.Steps)
	if d.Step <= e.Steps {
		why = fmt.Sprintf("the decisions are not in increasing step order (the run had %d scheduling points)", e.Steps)
	}
	return fmt.Sprintf("the schedule does not fit the run: its decision %d:%d never applied%s: %s", d.Step, d.VCPU, more, why)
}

// Preemptions counts the decisions of s that took the CPU from a vCPU
// that could have run on, given the points of the run of s.
func Preemptions(s Schedule, points []Point) int {
	n, i := 0, 0
	ds := s.Decisions
	for _, p := range points {
		if i < len(ds) && ds[i].Step == p.Step {
			if !p.Yield && ds[i].VCPU != p.VCPU {
				n++
			}
			i++
		}
	}
	return n
}
