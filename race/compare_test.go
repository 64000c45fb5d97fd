package race

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVerdictHas(t *testing.T) {
	v := Verdict("races; loses dirty bits")
	assert.True(t, v.Has(VerdictRaces))
	assert.True(t, v.Has(VerdictLosesDirty))
	assert.False(t, v.Has(VerdictCrashes))
	assert.False(t, VerdictCorrect.Has(VerdictRaces))
}

// Every defect has an oracle and a verdict of its own, and every verdict
// word Judge can give is one of them.
func TestDefects(t *testing.T) {
	oracles, verdicts := map[string]bool{}, map[Verdict]bool{}
	for _, d := range Defects {
		assert.False(t, oracles[d.Oracle], "oracle %s twice", d.Oracle)
		assert.False(t, verdicts[d.Verdict], "verdict %q twice", d.Verdict)
		assert.NotContains(t, string(d.Verdict), ";")
		oracles[d.Oracle], verdicts[d.Verdict] = true, true
		if d.stat != 0 {
			assert.NotEmpty(t, d.what, d.Oracle)
			assert.Equal(t, d.Oracle, statNames[d.stat], "a kernel oracle is named after its counter")
		}
	}
	assert.Len(t, verdictRank, len(Defects)+2)
}

func TestJudge(t *testing.T) {
	tests := []struct {
		r    Result
		want Verdict
	}{
		{Result{PinWindows: 5000}, VerdictCorrect},
		{Result{PinWindows: 10}, VerdictInconclusive},
		{Result{PinWindows: 5000, IneffectiveYoung: 3}, VerdictNeverYoung},
		{Result{PinWindows: 5000, LostDirty: 1}, VerdictLosesDirty},
		{Result{PinWindows: 5000, IneffectiveYoung: 3, LostDirty: 1}, "loses dirty bits; never clears young"},
		{Result{PinWindows: 5000, LostDirty: 1, UseAfterFree: 2}, "use-after-free; loses dirty bits"},
		{Result{PinWindows: 5000, UseAfterFree: 2, Oopses: 1}, "races; use-after-free"},
		{Result{PinWindows: 10, Crashes: 1}, VerdictCrashes},
		{Result{PinWindows: 5000, Oopses: 1, Crashes: 2, AuditViolations: 1}, "audit violation; races; crashes"},
		{Result{PinWindows: 5000, ReclaimHidden: 7}, VerdictHidden},
		{Result{PinWindows: 5000, ReclaimHidden: 7, ForkNoMem: 2}, "forks fail for memory; reclaim blocked by hidden mappings"},
		{Result{PinWindows: 0, ForkNoMem: 2}, VerdictForkNoMem},
		{Result{PinWindows: 5000, ForkNoMem: 1, IneffectiveYoung: 3, LostDirty: 1}, "loses dirty bits; forks fail for memory; never clears young"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Judge(&tt.r), "%+v", tt.r)
	}
}

// comparison is a comparison as Compare makes one, from made-up results.
func comparison() *Comparison {
	c := &Comparison{DurationS: 15, VCPUs: 2}
	for _, r := range []Result{
		{Strategy: "none", Oopses: 40, PinWindows: 4000, YoungClearUs: 200, ForkExitUs: 3300, ExitsPerYoung: 1.96},
		{Strategy: "generic-set-pte", LostDirty: 3, PinWindows: 5000, YoungClearUs: 310, ForkExitUs: 3460, ExitsPerYoung: 1.02},
		{Strategy: "pvop-hypercall", PinWindows: 5000, YoungClearUs: 320, ForkExitUs: 3750, ExitsPerYoung: 1},
		{Strategy: "lock-pte-pages", PinWindows: 5000, YoungClearUs: 160, ForkExitUs: 3230, ExitsPerYoung: 1.91},
	} {
		r := r
		c.Entries = append(c.Entries, Entry{Result: &r, Verdict: Judge(&r)})
	}
	c.rank()
	return c
}

func TestCompareRank(t *testing.T) {
	c := comparison()
	assert.Equal(t, "lock-pte-pages", c.Cheapest, "none is cheaper, but wrong")
	assert.Equal(t, 2.0, c.Entries[2].YoungClearRatio)
	assert.Equal(t, 1.25, c.Entries[0].YoungClearRatio)
}

func TestCompareTable(t *testing.T) {
	var b strings.Builder
	require.NoError(t, comparison().WriteTable(&b))
	lines := strings.Split(b.String(), "\n")
	require.Len(t, lines, 7)
	assert.Equal(t, []string{"strategy", "verdict", "oopses", "lost", "dirty"}, strings.Fields(lines[0])[:5])
	assert.Equal(t, []string{"none", "races", "40", "0", "0", "0", "0", "0", "0", "4000", "200.0", "1.25", "3300", "1.96"}, strings.Fields(lines[1]))
	assert.Equal(t, []string{"generic-set-pte", "loses", "dirty", "bits", "0", "3"}, strings.Fields(lines[2])[:6])
	assert.Equal(t, []string{"lock-pte-pages", "correct", "0", "0", "0", "0", "0", "0", "0", "5000", "160.0", "1.00", "3230", "1.91"}, strings.Fields(lines[4]))
	assert.Contains(t, lines[5], "young clear cost over lock-pte-pages's")
}

func TestCompareJSON(t *testing.T) {
	b, err := json.Marshal(comparison())
	require.NoError(t, err)
	var m struct {
		Cheapest   string           `json:"cheapest_correct"`
		Strategies []map[string]any `json:"strategies"`
	}
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Equal(t, "lock-pte-pages", m.Cheapest)
	require.Len(t, m.Strategies, 4)
	s := m.Strategies[1]
	assert.Equal(t, "generic-set-pte", s["strategy"], "the run's fields, inline")
	assert.Equal(t, "loses dirty bits", s["verdict"])
	assert.Equal(t, 3.0, s["lost_dirty"])
	assert.InDelta(t, 310.0/160, s["young_clear_ratio"], 1e-9)
}

func TestCompareChart(t *testing.T) {
	base := filepath.Join(t.TempDir(), "chart")
	require.NoError(t, comparison().SaveChart(base))
	svg, err := os.ReadFile(base + ".svg")
	require.NoError(t, err)
	for _, s := range []string{"<svg", "lock-pte-pages", "never clears young", "µs per ptep_test_and_clear_young"} {
		assert.Contains(t, string(svg), s)
	}
	png, err := os.ReadFile(base + ".png")
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")), "a PNG")
}
