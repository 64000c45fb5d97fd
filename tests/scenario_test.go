package tests

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/explore"
	"github.com/pvsim/pvsim/guest"
	"github.com/pvsim/pvsim/hv"
	"github.com/pvsim/pvsim/scenario"
	"github.com/pvsim/pvsim/trace"
	"github.com/pvsim/pvsim/xen"
)

// scenarioKernel is an embedded scenario kernel with its arguments.
func scenarioKernel(t *testing.T, name string, args ...string) scenario.Kernel {
	t.Helper()
	k, ok := guest.Lookup(name)
	require.True(t, ok, "no embedded kernel %s", name)
	return scenario.Kernel{Name: name, Image: k.ELF, Args: args, VCPUs: scenario.DefaultVCPUs}
}

// replayScenario boots k from scratch on the schedule text, as `pvsim run
// KERNEL --schedule S -- <args>` does, and returns the run, its trace and
// its oracle counts.
func replayScenario(t *testing.T, k scenario.Kernel, schedule string) (hv.Result, []trace.Event, []scenario.Count) {
	t.Helper()
	s, err := explore.ParseSchedule(schedule)
	require.NoError(t, err)
	r := &explore.Replay{Schedule: s}
	d, err := hv.New(hv.Config{Name: k.Name, Kernel: k.Image, VCPUs: s.VCPUs, CmdLine: k.CmdLine(),
		Timeout: scenario.Timeout, Scheduler: r, Audit: true})
	require.NoError(t, err)
	defer d.Close()
	res, err := d.Run(context.Background())
	require.NoError(t, err)
	counts, _, err := scenario.Read(d)
	require.NoError(t, err)
	assert.Empty(t, r.Unused())
	return res, d.Trace(), counts
}

// TestHugetlbTruncate: the explorer finds each broken variant's violation
// and the schedule it prints replays it byte for byte from a fresh boot;
// Mike Kravetz's code and the hole punch under the fault mutex exhaust
// bound 3 with no violation (2 with -short, under the race detector).
func TestHugetlbTruncate(t *testing.T) {
	needKVM(t)
	bound := 3
	if testing.Short() {
		bound = 2
	}
	for _, tt := range []struct {
		variant string
		oracle  string // "" for none
	}{
		{"kravetz", ""},
		{"punch", ""},
		{"no-recheck", "found_mapped"},
		{"no-ptl", "found_mapped"},
		{"punch-no-mutex", "mapped_in_hole"},
	} {
		t.Run(tt.variant, func(t *testing.T) {
			k := scenarioKernel(t, "hugetlb-truncate", "variant="+tt.variant)
			tg, err := scenario.Target(context.Background(), k, nil)
			require.NoError(t, err)
			defer tg.Snapshot.Close()
			r, err := explore.Run(context.Background(), tg, explore.Config{Algo: explore.DFS, Bound: bound})
			require.NoError(t, err)
			if tt.oracle == "" {
				assert.Empty(t, r.Violations)
				assert.True(t, r.Exhausted, "bound %d exhausted: %+v", bound, r)
				assert.Greater(t, r.Schedules, 10, "schedules were explored")
				return
			}
			require.NotEmpty(t, r.Violations, "%+v", r)
			v := r.Violations[0]
			assert.Equal(t, tt.oracle, v.Oracle, "%+v", v)
			assert.NotZero(t, v.Preemptions, "the default schedule does not show it")

			res, events, counts := replayScenario(t, k, v.Schedule)
			assert.Equal(t, xen.ShutdownPoweroff, res.Reason)
			assert.Equal(t, v.Steps, res.Steps)
			assert.Equal(t, v.TraceSHA256, trace.Digest(events), "the replay's trace differs")
			fired := map[string]uint64{}
			for _, c := range counts {
				fired[c.Oracle] = c.N
			}
			assert.NotZero(t, fired[tt.oracle], "the replay counts %s: %v", tt.oracle, counts)

			// The default schedule runs vCPU 0's fault to the end first.
			_, _, counts = replayScenario(t, k, "cpus=2")
			for _, c := range counts {
				assert.Zero(t, c.N, "the default schedule: %s", c.Oracle)
			}
		})
	}
}

// TestScenarioProtocol: the oracles are read from the kernel's DWARF in
// declaration order, and a kernel without the protocol is refused.
func TestScenarioProtocol(t *testing.T) {
	k, ok := guest.Lookup("hugetlb-truncate")
	require.True(t, ok)
	o, err := scenario.Oracles(k.ELF)
	require.NoError(t, err)
	assert.Equal(t, []string{"mapped_beyond_isize", "mapped_in_hole", "found_mapped"}, o)
	h, ok := guest.Lookup("hello")
	require.True(t, ok)
	_, err = scenario.Oracles(h.ELF)
	assert.Error(t, err)
}
