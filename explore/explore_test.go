package explore

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/fingerprint"
	"github.com/pvsim/pvsim/sched"
)

// toy is a program of two vCPUs in place of a domain: vCPU i runs steps[i]
// steps, each ending at a scheduling point, then spins, yielding. The bug
// fires when vCPU 1 runs its step hit while vCPU 0 has done at least
// win[0] and fewer than win[1] of its steps: a race window.
type toy struct {
	steps [2]int
	win   [2]int
	hit   int // -1: no bug
}

func (m toy) run(s sched.Scheduler) *Violation {
	var done [2]int
	cur := 0
	var step uint64
	for done[0] < m.steps[0] || done[1] < m.steps[1] {
		if done[cur] < m.steps[cur] {
			if cur == 1 && done[1] == m.hit && done[0] >= m.win[0] && done[0] < m.win[1] {
				return &Violation{Oracle: "race", Detail: fmt.Sprintf("vCPU 1 step %d inside vCPU 0's window", m.hit)}
			}
			done[cur]++
		}
		step++
		p := sched.Point{Step: step, VCPU: cur, Runnable: 3, Yield: done[cur] == m.steps[cur]}
		// The toy's whole state, as a domain's fingerprint names it.
		p.State = fingerprint.Bytes(fmt.Appendf(nil, "%d %d %d %d", done[0], done[1], cur, step))
		if step == 1 {
			p.Label = "begin"
		}
		cur = s.Next(&p)
	}
	return nil
}

func target(m toy) Target { return Target{model: m.run, vcpus: 2} }

// interleavings counts, by brute force, the runs of m with at most bound
// preemptions: at each point the vCPU at it runs on, or the other one
// does, which is a preemption unless the first yields.
func (m toy) interleavings(bound int) int {
	var count func(done [2]int, cur, pre int) int
	count = func(done [2]int, cur, pre int) int {
		if done[cur] < m.steps[cur] {
			done[cur]++
		}
		if done[0] == m.steps[0] && done[1] == m.steps[1] {
			return 1
		}
		yield := done[cur] == m.steps[cur]
		if yield {
			return count(done, 1-cur, pre) // spinning on is no new run
		}
		n := count(done, cur, pre)
		if pre < bound {
			n += count(done, 1-cur, pre+1)
		}
		return n
	}
	return count([2]int{}, 0, 0)
}

func TestScheduleText(t *testing.T) {
	for _, tt := range []struct {
		s    Schedule
		text string
	}{
		{Schedule{VCPUs: 2}, "cpus=2"},
		{Schedule{VCPUs: 2, Decisions: []Decision{{18, 0}, {23, 1}}}, "cpus=2,18:0,23:1"},
		{Schedule{VCPUs: 4, Decisions: []Decision{{1, 3}}}, "cpus=4,1:3"},
	} {
		assert.Equal(t, tt.text, tt.s.String())
		got, err := ParseSchedule(tt.text)
		require.NoError(t, err, tt.text)
		assert.Equal(t, tt.s, got)
	}
}

func TestParseScheduleErrors(t *testing.T) {
	for _, text := range []string{
		"", "default", "18:0", "cpus=0", "cpus=99", "cpus=x",
		"cpus=2,18", "cpus=2,0:1", "cpus=2,18:2", "cpus=2,18:-1", "cpus=2,18:1,18:0", "cpus=2,20:1,18:0", "cpus=2,a:b",
	} {
		_, err := ParseSchedule(text)
		assert.Error(t, err, "%q", text)
	}
}

func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"cpus=2", "cpus=2,18:0,23:1", "cpus=8,1:7,2:0", "cpus=2,18:0,18:1", "cpus=3,x:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseSchedule(text)
		if err != nil {
			return
		}
		again, err := ParseSchedule(s.String())
		require.NoError(t, err, "%q printed as %q", text, s.String())
		require.Equal(t, s, again)
		for i, d := range s.Decisions {
			require.Less(t, d.VCPU, s.VCPUs)
			if i > 0 {
				require.Greater(t, d.Step, s.Decisions[i-1].Step)
			}
		}
	})
}

func TestParseShard(t *testing.T) {
	s, err := ParseShard("1/3")
	require.NoError(t, err)
	assert.Equal(t, Shard{1, 3}, s)
	for _, bad := range []string{"3/3", "-1/3", "0/0", "1", "a/b", "1/3/4"} {
		_, err := ParseShard(bad)
		assert.Error(t, err, bad)
	}
}

