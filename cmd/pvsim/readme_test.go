package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/race"
)

// readme is the repository's README.
func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	return string(b)
}

// transcript is the output the README shows for the command line cmd: the
// lines after "$ cmd" up to the next "$ " line or the end of the block.
func transcript(t *testing.T, doc, cmd string) string {
	t.Helper()
	_, after, ok := strings.Cut(doc, "\n$ "+cmd+"\n")
	require.True(t, ok, "the README shows no %q", cmd)
	var lines []string
	for _, l := range strings.Split(after, "\n") {
		if strings.HasPrefix(l, "$ ") || strings.HasPrefix(l, "```") {
			break
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n") + "\n"
}

// timing is the line of a search's output that measures the host: its
// figures are left out of the comparison.
var timing = regexp.MustCompile(`(?m)^  \d+ schedules in [0-9.]+s \([0-9.]+/s, (\d+) workers\), reset \d+ µs;`)

func withoutTimes(s string) string {
	return timing.ReplaceAllString(s, "  N schedules in Ts (R/s, $1 workers), reset U µs;")
}

// The README's explore transcript is what this build prints, but for the
// times: the search, the violation, its schedule, trace digest and the
// drawing of the race.
func TestREADMEExploreTranscript(t *testing.T) {
	needKVM(t)
	want := transcript(t, readme(t), "pvsim explore --strategy none")
	status, stdout, stderr := pvsim("explore", "--strategy", "none")
	require.Equal(t, exitViolation, status, stderr)
	assert.Equal(t, withoutTimes(want), withoutTimes(stdout))
}

// oracleVerdict is the verdict word that names each explore oracle.
func oracleVerdict(oracle string) (race.Verdict, bool) {
	for _, d := range race.Defects {
		if d.Oracle == oracle {
			return d.Verdict, true
		}
	}
	return "", false
}

// Every verdict in the README's comparison table is one this build's
// Judge can give, and names every defect the README's explore table
// (explore --all-strategies) finds for that strategy, or the README says
// why stress does not see it: "`S` also <verdict words>".
func TestREADMEVerdicts(t *testing.T) {
	doc := readme(t)
	_, table, ok := strings.Cut(doc, "\nstrategy            verdict")
	require.True(t, ok, "no comparison table in the README")
	table, _, _ = strings.Cut(table, "```")
	verdicts := map[string]race.Verdict{}
	for _, l := range strings.Split(table, "\n")[1:] {
		f := strings.Fields(l)
		if len(f) < 2 || !slices.Contains(race.Strategies, f[0]) {
			continue
		}
		// The verdict runs up to the first number.
		var words []string
		for _, w := range f[1:] {
			if strings.IndexFunc(w, func(r rune) bool { return r < '0' || r > '9' }) < 0 {
				break
			}
			words = append(words, w)
		}
		verdicts[f[0]] = race.Verdict(strings.Join(words, " "))
	}
	require.Len(t, verdicts, len(race.Strategies))
	known := []race.Verdict{race.VerdictCorrect, race.VerdictInconclusive}
	for _, d := range race.Defects {
		known = append(known, d.Verdict)
	}
	for s, v := range verdicts {
		for _, d := range strings.Split(string(v), "; ") {
			assert.Contains(t, known, race.Verdict(d), "%s: %q is no verdict of this build", s, d)
		}
	}

	found := transcript(t, doc, "pvsim explore --all-strategies")
	defects := 0
	for _, l := range strings.Split(found, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || !slices.Contains(race.Strategies, f[0]) {
			continue
		}
		s, oracle := f[0], f[1]
		if oracle == "none" {
			assert.Equal(t, race.VerdictCorrect, verdicts[s], "%s: explore exhausted its bound", s)
			continue
		}
		defects++
		want, ok := oracleVerdict(oracle)
		require.True(t, ok, "%s: unknown oracle %q", s, oracle)
		if !verdicts[s].Has(want) {
			assert.Contains(t, doc, "`"+s+"` also "+strings.Fields(string(want))[0],
				"%s: explore finds %s, the verdict %q lacks %q, and the README does not say why", s, oracle, verdicts[s], want)
		}
	}
	assert.Positive(t, defects, "the README's explore table lists no defect")
}
