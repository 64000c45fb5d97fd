package race

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pvsim/pvsim/explore"
)

// A search's violations become one finding per defect, at the smallest
// bound any schedule showed it, counting defects named in a detail too.
func TestFindings(t *testing.T) {
	r := &explore.Result{Bound: 3, Schedules: 120, Exhausted: true, Violations: []explore.Violation{
		{Schedule: "cpus=2", Oracle: "ineffective_young", Detail: "2 young clears that left the pte young", FoundAt: 1},
		{Schedule: "cpus=2,23:0,27:1,29:0", Preemptions: 3, Oracle: "lost_dirty", FoundAt: 40,
			Detail: "1 Dirty bits lost; also ineffective_young: 2 young clears that left the pte young"},
		{Schedule: "cpus=2,23:0,28:1", Preemptions: 2, Oracle: "lost_dirty", Detail: "1 Dirty bits lost", FoundAt: 77},
	}}
	assert.Equal(t, []DefectFinding{
		{Strategy: "s", Oracle: "lost_dirty", MinBound: 2, Schedule: "cpus=2,23:0,28:1", FoundAt: 40, Bound: 3, Schedules: 120, Exhausted: true},
		{Strategy: "s", Oracle: "ineffective_young", MinBound: 0, Schedule: "cpus=2", FoundAt: 1, Bound: 3, Schedules: 120, Exhausted: true},
	}, findings("s", r))

	clean := findings("fix", &explore.Result{Bound: 3, Schedules: 2964, Exhausted: true})
	assert.Equal(t, []DefectFinding{{Strategy: "fix", Bound: 3, Schedules: 2964, Exhausted: true}}, clean)

	var b strings.Builder
	assert.NoError(t, WriteDefectTable(&b, append(findings("s", r), clean...)))
	assert.Contains(t, b.String(), "fix       none")
	assert.Contains(t, b.String(), "bound 3 exhausted: 2964 schedules")
	assert.Contains(t, b.String(), "lost_dirty")
}

// firedIn reads back what CheckRun writes: the worst oracle, and the
// others its detail names.
func TestFiredIn(t *testing.T) {
	v := &explore.Violation{Oracle: "lost_dirty",
		Detail: "1 Dirty bits lost" + alsoFired("ineffective_young") + "2 young clears that left the pte young"}
	for _, tt := range []struct {
		oracle, detail string
		ok             bool
	}{
		{"lost_dirty", "1 Dirty bits lost", true},
		{"ineffective_young", "2 young clears that left the pte young", true},
		{"use_after_free", "", false},
	} {
		d, ok := firedIn(v, tt.oracle)
		assert.Equal(t, tt.ok, ok, tt.oracle)
		assert.Equal(t, tt.detail, d, tt.oracle)
	}
}
