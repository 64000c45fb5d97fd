package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/pvsim/pvsim/scenario"
)

// scenariosPCTSeeds is how many PCT seeds look for each oracle found.
const scenariosPCTSeeds = 10

// cmdScenarios is pvsim scenarios: one table over the scenario kernels
// and their variants, of what stress runs, DFS and PCT find.
func cmdScenarios(args []string, stdout, stderr io.Writer) (int, error) {
	fs := newFlagSet("scenarios", stdout)
	cfg := scenario.SurveyConfig{PCTSeeds: scenariosPCTSeeds}
	fs.IntVar(&cfg.Bound, "bound", 3, "dfs: every schedule with at most this many preemptions")
	fs.IntVar(&cfg.Workers, "workers", 1, "run schedules in this many VMs at once")
	fs.IntVar(&cfg.PCTBudget, "budget", 1000, fmt.Sprintf("pct: at most this many schedules for each of the %d seeds", scenariosPCTSeeds))
	fs.DurationVar(&cfg.Stress, "stress", 2*time.Second, "boot each row's kernel again and again on 2 vCPUs without the deterministic scheduler for this long (0: no stress runs)")
	asJSON := fs.Bool("json", false, "print the findings as JSON")
	names, rest, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK, nil
	}
	if err != nil {
		return 0, err
	}
	switch {
	case len(rest) > 0:
		return 0, usageError{"scenarios takes scenario names and flags; each row's arguments are the catalogue's"}
	case cfg.Bound < 0 || cfg.Workers < 1 || cfg.PCTBudget < 1 || cfg.Stress < 0:
		return 0, usageError{"--bound and --stress must be at least 0, --workers and --budget at least 1"}
	}
	ks, skipped, err := scenario.Select(names)
	if err != nil {
		return 0, usageError{err.Error()} // a name not in the catalogue
	}
	for _, s := range skipped {
		fmt.Fprintf(stderr, "pvsim: skipping %s: this build embeds no such kernel\n", s)
	}
	if len(ks) == 0 {
		return 0, errors.New("no scenario to survey: this build embeds none of the kernels named")
	}
	if isTerminal(stderr) {
		cfg.Start = func(row string) { fmt.Fprintf(stderr, "surveying %s...\n", row) }
	}
	found, err := scenario.Survey(context.Background(), cfg, ks)
	if err != nil {
		return 0, err
	}
	if *asJSON {
		return exitOK, writeJSON(stdout, found)
	}
	stress := "no stress runs"
	if cfg.Stress > 0 {
		stress = fmt.Sprintf("stress %v a row on %d vCPUs", cfg.Stress, scenario.DefaultVCPUs)
	}
	fmt.Fprintf(stdout, "scenarios: %s; dfs to preemption bound %d (every schedule); then pct, %d seeds of at most %d schedules, for each violation alone\n\n",
		stress, cfg.Bound, cfg.PCTSeeds, cfg.PCTBudget)
	return exitOK, scenario.WriteTable(stdout, found)
}
