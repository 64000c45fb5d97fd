package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/pvsim/pvsim/explore"
	"github.com/pvsim/pvsim/race"
	"github.com/pvsim/pvsim/scenario"
)

// parseExploreArgs parses explore's command line: flags, at most one
// KERNEL, and after "--" the kernel's name=value arguments, which flags
// may follow (pvsim explore race -- iters=2 pages=4 --algo pct).
func parseExploreArgs(fs *flagSet, args []string) (pos, kargs []string, err error) {
	pos, rest, err := parseInterleaved(fs, args)
	if err != nil {
		return nil, nil, err
	}
	for i, a := range rest {
		if strings.HasPrefix(a, "-") {
			more, extra, err := parseInterleaved(fs, rest[i:])
			if err != nil {
				return nil, nil, err
			}
			if len(more) > 0 || len(extra) > 0 {
				return nil, nil, usageError{fmt.Sprintf("explore: %q: kernel arguments are name=value words, and only flags may follow them", strings.Join(rest[i:], " "))}
			}
			break
		}
		if !strings.Contains(a, "=") {
			return nil, nil, usageError{fmt.Sprintf("explore: kernel argument %q: want name=value", a)}
		}
		kargs = append(kargs, a)
	}
	return pos, kargs, nil
}

func cmdExplore(args []string, stdout, stderr io.Writer) (int, error) {
	if len(args) > 0 && args[0] == "merge" {
		return cmdExploreMerge(args[1:], stdout, stderr)
	}
	fs := newFlagSet("explore", stdout)
	var cfg explore.Config
	strategy := fs.String("strategy", "", "the race kernel's fix strategy: "+strings.Join(race.Strategies, ", ")+" (default none: the code as Linux 2.6.23 had it)")
	algo := fs.String("algo", "dfs", "dfs: every schedule within the preemption bound; pct: random priorities with depth-1 change points")
	fs.IntVar(&cfg.Bound, "bound", 3, "dfs: at most this many preemptions per schedule")
	oracle := fs.String("oracle", "", "report only runs where this oracle fired: "+strings.Join(race.Oracles, ", ")+" (default: any, each run under its worst)")
	fs.IntVar(&cfg.Depth, "depth", 0, fmt.Sprintf("pct: the bug depth d (default %d); dfs: take decisions only at the first D points of the window (0: all)", explore.DefaultPCTDepth))
	fs.IntVar(&cfg.Budget, "budget", 0, "stop after this many schedules (pct: default 1000; for pct, of all shards together)")
	fs.DurationVar(&cfg.Duration, "duration", 0, "stop after this long (0: no limit)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "pct: the seed; schedule j draws from (seed, j) alone")
	fs.IntVar(&cfg.Workers, "workers", 1, "run schedules in this many VMs at once")
	shard := fs.String("shard", "0/1", "run shard `i/N` of the search (0 <= i < N); join the results with 'pvsim explore merge'")
	fs.BoolVar(&cfg.All, "all", false, "keep searching after the first violation")
	fs.BoolVar(&cfg.Prune, "prune", true, "dfs: name the domain's state at each scheduling point and skip the subtree of a state already searched with as many preemptions left (--prune=false runs every schedule)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	console := fs.Bool("console", false, "copy the guest console of the boot to the snapshot point to stderr")
	all := fs.Bool("all-strategies", false, "search every strategy for each of its defects: the smallest bound, the schedules DFS ran to find it, and how many of 10 PCT seeds find it within --budget (default 1000); for the fixes, the bound exhausted")
	vcpus := fs.Int("vcpus", scenario.DefaultVCPUs, "a scenario kernel's vCPUs (the race kernel's are fixed)")
	pos, kargs, err := parseExploreArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK, nil
	}
	if err != nil {
		return 0, err
	}
	if *all {
		return exploreAll(cfg, *asJSON, stdout, stderr)
	}
	kernel := race.KernelName
	switch len(pos) {
	case 0:
	case 1:
		kernel = pos[0]
	default:
		return 0, usageError{"explore takes one KERNEL; kernel arguments go after \"--\""}
	}
	cfg.Algo = explore.Algo(*algo)
	if cfg.Shard, err = explore.ParseShard(*shard); err != nil {
		return 0, usageError{err.Error()}
	}
	if cfg.Algo == explore.PCT && cfg.Budget == 0 && cfg.Duration == 0 {
		cfg.Budget = 1000
	}
	if err := cfg.Check(); err != nil {
		return 0, usageError{err.Error()}
	}
	var con io.Writer
	if *console {
		con = stderr
	}
	ctx := context.Background()
	var t explore.Target
	var target string
	if kernel == race.KernelName {
		// The race kernel: --strategy, or strategy= among its arguments.
		var rest []string
		for _, a := range kargs {
			if v, ok := strings.CutPrefix(a, "strategy="); ok && *strategy == "" {
				*strategy = v
			} else {
				rest = append(rest, a)
			}
		}
		if *strategy == "" {
			// The code as Linux 2.6.23 and Xen shipped it.
			*strategy = "none"
		}
		if !slices.Contains(race.Strategies, *strategy) {
			return 0, usageError{fmt.Sprintf("--strategy (or strategy=) %q: one of %s", *strategy, strings.Join(race.Strategies, ", "))}
		}
		if *oracle != "" && !slices.Contains(race.Oracles, *oracle) {
			return 0, usageError{fmt.Sprintf("--oracle %q: one of %s", *oracle, strings.Join(race.Oracles, ", "))}
		}
		if t, err = race.ExploreTargetArgs(ctx, *strategy, rest, con); err != nil {
			return 0, err
		}
		if *oracle != "" {
			t.Check = race.OnlyOracle(t.Check, *oracle)
		}
		target = strings.Join(append([]string{"race " + race.ExploreCmdLine(*strategy)}, rest...), " ")
	} else {
		if *strategy != "" {
			return 0, usageError{"--strategy is the race kernel's; a scenario kernel takes its variant as an argument (-- variant=...)"}
		}
		name, image, err := kernelImage(kernel)
		if err != nil {
			return 0, err
		}
		oracles, err := scenario.Oracles(image)
		if err != nil {
			return 0, usageError{fmt.Sprintf("%s follows no scenario protocol: %v (see 'pvsim explore -h')", name, err)}
		}
		if *oracle != "" && !slices.Contains(oracles, *oracle) {
			return 0, usageError{fmt.Sprintf("--oracle %q: %s's oracles are %s", *oracle, name, strings.Join(oracles, ", "))}
		}
		k := scenario.Kernel{Name: name, Image: image, Args: kargs, VCPUs: *vcpus}
		if t, err = scenario.Target(ctx, k, con); err != nil {
			return 0, err
		}
		if *oracle != "" {
			t.Check = scenario.OnlyOracle(t.Check, *oracle, oracles)
		}
		target = strings.TrimSpace(name + " " + k.CmdLine())
	}
	defer t.Snapshot.Close()
	if isTerminal(stderr) {
		cfg.Progress = func(p explore.Progress) {
			fmt.Fprintf(stderr, "\r%s %s: %5.0fs  %d schedules  %d states  %d queued  %d violations  ",
				target, cfg.Algo, p.Elapsed.Seconds(), p.Schedules, p.States, p.Queued, p.Violations)
		}
	}
	res, err := explore.Run(ctx, t, cfg)
	if cfg.Progress != nil {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return 0, err
	}
	res.Target = target
	if *oracle != "" {
		res.Target += ", oracle " + *oracle
	}
	if *asJSON {
		err = writeJSON(stdout, res)
	} else {
		printExplore(stdout, res)
	}
	if err == nil && len(res.Violations) > 0 {
		return exitViolation, nil
	}
	return exitOK, err
}

func cmdExploreMerge(args []string, stdout, stderr io.Writer) (int, error) {
	fs := newFlagSet("explore merge", stdout)
	asJSON := fs.Bool("json", false, "print the merged result as JSON")
	pos, _, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK, nil
	}
	if err != nil {
		return 0, err
	}
	if len(pos) == 0 {
		return 0, usageError{"explore merge takes the JSON results of 'pvsim explore --json --shard i/N'"}
	}
	var results []*explore.Result
	for _, p := range pos {
		b, err := os.ReadFile(p)
		if err != nil {
			return 0, err
		}
		var r explore.Result
		if err := json.Unmarshal(b, &r); err != nil {
			return 0, fmt.Errorf("%s: not an explore result: %v", p, err)
		}
		results = append(results, &r)
	}
	m, err := explore.Merge(results)
	if err != nil {
		return 0, err
	}
	if *asJSON {
		err = writeJSON(stdout, m)
	} else {
		printExplore(stdout, m)
	}
	if err == nil && len(m.Violations) > 0 {
		return exitViolation, nil
	}
	return exitOK, err
}

