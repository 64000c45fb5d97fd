package scenario

import (
	"bytes"
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/explore"
	"github.com/pvsim/pvsim/guest"
)

// needKVM skips a KVM-backed test, loudly, where /dev/kvm is absent.
func needKVM(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/dev/kvm"); err != nil {
		t.Skipf("SKIP: KVM-backed survey test needs /dev/kvm: /dev/kvm absent (%v)", err)
	}
}

// The table: a row where nothing fired, a violation DFS found with its
// stress and PCT figures, one only the stress runs saw, and a failure
// with its detail below the table.
func TestWriteTable(t *testing.T) {
	fs := []Finding{
		{Kernel: "hugetlb-truncate", Args: []string{"variant=kravetz"}, Bound: 2, Schedules: 37, Exhausted: true, StressRuns: 85},
		{Kernel: "hugetlb-truncate", Args: []string{"variant=no-ptl"}, Oracle: "found_mapped", DFS: true, MinBound: 2, FoundAt: 1,
			Schedule: "cpus=2,15:0,20:1", Bound: 2, Schedules: 37, Exhausted: true, PCTHits: 7, PCTSeeds: 10, PCTBudget: 1000, StressRuns: 80},
		{Kernel: "k", Args: []string{"variant=a", "race=2"}, Oracle: "lost", Bound: 1, Schedules: 9, Exhausted: true,
			PCTSeeds: 10, StressRuns: 40, StressHits: 3},
		{Kernel: "k", Oracle: "crash", Failure: true, Detail: "vCPU 1 crashed: BUG\nmore", DFS: true, MinBound: 0, FoundAt: 12,
			Schedule: "cpus=2", Bound: 1, Schedules: 9, Exhausted: true},
	}
	var b bytes.Buffer
	require.NoError(t, WriteTable(&b, fs))
	want := "" +
		"scenario          variant/args      violation     stress  min bound  found after   PCT hits  schedule\n" +
		"hugetlb-truncate  variant=kravetz   none          0/85    -          -             -         bound 2 exhausted: 37 schedules\n" +
		"hugetlb-truncate  variant=no-ptl    found_mapped  0/80    2          1 schedule    7/10      cpus=2,15:0,20:1\n" +
		"k                 variant=a race=2  lost          3/40    -          -             0/10      none within bound 1: 9 schedules\n" +
		"k                 -                 crash         -       0          12 schedules  -         cpus=2\n" +
		"\n" +
		"k: crash: vCPU 1 crashed: BUG\n"
	assert.Equal(t, want, b.String())
}

// findings: each oracle with its smallest bound, counting the oracles a
// violation's detail names as fired too; the schedules DFS ran before it
// first found one; what only the stress runs saw, and the failures after
// the kernel's oracles.
func TestFindings(t *testing.T) {
	counters := []string{"a", "b", "c"}
	r := &explore.Result{Bound: 3, Schedules: 50, Exhausted: true, Violations: []explore.Violation{
		{Schedule: "s1", Preemptions: 3, Oracle: "b", Detail: "counted 1", FoundAt: 5},
		{Schedule: "s2", Preemptions: 2, Oracle: "a", Detail: "counted 2; also b: 1", FoundAt: 9},
		{Schedule: "s3", Preemptions: 1, Oracle: "hang", Detail: "timed out", FoundAt: 7},
		{Schedule: "s4", Preemptions: 2, Oracle: "b", Detail: "counted 1", FoundAt: 11},
	}}
	st := stressResult{runs: 20, seconds: 1, hits: map[string]int{"b": 4, "c": 1, "error": 2}, first: map[string]string{"b": "counted 1", "c": "counted 1", "error": "boom"}}
	k := Kernel{Name: "k", Args: []string{"variant=x"}}
	got := findings(k, counters, r, st)
	var oracles []string
	for _, f := range got {
		oracles = append(oracles, f.Oracle)
		assert.Equal(t, "k", f.Kernel)
		assert.Equal(t, []string{"variant=x"}, f.Args)
		assert.Equal(t, 20, f.StressRuns)
		assert.Equal(t, 50, f.Schedules)
	}
	require.Equal(t, []string{"a", "b", "c", "hang", "error"}, oracles)
	a, b, c, hang, e := got[0], got[1], got[2], got[3], got[4]
	assert.Equal(t, Finding{Kernel: "k", Args: []string{"variant=x"}, Oracle: "a", DFS: true, MinBound: 2, FoundAt: 9, Schedule: "s2",
		Bound: 3, Schedules: 50, Exhausted: true, StressRuns: 20, StressSeconds: 1}, a)
	assert.True(t, b.DFS)
	assert.Equal(t, 2, b.MinBound)
	assert.Equal(t, "s2", b.Schedule, "the first schedule with the fewest preemptions")
	assert.Equal(t, 5, b.FoundAt)
	assert.Equal(t, 4, b.StressHits)
	assert.False(t, c.DFS)
	assert.Equal(t, 1, c.StressHits)
	assert.False(t, c.Failure)
	assert.True(t, hang.Failure)
	assert.Equal(t, "timed out", hang.Detail)
	assert.Equal(t, 1, hang.MinBound)
	assert.True(t, e.Failure)
	assert.False(t, e.DFS)
	assert.Equal(t, "boom", e.Detail)

	none := findings(k, counters, &explore.Result{Bound: 2, Schedules: 30, Exhausted: true}, stressResult{runs: 8})
	require.Len(t, none, 1)
	assert.Empty(t, none[0].Oracle)
	assert.True(t, none[0].Exhausted)
	assert.Equal(t, 8, none[0].StressRuns)
}

