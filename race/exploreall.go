package race

import (
	"context"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"

	"github.com/pvsim/pvsim/explore"
)

// DefectFinding is what the explorer finds of one defect of one strategy,
// or, for a strategy with none, the bound it exhausted.
type DefectFinding struct {
	Strategy string `json:"strategy"`
	// Oracle is the defect; empty when DFS found none within Bound.
	Oracle string `json:"oracle,omitempty"`
	// MinBound is the fewest preemptions of a schedule that shows it,
	// and Schedule the first such schedule found; FoundAt is how many
	// schedules DFS had run when it first found the defect.
	MinBound int    `json:"min_bound"`
	Schedule string `json:"schedule,omitempty"`
	FoundAt  int    `json:"found_at,omitempty"`
	// PCTHits is how many of PCTSeeds PCT searches, of at most PCTBudget
	// schedules each and asked for this oracle alone, found it.
	PCTHits   int `json:"pct_hits"`
	PCTSeeds  int `json:"pct_seeds"`
	PCTBudget int `json:"pct_budget"`
	// Bound is DFS's preemption bound, and Schedules how many schedules
	// it ran (all of them, or all but those pruned at a state already
	// searched: Exhausted); States counts the states it saw, when it
	// pruned.
	Bound     int  `json:"bound"`
	Schedules int  `json:"schedules"`
	States    int  `json:"states,omitempty"`
	Exhausted bool `json:"exhausted"`
}

// ExploreAllConfig is a search of every strategy.
type ExploreAllConfig struct {
	Bound, Workers      int
	PCTSeeds, PCTBudget int
	// Prune prunes DFS at states already searched (explore.Config.Prune).
	Prune bool
	// Start, if set, is called as each strategy's search begins.
	Start func(strategy string)
}

// ExploreAll searches every strategy: DFS over every schedule within the
// bound (all of them, not stopping at a violation), which gives each
// defect's smallest bound; then PCT with each seed from 1 to PCTSeeds,
// asked for that defect alone.
func ExploreAll(ctx context.Context, cfg ExploreAllConfig) ([]DefectFinding, error) {
	var out []DefectFinding
	for _, s := range Strategies {
		if cfg.Start != nil {
			cfg.Start(s)
		}
		f, err := exploreStrategy(ctx, s, cfg)
		if err != nil {
			return out, fmt.Errorf("strategy %s: %w", s, err)
		}
		out = append(out, f...)
	}
	return out, nil
}

func exploreStrategy(ctx context.Context, strategy string, cfg ExploreAllConfig) ([]DefectFinding, error) {
	t, err := ExploreTarget(ctx, strategy, nil)
	if err != nil {
		return nil, err
	}
	defer t.Snapshot.Close()
	r, err := explore.Run(ctx, t, explore.Config{Algo: explore.DFS, Bound: cfg.Bound, Workers: cfg.Workers, All: true, Prune: cfg.Prune})
	if err != nil {
		return nil, err
	}
	found := findings(strategy, r)
	if found[0].Oracle == "" {
		return found, nil
	}
	for i := range found {
		f := &found[i]
		f.PCTSeeds, f.PCTBudget = cfg.PCTSeeds, cfg.PCTBudget
		if !slices.Contains(Oracles, f.Oracle) {
			continue
		}
		pt := t
		pt.Check = OnlyOracle(t.Check, f.Oracle)
		for seed := 1; seed <= cfg.PCTSeeds; seed++ {
			pr, err := explore.Run(ctx, pt, explore.Config{Algo: explore.PCT, Seed: uint64(seed), Budget: cfg.PCTBudget, Workers: cfg.Workers})
			if err != nil {
				return nil, err
			}
			if len(pr.Violations) > 0 {
				f.PCTHits++
			}
		}
	}
	return found, nil
}

// findings sums up a DFS search of strategy that ran to its end (All):
// each oracle of Oracles that fired, with its smallest bound, or a
// finding without an oracle when none did; a failure of pvsim itself
// (audit, hang, fault) is a finding of its own.
func findings(strategy string, r *explore.Result) []DefectFinding {
	var found []DefectFinding
	for _, o := range Oracles {
		var f *DefectFinding
		for _, v := range r.Violations {
			if _, ok := firedIn(&v, o); !ok {
				continue
			}
			if f == nil {
				f = &DefectFinding{Strategy: strategy, Oracle: o, MinBound: v.Preemptions, Schedule: v.Schedule, FoundAt: v.FoundAt}
			}
			if v.Preemptions < f.MinBound {
				f.MinBound, f.Schedule = v.Preemptions, v.Schedule
			}
		}
		if f != nil {
			found = append(found, *f)
		}
	}
	for _, v := range r.Violations {
		if !slices.Contains(Oracles, v.Oracle) {
			found = append(found, DefectFinding{Strategy: strategy, Oracle: v.Oracle, MinBound: v.Preemptions, Schedule: v.Schedule, FoundAt: v.FoundAt})
			break
		}
	}
	if len(found) == 0 {
		found = []DefectFinding{{Strategy: strategy}}
	}
	for i := range found {
		found[i].Bound, found[i].Schedules, found[i].States, found[i].Exhausted = r.Bound, r.Schedules, r.States, r.Exhausted
	}
	return found
}

// WriteDefectTable prints the findings as a table.
func WriteDefectTable(w io.Writer, fs []DefectFinding) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "strategy\tdefect\tmin bound\tfound after\tPCT hits\tschedule")
	for _, f := range fs {
		if f.Oracle == "" {
			states := ""
			if f.States > 0 {
				states = fmt.Sprintf(", %d states", f.States)
			}
			fmt.Fprintf(tw, "%s\tnone\t-\t-\t-\tbound %d exhausted: %d schedules%s\n", f.Strategy, f.Bound, f.Schedules, states)
			continue
		}
		pct := "-"
		if f.PCTSeeds > 0 {
			pct = fmt.Sprintf("%d/%d", f.PCTHits, f.PCTSeeds)
		}
		after := fmt.Sprintf("%d schedules", f.FoundAt)
		if f.FoundAt == 1 {
			after = "1 schedule"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", f.Strategy, f.Oracle, f.MinBound, after, pct, f.Schedule)
	}
	return tw.Flush()
}