// printExplore prints a search's outcome: each violation with its
// schedule and how to replay it, or what was covered.
func printExplore(w io.Writer, r *explore.Result) {
	what := fmt.Sprintf("%s, preemption bound %d", r.Algo, r.Bound)
	if r.Algo == explore.PCT {
		what = fmt.Sprintf("pct, depth %d, seed %d", r.Depth, r.Seed)
	}
	fmt.Fprintf(w, "explore %s: %s, shards %v of %d\n", r.Target, what, r.Shards, r.ShardCount)
	fmt.Fprintf(w, "  %d schedules in %.1fs (%.1f/s, %d workers), reset %.0f µs; the default schedule has %d points from step %d\n",
		r.Schedules, r.Seconds, r.PerSecond, r.Workers, r.ResetUs, r.Points, r.Window)
	if r.Prune {
		subtrees := "subtrees"
		if r.Pruned == 1 {
			subtrees = "subtree"
		}
		fmt.Fprintf(w, "  %d states; %d %s pruned at a state already searched\n", r.States, r.Pruned, subtrees)
	}
	for i, v := range r.Violations {
		fmt.Fprintf(w, "\nviolation %d: %s: %s\n", i+1, v.Oracle, v.Detail)
		fmt.Fprintf(w, "  schedule: %s (%d preemptions, %d steps)\n", v.Schedule, v.Preemptions, v.Steps)
		fmt.Fprintf(w, "  trace sha256: %s\n", v.TraceSHA256)
		run, _, _ := strings.Cut(r.Target, ", oracle ")
		kernel, cmdline, _ := strings.Cut(run, " ")
		fmt.Fprintf(w, "  replay: pvsim run %s --schedule %s -- %s\n", kernel, v.Schedule, cmdline)
		if v.Interleaving != "" {
			fmt.Fprintf(w, "\n%s", v.Interleaving)
		}
	}
	switch {
	case r.Exhausted && r.Algo == explore.DFS:
		if r.Prune {
			fmt.Fprintf(w, "\nno violation: every state within %d preemptions was searched (bound exhausted)\n", r.Bound)
		} else {
			fmt.Fprintf(w, "\nno violation: every schedule within %d preemptions was run (bound exhausted)\n", r.Bound)
		}
	case r.Exhausted:
		fmt.Fprintf(w, "\nno violation in %d schedules\n", r.Schedules)
	case len(r.Violations) == 0:
		fmt.Fprintf(w, "\nno violation so far; not exhausted: %s\n", r.Stopped)
	}
}

