package race

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/guestsym"
	"github.com/pvsim/pvsim/x86"
)

// The counters are read by member name from the race kernel's DWARF: a
// reordered struct race_stats still reads right, and a missing member or
// one of the wrong size is an error, not a mislabelled oracle.
func TestStatsLayout(t *testing.T) {
	l, err := kernelStatsLayout()
	require.NoError(t, err)
	b := make([]byte, l.size)
	for i, off := range l.off {
		binary.LittleEndian.PutUint64(b[off:], uint64(100+i))
	}
	s := l.parse(b)
	for i := range s {
		assert.Equal(t, uint64(100+i), s[i], statNames[i])
	}

	// A layout with two members swapped and one more member.
	members := map[string]guestsym.Member{}
	for i, name := range statNames {
		members[name] = guestsym.Member{Offset: int64(8 * (nrStats - 1 - i)), Size: 8}
	}
	members["extra"] = guestsym.Member{Offset: 8 * nrStats, Size: 8}
	swapped, err := layoutOf(&guestsym.StructLayout{Size: 8 * (nrStats + 1), Members: members})
	require.NoError(t, err)
	assert.Equal(t, 0, swapped.off[nrStats-1])
	assert.Equal(t, 8*(nrStats-1), swapped.off[statMagic])

	delete(members, "lost_dirty")
	_, err = layoutOf(&guestsym.StructLayout{Size: 8 * (nrStats + 1), Members: members})
	assert.ErrorContains(t, err, "no member lost_dirty")
	members["lost_dirty"] = guestsym.Member{Offset: 0, Size: 4}
	_, err = layoutOf(&guestsym.StructLayout{Size: 8 * (nrStats + 1), Members: members})
	assert.ErrorContains(t, err, "race_stats.lost_dirty: 4 bytes")

	var sum stats
	sum.add(s)
	sum.add(s)
	assert.Zero(t, sum[statMagic], "the magic is not added up")
	assert.Equal(t, 2*s[statForks], sum[statForks])
}

func TestConfigCheck(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		err  string
	}{
		{"defaults", Config{Strategy: "none", Duration: time.Second}, ""},
		{"unknown strategy", Config{Strategy: "nope", Duration: time.Second}, `unknown strategy "nope"`},
		{"one vCPU", Config{Strategy: "none", VCPUs: 1, Duration: time.Second}, "the race needs 2"},
		{"too many pages", Config{Strategy: "none", Pages: 65, Duration: time.Second}, "65 pages"},
		{"no end", Config{Strategy: "none"}, "duration or a number of trials"},
		{"negative window", Config{Strategy: "none", Window: -1, Trials: 1}, "negative window"},
		{"lowmem under pressure", Config{Strategy: "none", LowMem: true, Pressure: true, Trials: 1}, "lowmem and pressure together"},
		{"lowmem on one page", Config{Strategy: "none", LowMem: true, Pages: 1, Trials: 1}, "lowmem with 1 pages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Check()
			if tt.err == "" {
				require.NoError(t, err)
				assert.Equal(t, DefaultVCPUs, tt.cfg.VCPUs)
				assert.Equal(t, DefaultPages, tt.cfg.Pages)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.err)
		})
	}
}

func TestCmdLine(t *testing.T) {
	c := Config{Strategy: "hv-pin-aware", Pages: 8, Window: 50 * time.Microsecond, Pressure: true}
	assert.Equal(t, "strategy=hv-pin-aware pages=8 window=50 pressure=1 lowmem=0 marks=0 iters=7", c.CmdLine(7))
	c = Config{Strategy: "pin-before-visible", Pages: 16, LowMem: true, Marks: true}
	assert.Equal(t, "strategy=pin-before-visible pages=16 window=0 pressure=0 lowmem=1 marks=1 iters=0", c.CmdLine(0))
}

// TestResult checks the derived figures and the JSON field names that
// `pvsim race --json` promises.
func TestResult(t *testing.T) {
	r := &runner{cfg: Config{Strategy: "none", VCPUs: 2, Pages: 16}, start: time.Now(), boots: 3, oopses: 2,
		firstOops: 1500 * time.Millisecond, oops: &OopsReport{Function: "ptep_test_and_clear_young"}}
	r.total[statForks], r.total[statPinWindows], r.total[statForkExitNs] = 4, 8, 4000
	r.total[statYoungClears], r.total[statYoungClearNs], r.total[statYoungClearExits] = 10, 25000, 20
	res := r.result()
	assert.Equal(t, 1.0, res.ForkExitUs)
	assert.Equal(t, 2.5, res.YoungClearUs)
	assert.Equal(t, 2.0, res.ExitsPerYoung)
	require.NotNil(t, res.FirstOopsS)
	assert.Equal(t, 1.5, *res.FirstOopsS)

	b, err := json.Marshal(res)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	for _, k := range []string{"strategy", "trials", "pin_windows", "oopses", "lost_dirty", "ineffective_young",
		"use_after_free", "reclaim_hidden", "fork_nomem", "direct_reclaimed", "lowmem", "audit_violations", "first_oops_s",
		"young_clear_us", "fork_exit_us", "exits_per_young_clear"} {
		assert.Contains(t, m, k)
	}
	assert.Equal(t, 4.0, m["trials"])

	r.oops, r.total = nil, stats{}
	b, err = json.Marshal(r.result())
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Nil(t, m["first_oops_s"], "no oops: null")
	assert.Equal(t, 0.0, m["young_clear_us"], "no division by zero")
}

// Crashes are counted by class, at most maxClasses of them: the rest
// under "other".
func TestCountClass(t *testing.T) {
	var cs []CrashClass
	cs = countClass(cs, CrashClass{Where: "f", Why: "a"})
	cs = countClass(cs, CrashClass{Where: "f", Why: "a"})
	cs = countClass(cs, CrashClass{Where: "g", Why: "a"})
	assert.Equal(t, []CrashClass{{"f", "a", 2}, {"g", "a", 1}}, cs)
	for i := range 3 * maxClasses {
		cs = countClass(cs, CrashClass{Why: fmt.Sprint(i)})
	}
	assert.Len(t, cs, maxClasses)
	assert.Equal(t, CrashClass{Why: "other", Count: 3*maxClasses - (maxClasses - 3)}, cs[maxClasses-1])
	total := 0
	for _, c := range cs {
		total += c.Count
	}
	assert.Equal(t, 3+3*maxClasses, total, "nothing is lost")
}

// Only a crash on a bounced write fault on a frame that is not an L1 in
// use is the race's oops.
func TestIsRaceOops(t *testing.T) {
	write := &x86.Exception{Vector: x86.VectorPF, ErrorCode: x86.PFPresent | x86.PFWrite}
	read := &x86.Exception{Vector: x86.VectorPF, ErrorCode: x86.PFPresent}
	why := "not emulated: frame 0x202 is not an L1 pagetable in use (none, type count 0)"
	for _, tt := range []struct {
		name string
		o    *guestsym.Oops
		want bool
	}{
		{"the race", &guestsym.Oops{Fault: write, NotEmulated: why}, true},
		{"no report", nil, false},
		{"a BUG, no fault", &guestsym.Oops{Text: "kernel BUG at lib/xen_pin.c:10!"}, false},
		{"a read fault", &guestsym.Oops{Fault: read, NotEmulated: why}, false},
		{"a write the hypervisor refused to validate", &guestsym.Oops{Fault: write, NotEmulated: "not emulated: lock btr would write ..."}, false},
	} {
		assert.Equal(t, tt.want, isRaceOops(tt.o), tt.name)
	}
}