// The search covers exactly the runs within the bound: as many schedules
// as a brute-force count of interleavings, each once.
func TestDFSCoversEveryRunWithinTheBound(t *testing.T) {
	m := toy{steps: [2]int{4, 3}, hit: -1}
	for bound := 0; bound <= 4; bound++ {
		for _, workers := range []int{1, 3} {
			r, err := Run(context.Background(), target(m), Config{Algo: DFS, Bound: bound, Workers: workers})
			require.NoError(t, err)
			assert.True(t, r.Exhausted, "bound %d", bound)
			assert.Empty(t, r.Violations)
			assert.Equal(t, m.interleavings(bound), r.Schedules, "bound %d, %d workers", bound, workers)
		}
	}
}

func TestDFSFindsTheRaceAtItsBound(t *testing.T) {
	// vCPU 1's first step must fall after vCPU 0's second and before its
	// third: one preemption away from the default schedule.
	m := toy{steps: [2]int{4, 3}, win: [2]int{2, 3}, hit: 0}
	r, err := Run(context.Background(), target(m), Config{Algo: DFS, Bound: 0})
	require.NoError(t, err)
	assert.Empty(t, r.Violations)
	assert.True(t, r.Exhausted)

	r, err = Run(context.Background(), target(m), Config{Algo: DFS, Bound: 1})
	require.NoError(t, err)
	require.Len(t, r.Violations, 1)
	assert.False(t, r.Exhausted)
	assert.Equal(t, "violation found", r.Stopped)
	v := r.Violations[0]
	assert.Equal(t, 1, v.Preemptions)

	// The schedule replays the violation.
	s, err := ParseSchedule(v.Schedule)
	require.NoError(t, err)
	assert.NotNil(t, m.run(&Replay{Schedule: s}))
	assert.Nil(t, m.run(&Replay{Schedule: Schedule{VCPUs: 2}}))

	// With All the search goes on, to every schedule within the bound but
	// those a violation cut short: only one run reaches vCPU 1's first
	// step inside the window, at a preemption right after vCPU 0's second.
	r, err = Run(context.Background(), target(m), Config{Algo: DFS, Bound: 2, All: true})
	require.NoError(t, err)
	assert.True(t, r.Exhausted)
	assert.Len(t, r.Violations, 1)
	assert.Less(t, r.Schedules, m.interleavings(2))
	assert.Greater(t, r.Schedules, m.interleavings(1))
}

// Pruning states already searched finds what the plain search finds: a
// violation exactly when it does, at the same fewest preemptions, the
// bound exhausted alike; it runs a subset of its schedules, and fewer
// where interleavings meet in a state.
func TestPruneFindsWhatThePlainSearchFinds(t *testing.T) {
	engaged := false
	for _, m := range []toy{
		{steps: [2]int{4, 3}, hit: -1},
		{steps: [2]int{4, 3}, win: [2]int{2, 3}, hit: 0},
		{steps: [2]int{5, 4}, win: [2]int{1, 4}, hit: 2},
		{steps: [2]int{6, 3}, win: [2]int{4, 5}, hit: 2},
		{steps: [2]int{3, 5}, win: [2]int{0, 1}, hit: 4},
	} {
		for bound := 0; bound <= 3; bound++ {
			for _, workers := range []int{1, 3} {
				name := fmt.Sprintf("%+v bound %d, %d workers", m, bound, workers)
				plain, err := Run(context.Background(), target(m), Config{Algo: DFS, Bound: bound, Workers: workers, All: true})
				require.NoError(t, err)
				pruned, err := Run(context.Background(), target(m), Config{Algo: DFS, Bound: bound, Workers: workers, All: true, Prune: true})
				require.NoError(t, err)

				assert.Equal(t, plain.Exhausted, pruned.Exhausted, name)
				assert.Equal(t, len(plain.Violations) > 0, len(pruned.Violations) > 0, name)
				assert.Equal(t, minPreemptions(plain), minPreemptions(pruned), name)
				ran := map[string]bool{}
				for _, v := range plain.Violations {
					ran[v.Schedule] = true
				}
				for _, v := range pruned.Violations {
					assert.True(t, ran[v.Schedule], "%s: %s is not among the plain search's violations", name, v.Schedule)
				}
				assert.LessOrEqual(t, pruned.Schedules, plain.Schedules, name)
				assert.True(t, pruned.Prune, name)
				assert.Positive(t, pruned.States, name)
				if pruned.Pruned > 0 && pruned.Schedules < plain.Schedules {
					engaged = true
				}
			}
		}
	}
	assert.True(t, engaged, "no search pruned a schedule")
}

