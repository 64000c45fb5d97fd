package race

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/pvsim/pvsim/explore"
	"github.com/pvsim/pvsim/guest"
	"github.com/pvsim/pvsim/hv"
	"github.com/pvsim/pvsim/sched"
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
// pin-before-visible only goes wrong when reclaim frees pages.
func ExploreCmdLine(strategy string) string {
	if strategy == "pin-before-visible" {
		return "strategy=" + strategy + " pressure=1"
	}
	return "strategy=" + strategy
}

// ExploreTarget boots the race kernel for strategy to its snapshot point
// and returns the target a search explores. Close the snapshot after the
// search.
func ExploreTarget(ctx context.Context, strategy string, console io.Writer) (explore.Target, error) {
	if !slices.Contains(Strategies, strategy) {
		return explore.Target{}, fmt.Errorf("unknown strategy %q: one of %s", strategy, strings.Join(Strategies, ", "))
	}
	k, ok := guest.Lookup(KernelName)
	if !ok {
		return explore.Target{}, fmt.Errorf("no embedded kernel %q", KernelName)
	}
	d, err := hv.New(hv.Config{
		Name: KernelName, Kernel: k.ELF, VCPUs: DefaultVCPUs, CmdLine: ExploreCmdLine(strategy),
		Console: console, Timeout: ExploreTimeout, Scheduler: sched.Default{}, Snapshot: true,
	})
	if err != nil {
		return explore.Target{}, err
	}
	defer d.Close()
	res, err := d.Run(ctx)
	if err != nil {
		return explore.Target{}, fmt.Errorf("booting the race kernel to its snapshot point: %w", err)
	}
	if res.Snapshot == nil {
		return explore.Target{}, fmt.Errorf("the race kernel ended (%v) without reaching its snapshot point", res.Reason)
	}
	return explore.Target{Snapshot: res.Snapshot, Check: CheckRun, Timeout: ExploreTimeout, Audit: true}, nil
}

// CheckRun judges one deterministic run of the race kernel: an oops, an
// audit failure, a hang, a hypervisor failure, or what the kernel's
// oracles counted.
func CheckRun(d *hv.Domain, res hv.Result, runErr error) (*explore.Violation, error) {
	var ge *hv.GuestError
	switch {
	case runErr == nil && res.Reason == xen.ShutdownCrash:
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
	case runErr == nil && res.Reason == xen.ShutdownPoweroff:
	case runErr == nil:
		return &explore.Violation{Oracle: "shutdown", Detail: fmt.Sprintf("the kernel shut down with reason %v", res.Reason)}, nil
	case errors.As(runErr, &ge) && ge.Kind == hv.AuditFailure:
		return &explore.Violation{Oracle: "audit", Detail: ge.Error()}, nil
	case errors.As(runErr, &ge) && ge.Kind == hv.Timeout:
		return &explore.Violation{Oracle: "hang", Detail: ge.Error()}, nil
	case errors.As(runErr, &ge):
		return &explore.Violation{Oracle: "fault", Detail: ge.Error()}, nil
	default:
		return nil, runErr
	}
	s, err := readStats(d)
	if err != nil {
		return nil, err
	}
	switch {
	case s[statLostDirty] > 0:
		return &explore.Violation{Oracle: "lost_dirty", Detail: fmt.Sprintf("%d Dirty bits lost", s[statLostDirty])}, nil
	case s[statUseAfterFree] > 0:
		return &explore.Violation{Oracle: "use_after_free", Detail: fmt.Sprintf("%d freed pages still mapped", s[statUseAfterFree])}, nil
	case s[statForks] == 0:
		return &explore.Violation{Oracle: "no_progress", Detail: "the kernel powered off without a fork and exit"}, nil
	}
	return nil, nil
}