// exploreAll is explore --all-strategies: one table of every strategy's
// defects as the explorer finds them.
func exploreAll(cfg explore.Config, asJSON bool, stdout, stderr io.Writer) (int, error) {
	if cfg.Bound < 0 || cfg.Workers < 1 {
		return 0, usageError{"--bound must be at least 0 and --workers at least 1"}
	}
	budget := cfg.Budget
	if budget == 0 {
		budget = 1000
	}
	ac := race.ExploreAllConfig{Bound: cfg.Bound, Workers: cfg.Workers, PCTSeeds: 10, PCTBudget: budget, Prune: cfg.Prune}
	if isTerminal(stderr) {
		ac.Start = func(s string) { fmt.Fprintf(stderr, "exploring %s...\n", s) }
	}
	fs, err := race.ExploreAll(context.Background(), ac)
	if err != nil {
		return 0, err
	}
	if asJSON {
		return exitOK, writeJSON(stdout, fs)
	}
	every := "every schedule"
	if cfg.Prune {
		every = "every state"
	}
	fmt.Fprintf(stdout, "explore, every strategy: dfs to preemption bound %d (%s), then pct, 10 seeds of at most %d schedules, for each defect alone\n\n", cfg.Bound, every, budget)
	return exitOK, race.WriteDefectTable(stdout, fs)
}