func minPreemptions(r *Result) int {
	least := -1
	for _, v := range r.Violations {
		if least < 0 || v.Preemptions < least {
			least = v.Preemptions
		}
	}
	return least
}

// Shards split the search into disjoint parts that together are the
// whole, and Merge joins their results.
func TestShardsPartitionTheSearch(t *testing.T) {
	m := toy{steps: [2]int{5, 3}, hit: -1}
	seen := func(shard Shard) (map[string]bool, *Result) {
		var mu sync.Mutex
		got := map[string]bool{}
		tg := target(m)
		tg.model = func(s sched.Scheduler) *Violation {
			v := m.run(s)
			mu.Lock()
			defer mu.Unlock()
			got[s.(*Replay).Schedule.String()] = true
			return v
		}
		r, err := Run(context.Background(), tg, Config{Algo: DFS, Bound: 2, Shard: shard, Workers: 2})
		require.NoError(t, err)
		return got, r
	}
	all, whole := seen(Shard{0, 1})
	require.Equal(t, m.interleavings(2), whole.Schedules)
	union := map[string]bool{}
	var results []*Result
	for i := range 3 {
		got, r := seen(Shard{i, 3})
		results = append(results, r)
		for s := range got {
			if s == "cpus=2" && i > 0 {
				continue // every shard runs the default schedule; shard 0 counts it
			}
			assert.False(t, union[s], "schedule %s in two shards", s)
			union[s] = true
		}
	}
	assert.Equal(t, all, union)

	merged, err := Merge(results)
	require.NoError(t, err)
	assert.Equal(t, whole.Schedules, merged.Schedules)
	assert.True(t, merged.Exhausted)
	assert.Equal(t, []int{0, 1, 2}, merged.Shards)

	partial, err := Merge(results[:2])
	require.NoError(t, err)
	assert.False(t, partial.Exhausted)
	assert.Contains(t, partial.Stopped, "shards 2 of 3 missing")

	_, err = Merge([]*Result{results[0], results[0]})
	assert.ErrorContains(t, err, "more than one result")
	other := *results[1]
	other.Bound = 3
	_, err = Merge([]*Result{results[0], &other})
	assert.ErrorContains(t, err, "another search")
}

func TestPCT(t *testing.T) {
	m := toy{steps: [2]int{6, 4}, win: [2]int{3, 4}, hit: 1}
	found := 0
	for seed := uint64(1); seed <= 10; seed++ {
		r, err := Run(context.Background(), target(m), Config{Algo: PCT, Seed: seed, Budget: 200})
		require.NoError(t, err)
		if len(r.Violations) > 0 {
			found++
			s, err := ParseSchedule(r.Violations[0].Schedule)
			require.NoError(t, err)
			assert.NotNil(t, m.run(&Replay{Schedule: s}), "seed %d: the schedule replays the bug", seed)
		}
	}
	assert.GreaterOrEqual(t, found, 9)

	// A seed fixes the schedules: the same ones, in the same order.
	schedules := func(seed uint64) []string {
		var got []string
		for j := range 20 {
			p := newPCTScheduler(seed, j, 3, 1, 10, 2)
			m.run(p)
			got = append(got, p.taken.String())
		}
		return got
	}
	assert.Equal(t, schedules(7), schedules(7))
	assert.NotEqual(t, schedules(7), schedules(8))
}

// PCT's schedules split by number across shards.
func TestPCTShards(t *testing.T) {
	m := toy{steps: [2]int{6, 4}, hit: -1}
	total := 0
	var counts []int
	for i := range 3 {
		r, err := Run(context.Background(), target(m), Config{Algo: PCT, Seed: 1, Budget: 30, Shard: Shard{i, 3}})
		require.NoError(t, err)
		assert.True(t, r.Exhausted)
		counts = append(counts, r.Schedules)
		total += r.Schedules
	}
	sort.Ints(counts)
	assert.Equal(t, 31, total, "30 PCT schedules and shard 0's default one: %v", counts)
}

