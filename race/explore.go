package race

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/pvsim/pvsim/explore"
	"github.com/pvsim/pvsim/guest"
	"github.com/pvsim/pvsim/hv"
	"github.com/pvsim/pvsim/xen"
)

// Exploration runs the race kernel deterministically, in the small
// configuration the kernel takes by default when the hypervisor is
// deterministic: two vCPUs, one fork and exit on vCPU 0 with the child
// written between, one reclaim pass over two pages on vCPU 1. The kernel
// takes its snapshot point on vCPU 0 before it brings vCPU 1 up, and marks
// a scheduling point on each vCPU as the race begins, where the search
// window opens.

// ExploreTimeout ends a schedule that runs longer: a hang.
const ExploreTimeout = 20 * time.Second

// ExploreCmdLine is the kernel command line that explores strategy: the
// one `pvsim run race --schedule S -- <cmdline>` replays a schedule with.
// pin-before-visible runs as compare runs it: short of memory as it
// forks, where Hugh Dickins' objection shows.
func ExploreCmdLine(strategy string) string {
	if strategy == "pin-before-visible" {
		return "strategy=" + strategy + " lowmem=1"
	}
	return "strategy=" + strategy
}

// ExploreTarget boots the race kernel for strategy to its snapshot point
// and returns the target a search explores. Close the snapshot after the
// search.
func ExploreTarget(ctx context.Context, strategy string, console io.Writer) (explore.Target, error) {
	return ExploreTargetArgs(ctx, strategy, nil, console)
}

// ExploreTargetArgs is ExploreTarget with more kernel arguments after
// ExploreCmdLine's (name=value words that size the model: iters=, pages=,
// passes=, live=).
func ExploreTargetArgs(ctx context.Context, strategy string, args []string, console io.Writer) (explore.Target, error) {
	if !slices.Contains(Strategies, strategy) {
		return explore.Target{}, fmt.Errorf("unknown strategy %q: one of %s", strategy, strings.Join(Strategies, ", "))
	}
	k, ok := guest.Lookup(KernelName)
	if !ok {
		return explore.Target{}, fmt.Errorf("no embedded kernel %q", KernelName)
	}
	snap, err := explore.BootSnapshot(ctx, hv.Config{
		Name: KernelName, Kernel: k.ELF, VCPUs: DefaultVCPUs, CmdLine: strings.Join(append([]string{ExploreCmdLine(strategy)}, args...), " "),
		Console: console, Timeout: ExploreTimeout,
	})
	if err != nil {
		return explore.Target{}, err
	}
	return explore.Target{Snapshot: snap, Check: CheckRun, Timeout: ExploreTimeout, Audit: true}, nil
}

// CheckRun judges one deterministic run of the race kernel: an oops, an
// audit failure, a hang, a hypervisor failure, or what the kernel's
// oracles counted.
func CheckRun(d *hv.Domain, res hv.Result, runErr error) (*explore.Violation, error) {
	if v, ok, err := explore.Ended(res, runErr); ok {
		return v, err
	}
	switch {
	case res.Reason == xen.ShutdownCrash && !isRaceOops(res.Oops):
		return &explore.Violation{Oracle: "crash", Detail: fmt.Sprintf("vCPU %d: %s", res.VCPU, crashText(res))}, nil
	case res.Reason == xen.ShutdownCrash:
		o := report(res)
		v := &explore.Violation{Oracle: "oops", Detail: fmt.Sprintf("%s on vCPU %d: %s", o.Where, o.VCPU, o.Fault)}
		if o.NotEmulated != "" {
			v.Detail += " (" + o.NotEmulated + ")"
		}
		rec := &Recording{Events: d.Trace(), Symbols: d.Symbols(), VCPU: res.VCPU, Oops: res.Oops}
		if in, err := Reconstruct(rec); err == nil {
			var b strings.Builder
			if in.Render(&b) == nil {
				v.Interleaving = b.String()
			}
		}
		return v, nil
	}
	s, err := readStats(d)
	if err != nil {
		return nil, err
	}
	// The kernel's oracles, worst first: the run is reported under the
	// worst that fired, and its detail names the others.
	var v *explore.Violation
	for _, d := range Defects {
		n := s[d.stat]
		switch {
		case d.stat == 0 || n == 0:
		case v == nil:
			v = &explore.Violation{Oracle: d.Oracle, Detail: fmt.Sprintf("%d %s", n, d.what)}
		default:
			v.Detail += fmt.Sprintf("%s%d %s", alsoFired(d.Oracle), n, d.what)
		}
	}
	if v == nil && s.forks() == 0 {
		return &explore.Violation{Oracle: "no_progress", Detail: "the kernel powered off without a fork"}, nil
	}
	return v, nil
}

// Oracles are the oracles of CheckRun that OnlyOracle can pick out: the
// race's oops, the other crashes, and the kernel's counters (Defects but
// the audit, which CheckRun reports whatever oracle is asked for).
var Oracles = func() []string {
	var o []string
	for _, d := range Defects {
		if d.Oracle != "audit" {
			o = append(o, d.Oracle)
		}
	}
	return o
}()

// OnlyOracle makes check report a run only when oracle fired in it, as its
// worst oracle or as one its detail names ("also oracle: ..."); failures
// of pvsim itself (audit, hang, fault) are reported whatever oracle is
// asked for. A search with it finds the schedules that show one defect,
// whatever worse one the strategy also has.
func OnlyOracle(check func(*hv.Domain, hv.Result, error) (*explore.Violation, error), oracle string) func(*hv.Domain, hv.Result, error) (*explore.Violation, error) {
	return func(d *hv.Domain, res hv.Result, runErr error) (*explore.Violation, error) {
		v, err := check(d, res, runErr)
		switch {
		case err != nil || v == nil:
			return v, err
		case v.Oracle == oracle, !slices.Contains(Oracles, v.Oracle):
			return v, nil
		}
		also, ok := firedIn(v, oracle)
		if !ok {
			return nil, nil
		}
		worst, _ := firedIn(v, v.Oracle)
		return &explore.Violation{Oracle: oracle, Detail: also + " (and " + v.Oracle + ": " + worst + ")"}, nil
	}
}

// alsoFired is how CheckRun's detail names another oracle that fired in
// the run than the worst, its Oracle.
func alsoFired(oracle string) string { return "; also " + oracle + ": " }

// firedIn reports whether oracle fired in v's run, as its worst oracle or
// one its detail names (alsoFired), and what it saw.
func firedIn(v *explore.Violation, oracle string) (detail string, ok bool) {
	if v.Oracle == oracle {
		detail, _, _ = strings.Cut(v.Detail, "; also ")
		return detail, true
	}
	_, detail, ok = strings.Cut(v.Detail, alsoFired(oracle))
	detail, _, _ = strings.Cut(detail, ";")
	return detail, ok
}
