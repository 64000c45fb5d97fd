package race

import (
	"encoding/binary"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStats(t *testing.T) {
	b := make([]byte, statsSize)
	for i := 0; i < statsSize/8; i++ {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(100+i))
	}
	s := parseStats(b)
	assert.Equal(t, uint64(100), s[statMagic])
	assert.Equal(t, uint64(102), s[statForks])
	assert.Equal(t, uint64(108), s[statLostDirty], "offset 64")
	assert.Equal(t, uint64(110), s[statUseAfterFree], "offset 80")
	assert.Equal(t, uint64(114), s[statYoungCalls], "offset 112, the last")

	var sum stats
	sum.add(s)
	sum.add(s)
	assert.Zero(t, sum[statMagic], "the magic is not added up")
	assert.Equal(t, uint64(2*102), sum[statForks])
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
	assert.Equal(t, "strategy=hv-pin-aware pages=8 window=50 pressure=1 marks=0 iters=7", c.CmdLine(7))
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
		"use_after_free", "audit_violations", "first_oops_s", "young_clear_us", "fork_exit_us", "exits_per_young_clear"} {
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
