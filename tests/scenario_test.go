package tests

import (
	"context"
	"strings"
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

// row is one labelled scheduling point of a drawn interleaving: the
// vCPU whose column it is in, and its label.
type row struct {
	cpu   int
	label string
}

// drawnRows parses scenario.Interleaving's drawing back into rows.
func drawnRows(t *testing.T, drawing string) []row {
	t.Helper()
	var rows []row
	for _, line := range strings.Split(drawing, "\n") {
		label := strings.TrimLeft(line, " ")
		if label == "" || strings.HasPrefix(label, "CPU ") || strings.HasPrefix(label, "-> ") {
			continue
		}
		indent := len(line) - len(label)
		require.Zero(t, indent%40, "a label between columns: %q", line)
		rows = append(rows, row{indent / 40, label})
	}
	return rows
}

// isSubsequence reports whether want's rows appear in got in order.
func isSubsequence(want, got []row) bool {
	i := 0
	for _, r := range got {
		if i < len(want) && r == want[i] {
			i++
		}
	}
	return i == len(want)
}

// column is the rows of one vCPU's column.
func column(rows []row, cpu int) []row {
	var c []row
	for _, r := range rows {
		if r.cpu == cpu {
			c = append(c, r)
		}
	}
	return c
}

// scenarioCase is a scenario kernel's variant and what the explorer must
// find in it.
type scenarioCase struct {
	kernel string
	args   []string
	oracle string // "" for none: the bound must be exhausted
	// thread is the diagram of the mailing-list thread, as rows: each
	// column's rows must be drawn in that column, in that order.
	thread []row
	// order is the crux of the diagram: rows that must be drawn in this
	// order across the columns.
	order []row
}

// checkScenario explores c to the bound: a fix exhausts it with no
// violation; a bug's violation is the expected oracle, drawn with the
// thread's functions in the thread's columns, and the schedule printed
// replays it from a fresh boot with the same trace, while the default
// schedule shows nothing.
func checkScenario(t *testing.T, c scenarioCase, bound int) {
	t.Helper()
	k := scenarioKernel(t, c.kernel, c.args...)
	tg, err := scenario.Target(context.Background(), k, nil)
	require.NoError(t, err)
	defer tg.Snapshot.Close()
	r, err := explore.Run(context.Background(), tg, explore.Config{Algo: explore.DFS, Bound: bound})
	require.NoError(t, err)
	if c.oracle == "" {
		assert.Empty(t, r.Violations)
		assert.True(t, r.Exhausted, "bound %d exhausted: %+v", bound, r)
		assert.Greater(t, r.Schedules, 10, "schedules were explored")
		return
	}
	require.NotEmpty(t, r.Violations, "%+v", r)
	v := r.Violations[0]
	assert.Equal(t, c.oracle, v.Oracle, "%+v", v)
	assert.NotZero(t, v.Preemptions, "the default schedule does not show it")

	rows := drawnRows(t, v.Interleaving)
	for cpu := 0; cpu < 2; cpu++ {
		assert.True(t, isSubsequence(column(c.thread, cpu), column(rows, cpu)),
			"CPU %d's column names the thread's functions in its order:\n%s", cpu, v.Interleaving)
	}
	assert.True(t, isSubsequence(c.order, rows), "drawn in the thread's order %v:\n%s", c.order, v.Interleaving)
	assert.Contains(t, v.Interleaving, "-> "+c.oracle)

	res, events, counts := replayScenario(t, k, v.Schedule)
	assert.Equal(t, xen.ShutdownPoweroff, res.Reason)
	assert.Equal(t, v.Steps, res.Steps)
	assert.Equal(t, v.TraceSHA256, trace.Digest(events), "the replay's trace differs")
	fired := map[string]uint64{}
	for _, n := range counts {
		fired[n.Oracle] = n.N
	}
	assert.NotZero(t, fired[c.oracle], "the replay counts %s: %v", c.oracle, counts)

	// The default schedule runs vCPU 0's side to the end first.
	_, _, counts = replayScenario(t, k, "cpus=2")
	for _, n := range counts {
		assert.Zero(t, n.N, "the default schedule: %s", n.Oracle)
	}
}

// scenarioBound is the preemption bound the scenario tests explore to: 3,
// or 2 with -short (under the race detector).
func scenarioBound() int {
	if testing.Short() {
		return 2
	}
	return 3
}

// TestHugetlbTruncate: the explorer finds each broken variant's violation
// and the schedule it prints replays it byte for byte from a fresh boot;
// Mike Kravetz's code and the hole punch under the fault mutex exhaust
// the bound with no violation.
func TestHugetlbTruncate(t *testing.T) {
	needKVM(t)
	truncate := []row{{0, "hugetlb_no_page"}, {1, "hugetlb_vmtruncate: i_size_write"}, {0, "set_huge_pte_at"}, {1, "remove_inode_hugepages"}}
	punch := []row{{0, "hugetlb_no_page"}, {1, "remove_inode_hugepages"}, {0, "set_huge_pte_at"}}
	for _, c := range []scenarioCase{
		{args: []string{"variant=kravetz"}},
		{args: []string{"variant=punch"}},
		{args: []string{"variant=no-recheck"}, oracle: "found_mapped", thread: truncate, order: truncate},
		{args: []string{"variant=no-ptl"}, oracle: "found_mapped", thread: truncate, order: truncate},
		{args: []string{"variant=punch-no-mutex"}, oracle: "mapped_in_hole", thread: punch, order: punch},
	} {
		c.kernel = "hugetlb-truncate"
		t.Run(c.args[0], func(t *testing.T) { checkScenario(t, c, scenarioBound()) })
	}
}

// TestDaxPMDPTE: Ross Zwisler's two races between colliding DAX PMD and
// PTE faults are found in 4.11's code and drawn with his commit's
// functions in its columns; his fix exhausts the bound on both.
func TestDaxPMDPTE(t *testing.T) {
	needKVM(t)
	race1 := []row{
		{0, "__handle_mm_fault"}, {0, "create_huge_pmd"}, {0, "handle_pte_fault"},
		{1, "__handle_mm_fault"}, {1, "create_huge_pmd"}, {1, "dax_iomap_pmd_fault"},
		{0, "dax_iomap_pte_fault"},
	}
	race2 := []row{
		{0, "__handle_mm_fault"}, {0, "create_huge_pmd"}, {0, "dax_iomap_pmd_fault"},
		{0, "__handle_mm_fault"}, {0, "handle_pte_fault"}, {0, "dax_iomap_pte_fault"},
		{1, "__handle_mm_fault"}, {1, "create_huge_pmd"}, {1, "dax_iomap_pmd_fault"},
	}
	for _, c := range []scenarioCase{
		{args: []string{"variant=fixed", "race=1"}},
		{args: []string{"variant=fixed", "race=2"}},
		// No order across the columns: a label comes before its step, and
		// the pmd writes are hypercalls, scheduling points of their own,
		// so another vCPU's rows can fall between a label and its write;
		// which of the race's orders DFS finds first depends on the bound.
		{args: []string{"variant=4.11", "race=1"}, oracle: "pte_in_huge_page", thread: race1},
		{args: []string{"variant=4.11", "race=2"}, oracle: "orphaned_pte_table", thread: race2},
	} {
		c.kernel = "dax-pmd-pte"
		t.Run(strings.Join(c.args, ","), func(t *testing.T) { checkScenario(t, c, scenarioBound()) })
	}
}

// TestDaxWriteFault: write(2) against a read fault on a hole leaves the
// zero page mapped over written data in 4.11, drawn as Jan Kara's commit
// draws it; the fix exhausts the bound; its entry-lock half alone does
// only while another page keeps the write's invalidation running, and
// the unmap-range half alone never does.
func TestDaxWriteFault(t *testing.T) {
	needKVM(t)
	thread := []row{
		{1, "dax_iomap_pte_fault"}, {1, "->iomap_begin"},
		{0, "dax_iomap_rw"}, {0, "->iomap_begin"}, {0, "invalidate_inode_pages2_range"},
		{1, "grab_mapping_entry"},
	}
	for _, c := range []scenarioCase{
		{args: []string{"variant=fixed"}},
		{args: []string{"variant=entry-lock"}},
		{args: []string{"variant=4.11"}, oracle: "mmap_read_differs", thread: thread, order: thread},
		{args: []string{"variant=unmap-range"}, oracle: "mmap_read_differs", thread: thread, order: thread},
		// With no other page cached, 4.11's nrpages test skips the
		// write's invalidation: the entry lock alone is not waited for.
		{args: []string{"variant=fixed", "cached=0"}},
		{args: []string{"variant=entry-lock", "cached=0"}, oracle: "mmap_read_differs",
			thread: []row{{1, "->iomap_begin"}, {0, "->iomap_begin"}, {1, "dax_load_hole"}},
			order:  []row{{1, "->iomap_begin"}, {0, "->iomap_begin"}, {1, "dax_load_hole"}}},
	} {
		c.kernel = "dax-write-fault"
		t.Run(strings.Join(c.args, ","), func(t *testing.T) { checkScenario(t, c, scenarioBound()) })
	}
}

// TestDaxUnmapRange: unmap_mapping_range() without i_mmap_lock for DAX
// walks i_mmap while an mmap() moves its vmas, and a revoked device's
// page stays mapped; drawn with the walk in the revoke's column and the
// insert between its steps; locking always exhausts the bound.
func TestDaxUnmapRange(t *testing.T) {
	needKVM(t)
	walk := []row{{1, "vma_interval_tree_insert"}, {0, "unmap_mapping_range_tree"}, {1, "vma_interval_tree_insert"}}
	for _, c := range []scenarioCase{
		{args: []string{"variant=lock"}},
		{args: []string{"variant=dax-no-lock"}, oracle: "survives_unmap",
			thread: append(walk, row{1, "__dax_fault"}), order: walk},
	} {
		c.kernel = "dax-unmap-range"
		t.Run(c.args[0], func(t *testing.T) { checkScenario(t, c, scenarioBound()) })
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
