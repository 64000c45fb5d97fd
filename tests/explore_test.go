package tests

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/explore"
	"github.com/pvsim/pvsim/guest"
	"github.com/pvsim/pvsim/hv"
	"github.com/pvsim/pvsim/race"
	"github.com/pvsim/pvsim/trace"
	"github.com/pvsim/pvsim/xen"
)

// exploreTarget boots the race kernel for strategy to its snapshot point.
func exploreTarget(t *testing.T, strategy string) explore.Target {
	t.Helper()
	needKVM(t)
	tg, err := race.ExploreTarget(context.Background(), strategy, nil)
	require.NoError(t, err)
	t.Cleanup(tg.Snapshot.Close)
	return tg
}

// replay boots the race kernel from scratch, deterministically, on the
// schedule text, as `pvsim run race --schedule S -- <cmdline>` does.
func replay(t *testing.T, schedule, cmdline string) (hv.Result, []trace.Event, *explore.Replay) {
	t.Helper()
	s, err := explore.ParseSchedule(schedule)
	require.NoError(t, err)
	k, ok := guest.Lookup(race.KernelName)
	require.True(t, ok)
	r := &explore.Replay{Schedule: s}
	d, err := hv.New(hv.Config{Name: race.KernelName, Kernel: k.ELF, VCPUs: s.VCPUs, CmdLine: cmdline,
		Timeout: race.ExploreTimeout, Scheduler: r})
	require.NoError(t, err)
	defer d.Close()
	res, err := d.Run(context.Background())
	require.NoError(t, err)
	return res, d.Trace(), r
}

// The search finds strategy none's oops within two preemptions, and the
// schedule it prints replays the oops from a fresh boot with the same
// exit trace, byte for byte.
func TestExploreFindsAndReplaysTheOops(t *testing.T) {
	tg := exploreTarget(t, "none")
	r, err := explore.Run(context.Background(), tg, explore.Config{Algo: explore.DFS, Bound: 2})
	require.NoError(t, err)
	require.Len(t, r.Violations, 1, "%+v", r)
	v := r.Violations[0]
	assert.Equal(t, "oops", v.Oracle)
	assert.Contains(t, v.Detail, "ptep_test_and_clear_young")
	assert.LessOrEqual(t, v.Preemptions, 2)
	assert.Contains(t, v.Interleaving, "CPU 0")
	assert.Contains(t, v.Interleaving, "ptep_test_and_clear_young")

	for range 2 {
		res, events, rp := replay(t, v.Schedule, race.ExploreCmdLine("none"))
		assert.Equal(t, xen.ShutdownCrash, res.Reason)
		require.NotNil(t, res.Oops)
		assert.Contains(t, res.Oops.Where, "ptep_test_and_clear_young")
		assert.Contains(t, v.Detail, res.Oops.Where)
		assert.Equal(t, v.Steps, res.Steps)
		assert.Empty(t, rp.Unused())
		assert.Equal(t, v.TraceSHA256, trace.Digest(events), "the replay's trace differs")
	}

	// The default schedule runs the fork and exit before reclaim: no oops.
	res, _, _ := replay(t, "cpus=2", race.ExploreCmdLine("none"))
	assert.Equal(t, xen.ShutdownPoweroff, res.Reason)
}

// The fixes survive every schedule within three preemptions (two with
// -short, under the race detector), the bound at which DFS finds every
// broken strategy's defects (TestExploreFindsEachDefect).
func TestExploreFixesExhaustTheBound(t *testing.T) {
	bound := 3
	if testing.Short() {
		bound = 2
	}
	for _, s := range []string{"lock-pte-pages", "pvop-hypercall", "hv-pin-aware"} {
		t.Run(s, func(t *testing.T) {
			tg := exploreTarget(t, s)
			r, err := explore.Run(context.Background(), tg, explore.Config{Algo: explore.DFS, Bound: bound, Workers: 2})
			require.NoError(t, err)
			assert.Empty(t, r.Violations)
			assert.True(t, r.Exhausted, r.Stopped)
			assert.Greater(t, r.Schedules, r.Points, "bound %d runs more schedules than there are points", bound)
		})
	}
}

// Negative controls: DFS within three preemptions finds each defect of
// each broken strategy, asked for one oracle at a time (race.OnlyOracle),
// and the schedule it prints replays the run with the same trace.
func TestExploreFindsEachDefect(t *testing.T) {
	for _, tt := range []struct{ strategy, oracle string }{
		{"none", "oops"},
		{"generic-set-pte", "lost_dirty"},
		{"preserve-ad", "ineffective_young"},
		{"preserve-ad", "lost_dirty"},
		{"pin-before-visible", "fork_nomem"},
		{"pin-before-visible", "reclaim_hidden"},
	} {
		t.Run(tt.strategy+"/"+tt.oracle, func(t *testing.T) {
			tg := exploreTarget(t, tt.strategy)
			tg.Check = race.OnlyOracle(tg.Check, tt.oracle)
			r, err := explore.Run(context.Background(), tg, explore.Config{Algo: explore.DFS, Bound: 3})
			require.NoError(t, err)
			require.Len(t, r.Violations, 1, "%+v", r)
			v := r.Violations[0]
			assert.Equal(t, tt.oracle, v.Oracle, v.Detail)
			assert.LessOrEqual(t, v.Preemptions, 3)
			_, events, rp := replay(t, v.Schedule, race.ExploreCmdLine(tt.strategy))
			assert.Empty(t, rp.Unused())
			assert.Equal(t, v.TraceSHA256, trace.Digest(events), "the replay's trace differs")
		})
	}
}

// PCT finds the oops within 1,000 schedules for nearly every seed.
func TestExplorePCTFindsTheOops(t *testing.T) {
	tg := exploreTarget(t, "none")
	found := 0
	for seed := uint64(1); seed <= 10; seed++ {
		r, err := explore.Run(context.Background(), tg, explore.Config{Algo: explore.PCT, Seed: seed, Budget: 1000})
		require.NoError(t, err)
		if len(r.Violations) > 0 {
			found++
			assert.Equal(t, "oops", r.Violations[0].Oracle, "seed %d", seed)
		}
		t.Logf("seed %d: %d schedules, %d violations", seed, r.Schedules, len(r.Violations))
	}
	assert.GreaterOrEqual(t, found, 9)
}

// Shards of a search, merged, cover what the whole search covers.
func TestExploreShardsMerge(t *testing.T) {
	tg := exploreTarget(t, "lock-pte-pages")
	whole, err := explore.Run(context.Background(), tg, explore.Config{Algo: explore.DFS, Bound: 1})
	require.NoError(t, err)
	var parts []*explore.Result
	for i := range 2 {
		r, err := explore.Run(context.Background(), tg, explore.Config{Algo: explore.DFS, Bound: 1, Shard: explore.Shard{Index: i, Count: 2}})
		require.NoError(t, err)
		parts = append(parts, r)
	}
	m, err := explore.Merge(parts)
	require.NoError(t, err)
	assert.True(t, m.Exhausted)
	assert.Equal(t, whole.Schedules, m.Schedules, fmt.Sprintf("shards ran %d and %d", parts[0].Schedules, parts[1].Schedules))
}
