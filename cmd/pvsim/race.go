package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/pvsim/pvsim/bench"
	"github.com/pvsim/pvsim/race"
)

func cmdRace(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("race", stdout)
	var cfg race.Config
	fs.StringVar(&cfg.Strategy, "strategy", "", "fix strategy: "+strings.Join(race.Strategies, ", "))
	fs.IntVar(&cfg.VCPUs, "vcpus", race.DefaultVCPUs, "vCPUs: vCPU 0 forks and exits, the others reclaim and write")
	fs.DurationVar(&cfg.Duration, "duration", 30*time.Second, "how long to run, rebooting after each oops")
	fs.Uint64Var(&cfg.Trials, "trials", 0, "run this many forks (each with its exit, or failed for memory) instead of for --duration")
	fs.DurationVar(&cfg.Window, "window", 0, "delay between the two phases of each pin and unpin (e.g. 50us)")
	fs.IntVar(&cfg.Pages, "pages", race.DefaultPages, "pages each child maps (1-64)")
	fs.BoolVar(&cfg.Pressure, "pressure", false, "memory pressure: reclaim unmaps and frees the pages it finds old")
	fs.BoolVar(&cfg.LowMem, "lowmem", false, "short of memory at each fork: the child's last tables come only from reclaiming the pages being copied")
	registerAudit(fs.FlagSet, &cfg.Audit, &cfg.AuditInterval)
	fs.BoolVar(&cfg.Marks, "marks", false, "have the kernel record trace marks (one exit each)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	console := fs.Bool("console", false, "copy the guest console to stderr")
	ptwrReps := fs.Int("ptwr-reps", 0, "after the race, time this many emulated writes to a pinned L1 (as 'pvsim bench ptwr') and report the young clear's ratio to them")
	if help, err := parseFlagsOnly(fs, args); help || err != nil {
		return err
	}
	if cfg.Strategy == "" {
		return usageError{"race needs --strategy, one of " + strings.Join(race.Strategies, ", ")}
	}
	if cfg.Trials > 0 {
		cfg.Duration = 0
	}
	if err := cfg.Check(); err != nil {
		return usageError{err.Error()}
	}
	if *console {
		cfg.Console = stderr
	}
	if isTerminal(stderr) {
		cfg.Progress = func(p race.Progress) {
			fmt.Fprintf(stderr, "\r%s: %5.0fs  %d forks  %d pin windows  %d oopses  ",
				cfg.Strategy, p.Elapsed.Seconds(), p.Trials, p.PinWindows, p.Oopses)
		}
	}
	res, err := race.Run(context.Background(), cfg)
	if cfg.Progress != nil {
		fmt.Fprintln(stderr)
	}
	if res == nil {
		return err
	}
	if *ptwrReps > 0 && res.YoungClears > 0 {
		pw, perr := bench.PTWrite(*ptwrReps)
		if perr != nil {
			return fmt.Errorf("--ptwr-reps: %w", perr)
		}
		res.PTWritePinnedUs, res.YoungClearRatio = pw.PinnedUs, res.YoungClearUs/pw.PinnedUs
	}
	if *asJSON {
		if jerr := writeJSON(stdout, res); jerr != nil {
			return jerr
		}
	} else {
		printRace(stdout, res)
	}
	return err
}

// registerAudit adds the audit flags of the commands that run the race.
func registerAudit(fs *flag.FlagSet, audit *bool, every *time.Duration) {
	fs.BoolVar(audit, "audit", true, "re-check the hypervisor's pagetable invariants after MMU operations")
	fs.DurationVar(every, "audit-every", 10*time.Millisecond, "with --audit, check at most this often (0: after every MMU operation)")
}

// parseFlagsOnly parses the flags of a command that takes no arguments;
// help reports that -h was asked for (and answered).
func parseFlagsOnly(fs *flagSet, args []string) (help bool, err error) {
	pos, rest, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if len(pos) != 0 || len(rest) != 0 {
		return false, usageError{fmt.Sprintf("%s takes flags only; see 'pvsim %s -h'", fs.Name(), fs.Name())}
	}
	return false, nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func printRace(w io.Writer, r *race.Result) {
	fmt.Fprintf(w, "strategy %s: %d vCPUs, %d pages per child, window %gµs, pressure %v, lowmem %v\n",
		r.Strategy, r.VCPUs, r.Pages, r.WindowUs, r.Pressure, r.LowMem)
	fmt.Fprintf(w, "%.1fs, %d boots, %d forks, %d pin windows\n", r.Seconds, r.Boots, r.Trials, r.PinWindows)
	fmt.Fprintf(w, "oopses             %d\n", r.Oopses)
	if r.Crashes > 0 {
		fmt.Fprintf(w, "other crashes      %d\n", r.Crashes)
		for _, c := range r.CrashReasons {
			fmt.Fprintf(w, "  %d× %s\n", c.Count, c.Why)
		}
	}
	fmt.Fprintf(w, "lost dirty         %d\n", r.LostDirty)
	fmt.Fprintf(w, "ineffective young  %d\n", r.IneffectiveYoung)
	fmt.Fprintf(w, "use after free     %d\n", r.UseAfterFree)
	fmt.Fprintf(w, "reclaim hidden     %d pages reclaim could not free: a pte out of the reverse map mapped them\n", r.ReclaimHidden)
	fmt.Fprintf(w, "forks failed       %d for memory (%d pages reclaimed by allocations)\n", r.ForkNoMem, r.DirectReclaimed)
	fmt.Fprintf(w, "audit violations   %d (%d audits)\n", r.AuditViolations, r.Audits)
	if r.FirstOopsS != nil {
		fmt.Fprintf(w, "first oops after   %.2fs\n", *r.FirstOopsS)
	}
	fmt.Fprintf(w, "young clear        %.2f µs, %.2f exits (%d clears)\n", r.YoungClearUs, r.ExitsPerYoung, r.YoungClears)
	if r.MMULocks > 0 {
		fmt.Fprintf(w, "MMU lock waits     %.2f µs for the lock, %.2f µs for vCPU 0's queued stores, per acquisition by the other vCPUs (%d)\n",
			r.MMULockWaitUs, r.QueuedStoreWaitUs, r.MMULocks)
	}
	if r.PTWritePinnedUs > 0 {
		fmt.Fprintf(w, "isolated ptwr      %.2f µs (pinned L1): the young clear costs %.2f times it\n", r.PTWritePinnedUs, r.YoungClearRatio)
	}
	fmt.Fprintf(w, "fork+exit          %.1f µs\n", r.ForkExitUs)
	if r.PinLockWaits > 0 || r.PendingWrites > 0 {
		fmt.Fprintf(w, "fix at work        %d waits on a pte lock a pin held, %d writes emulated to announced frames\n",
			r.PinLockWaits, r.PendingWrites)
	}
	if o := r.Oops; o != nil {
		where := o.Where
		if o.Source != "" {
			where += " (" + o.Source + ")"
		}
		fmt.Fprintf(w, "first oops: vCPU %d at %s: %s\n", o.VCPU, where, o.Fault)
		if o.NotEmulated != "" {
			fmt.Fprintf(w, "  ptwr %s\n", o.NotEmulated)
		}
	}
	if r.Audit != "" {
		fmt.Fprintf(w, "first audit failure: %s\n", r.Audit)
	}
}
