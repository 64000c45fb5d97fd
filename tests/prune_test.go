package tests

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/explore"
	"github.com/pvsim/pvsim/race"
	"github.com/pvsim/pvsim/scenario"
)

// pruneBound is the bound the pruned and plain searches are compared at:
// 2, or 1 with -short (under the race detector). BENCHMARKS.md compares
// them at 3 for every strategy.
func pruneBound() int {
	if testing.Short() {
		return 1
	}
	return 2
}

// TestPruningFindsWhatThePlainSearchFinds searches every strategy of the
// race kernel and every row of the scenario catalogue twice, every
// schedule run and with states already searched pruned (explore.Config
// Prune, the domain's fingerprints), both to the end (All): the pruned
// search must exhaust the bound as the plain one does, find every oracle
// it finds at the same fewest preemptions, and report only schedules the
// plain search also found violating, with the same trace, byte for byte;
// and it must have pruned.
func TestPruningFindsWhatThePlainSearchFinds(t *testing.T) {
	needKVM(t)
	type target struct {
		name string
		boot func() (explore.Target, error)
	}
	var targets []target
	for _, s := range race.Strategies {
		targets = append(targets, target{"race/" + s, func() (explore.Target, error) {
			return race.ExploreTarget(context.Background(), s, nil)
		}})
	}
	for _, r := range scenario.Catalogue {
		targets = append(targets, target{r.Kernel + "/" + strings.Join(r.Args, ","), func() (explore.Target, error) {
			return scenario.Target(context.Background(), scenarioKernel(t, r.Kernel, r.Args...), nil)
		}})
	}
	bound := pruneBound()
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			target, err := tg.boot()
			require.NoError(t, err)
			defer target.Snapshot.Close()
			cfg := explore.Config{Algo: explore.DFS, Bound: bound, Workers: 2, All: true}
			plain, err := explore.Run(context.Background(), target, cfg)
			require.NoError(t, err)
			cfg.Prune = true
			pruned, err := explore.Run(context.Background(), target, cfg)
			require.NoError(t, err)

			assert.True(t, plain.Exhausted && pruned.Exhausted, "plain: %s; pruned: %s", plain.Stopped, pruned.Stopped)
			assert.Equal(t, fewestPreemptions(plain), fewestPreemptions(pruned), "oracle: fewest preemptions")
			found := map[string]explore.Violation{}
			for _, v := range plain.Violations {
				found[v.Schedule] = v
			}
			for _, v := range pruned.Violations {
				p, ok := found[v.Schedule]
				if assert.True(t, ok, "%s: not a violation of the plain search", v.Schedule) {
					assert.Equal(t, p.Oracle, v.Oracle, v.Schedule)
					assert.Equal(t, p.TraceSHA256, v.TraceSHA256, "%s: the trace differs", v.Schedule)
				}
			}
			assert.LessOrEqual(t, pruned.Schedules, plain.Schedules)
			if bound > 1 {
				assert.Positive(t, pruned.Pruned, "nothing pruned")
			}
			t.Logf("bound %d: %d schedules plain, %d pruned (%d states, %d subtrees pruned); %d and %d violations",
				bound, plain.Schedules, pruned.Schedules, pruned.States, pruned.Pruned, len(plain.Violations), len(pruned.Violations))
		})
	}
}

// fewestPreemptions maps each oracle a search reported to the fewest
// preemptions of a schedule that showed it.
func fewestPreemptions(r *explore.Result) map[string]int {
	m := map[string]int{}
	for _, v := range r.Violations {
		if n, ok := m[v.Oracle]; !ok || v.Preemptions < n {
			m[v.Oracle] = v.Preemptions
		}
	}
	return m
}

// A pruned search is deterministic with one worker, as the plain one is:
// the same schedules, states and prunes on every run of a build (the
// README's one-worker counts rest on it; with more workers the counts
// follow the order in which schedules finish).
func TestPrunedSearchIsDeterministic(t *testing.T) {
	tg := exploreTarget(t, "hv-pin-aware")
	cfg := explore.Config{Algo: explore.DFS, Bound: pruneBound(), Prune: true}
	first, err := explore.Run(context.Background(), tg, cfg)
	require.NoError(t, err)
	require.Positive(t, first.States)
	for range 2 {
		again, err := explore.Run(context.Background(), tg, cfg)
		require.NoError(t, err)
		assert.Equal(t, []int{first.Schedules, first.States, first.Pruned}, []int{again.Schedules, again.States, again.Pruned},
			"schedules, states, pruned")
	}
}