// Select: every kernel of the catalogue is either surveyed or skipped as
// not embedded; names restrict the rows; an unknown name is refused,
// naming the scenarios.
func TestSelect(t *testing.T) {
	ks, skipped, err := Select(nil)
	require.NoError(t, err)
	for _, n := range Names() {
		_, embedded := guest.Lookup(n)
		surveyed := slices.ContainsFunc(ks, func(k Kernel) bool { return k.Name == n })
		assert.Equal(t, embedded, surveyed, n)
		assert.Equal(t, !embedded, slices.Contains(skipped, n), n)
	}
	ks, skipped, err = Select([]string{"hugetlb-truncate"})
	require.NoError(t, err)
	assert.Empty(t, skipped)
	var args []string
	for _, k := range ks {
		assert.Equal(t, "hugetlb-truncate", k.Name)
		assert.Equal(t, DefaultVCPUs, k.VCPUs)
		args = append(args, k.CmdLine())
	}
	assert.Equal(t, []string{"variant=kravetz", "variant=no-recheck", "variant=no-ptl", "variant=punch", "variant=punch-no-mutex"}, args)
	_, _, err = Select([]string{"hugetlb-truncate", "nosuch"})
	assert.ErrorContains(t, err, `unknown scenario "nosuch": the scenarios are hugetlb-truncate, dax-pmd-pte`)
}

// A survey of two hugetlb-truncate rows: Mike Kravetz's code exhausts the
// bound with nothing found; no-ptl's found_mapped comes with a schedule
// that needs a preemption, PCT searches and stress runs.
func TestSurveyHugetlbTruncate(t *testing.T) {
	needKVM(t)
	g, ok := guest.Lookup("hugetlb-truncate")
	require.True(t, ok)
	var ks []Kernel
	for _, v := range []string{"variant=kravetz", "variant=no-ptl"} {
		ks = append(ks, Kernel{Name: "hugetlb-truncate", Image: g.ELF, Args: []string{v}, VCPUs: DefaultVCPUs})
	}
	var started []string
	cfg := SurveyConfig{Bound: 2, Workers: 1, PCTSeeds: 2, PCTBudget: 50, Stress: 200 * time.Millisecond,
		Start: func(row string) { started = append(started, row) }}
	fs, err := Survey(context.Background(), cfg, ks)
	require.NoError(t, err)
	assert.Equal(t, []string{"hugetlb-truncate variant=kravetz", "hugetlb-truncate variant=no-ptl"}, started)

	byRow := map[string][]Finding{}
	for _, f := range fs {
		byRow[f.Label()] = append(byRow[f.Label()], f)
		assert.False(t, f.Failure, "%s: %s: %s", f.Label(), f.Oracle, f.Detail)
		assert.Positive(t, f.StressRuns, "%s: stress runs", f.Label())
	}
	kravetz := byRow["hugetlb-truncate variant=kravetz"]
	require.Len(t, kravetz, 1, "%+v", kravetz)
	assert.Empty(t, kravetz[0].Oracle, "%+v", kravetz[0])
	assert.True(t, kravetz[0].Exhausted, "%+v", kravetz[0])
	assert.Equal(t, 2, kravetz[0].Bound)
	assert.Positive(t, kravetz[0].Schedules)

	var found *Finding
	for i, f := range byRow["hugetlb-truncate variant=no-ptl"] {
		if f.Oracle == "found_mapped" {
			found = &byRow["hugetlb-truncate variant=no-ptl"][i]
		}
	}
	require.NotNil(t, found, "no-ptl: no found_mapped in %+v", byRow["hugetlb-truncate variant=no-ptl"])
	assert.True(t, found.DFS, "%+v", found)
	assert.GreaterOrEqual(t, found.MinBound, 1, "the default schedule does not show it")
	assert.Positive(t, found.FoundAt)
	require.NotEmpty(t, found.Schedule)
	_, err = explore.ParseSchedule(found.Schedule)
	assert.NoError(t, err, found.Schedule)
	assert.Equal(t, 2, found.PCTSeeds)
	assert.LessOrEqual(t, found.PCTHits, 2)
	assert.LessOrEqual(t, found.StressHits, found.StressRuns)

	var b bytes.Buffer
	require.NoError(t, WriteTable(&b, fs))
	assert.Contains(t, b.String(), found.Schedule)
}