func TestConfigCheck(t *testing.T) {
	for _, c := range []Config{
		{Algo: "bfs"},
		{Algo: PCT},
		{Bound: -1},
		{Shard: Shard{2, 2}},
		{Workers: -1},
	} {
		assert.Error(t, c.Check(), "%+v", c)
	}
	c := Config{Algo: PCT, Budget: 10}
	require.NoError(t, c.Check())
	assert.Equal(t, DefaultPCTDepth, c.Depth)
	assert.Equal(t, Shard{0, 1}, c.Shard)
}

// Replay.Fit reports a schedule whose decisions did not all apply, or
// whose vCPUs did not all come up, naming the first decision that never
// applied and the points the run had.
func TestReplayFit(t *testing.T) {
	for _, tt := range []struct {
		name     string
		s        Schedule
		steps    uint64
		runnable uint64
		err      string // "": it fits
	}{
		{"default schedule", Schedule{VCPUs: 2}, 10, 3, ""},
		{"every decision applied", Schedule{VCPUs: 2, Decisions: []Decision{{3, 1}, {10, 0}}}, 10, 3, ""},
		{"no points", Schedule{VCPUs: 2}, 0, 0, ""},
		{"run ended first", Schedule{VCPUs: 2, Decisions: []Decision{{3, 1}, {99999, 1}}}, 32, 3,
			"the schedule does not fit the run: its decision 99999:1 never applied: the run had only 32 scheduling points"},
		{"two never applied", Schedule{VCPUs: 2, Decisions: []Decision{{11, 1}, {12, 0}}}, 10, 3,
			"its decision 11:1 never applied (nor did 1 after it): the run had only 10 scheduling points"},
		{"out of order", Schedule{VCPUs: 2, Decisions: []Decision{{5, 1}, {3, 0}}}, 10, 3,
			"its decision 3:0 never applied: the decisions are not in increasing step order (the run had 10 scheduling points)"},
		{"too many vCPUs", Schedule{VCPUs: 4}, 10, 1,
			"the schedule does not fit the run: it is for 4 vCPUs, but the run brought up 1 (in 10 scheduling points)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := &Replay{Schedule: tt.s}
			for step := uint64(1); step <= tt.steps; step++ {
				r.Next(&sched.Point{Step: step, Runnable: sched.VCPUMask(tt.runnable)})
			}
			err := r.Fit()
			if tt.err == "" {
				assert.NoError(t, err)
				return
			}
			var me *MisfitError
			require.ErrorAs(t, err, &me)
			assert.Equal(t, tt.steps, me.Steps)
			assert.ErrorContains(t, err, tt.err)
		})
	}
}

// TestMergeRefusesBadResults: merge reads files; it refuses what no search
// writes, and a shard count from a file never sizes an allocation.
func TestMergeRefusesBadResults(t *testing.T) {
	good := func() *Result {
		return &Result{Target: "toy", Algo: DFS, Bound: 2, Shards: []int{0}, ShardCount: 2, Schedules: 3,
			Violations: []Violation{{Schedule: "cpus=2,3:1", Oracle: "oops"}}}
	}
	for _, tt := range []struct {
		name   string
		mutate func(r *Result)
		want   string
	}{
		{"huge shard count", func(r *Result) { r.ShardCount = 1_000_000_000_000 }, "shard_count 1000000000000"},
		{"no shard count", func(r *Result) { r.ShardCount = 0 }, "shard_count 0"},
		{"shard out of range", func(r *Result) { r.Shards = []int{2} }, "shard 2 of 2"},
		{"negative shard", func(r *Result) { r.Shards = []int{-1} }, "shard -1 of 2"},
		{"no shards", func(r *Result) { r.Shards = nil }, "0 shards of 2"},
		{"negative schedules", func(r *Result) { r.Schedules = -5 }, "negative"},
		{"empty violation", func(r *Result) { r.Violations = []Violation{{}} }, "violation 1 has no oracle"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := good()
			tt.mutate(r)
			_, err := Merge([]*Result{r})
			assert.ErrorContains(t, err, tt.want)
		})
	}
	m, err := Merge([]*Result{good()})
	require.NoError(t, err)
	assert.False(t, m.Exhausted, "shard 1 of 2 is missing")
}
