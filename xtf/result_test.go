package xtf

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The consoles here are made up in the shape of XTF's output: the banner,
// the environment, the title, the test's own lines, the result.
func TestParseConsole(t *testing.T) {
	const head = "--- Xen Test Framework ---\nEnvironment: PV 64bit (Long mode 4 levels)\nA made-up test\n"
	for _, tt := range []struct {
		name string
		out  string
		want Report
	}{
		{"nothing", "", Report{}},
		{"no result", head + "probing the frobnicator\n", Report{Framework: true}},
		{"success", head + "Test result: SUCCESS\n", Report{Result: Success, Line: 4, Framework: true}},
		{"success without banner", "Test result: SUCCESS\n", Report{Result: Success, Line: 1}},
		{"crlf and trailing blanks", head + "Test result: SKIP \r\n", Report{Result: Skip, Line: 4, Framework: true}},
		{
			"success with warnings", head + "Warning: the widget wobbled\nTest result: SUCCESS with warnings\n",
			Report{Result: Success, Warnings: true, Line: 5, Reason: "Warning: the widget wobbled", Framework: true},
		},
		{
			"failure: the last reason", head + "Fail: first thing went wrong\n  checking more\n  Fail: second thing, got 3 want 4\nTest result: FAILURE\n",
			Report{Result: Failure, Line: 7, Reason: "Fail: second thing, got 3 want 4", Framework: true},
		},
		{
			"skip", head + "Skip: no gadget on this host\nTest result: SKIP\n",
			Report{Result: Skip, Line: 5, Reason: "Skip: no gadget on this host", Framework: true},
		},
		{
			"error without a prefix", head + "Test did not say how it went\nTest result: ERROR\n",
			Report{Result: Error, Line: 5, Reason: "Test did not say how it went", Framework: true},
		},
		{
			"success ignores other lines", head + "looked at 12 things\nTest result: SUCCESS\n",
			Report{Result: Success, Line: 5, Framework: true},
		},
		{
			"the title is no reason", head + "Test result: FAILURE\n",
			Report{Result: Failure, Line: 4, Framework: true},
		},
		{
			"the last result line counts", head + "Error: one\nTest result: ERROR\nTest result: FAILURE\n",
			Report{Result: Failure, Line: 6, Framework: true},
		},
		{
			"not result lines", head + " Test result: SUCCESS\nTest result: SUCCESS!\nTest result: RUNNING\nTest result: success\nTest result: FAILURE with warnings and more\n",
			Report{Framework: true},
		},
		{
			"panic", head + "******************************\nPANIC: the sky fell in\n******************************\n",
			Report{Panic: "the sky fell in", Framework: true},
		},
		{"no newline at the end", "Fail: x\nTest result: FAILURE", Report{Result: Failure, Line: 2, Reason: "Fail: x"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, ParseConsole([]byte(tt.out)))
		})
	}
}

func TestResultPassed(t *testing.T) {
	for r, want := range map[Result]bool{Success: true, Skip: true, Error: false, Failure: false, "": false} {
		assert.Equal(t, want, r.Passed(), r)
	}
}

func FuzzParseConsole(f *testing.F) {
	f.Add([]byte("--- Xen Test Framework ---\nEnvironment: PV 64bit\nTitle\nFail: x\nTest result: FAILURE\n"))
	f.Add([]byte("Test result: SUCCESS with warnings\r\n"))
	f.Fuzz(func(t *testing.T, out []byte) {
		r := ParseConsole(out)
		lines := bytes.Split(out, []byte("\n"))
		if r.Result == "" {
			require.Zero(t, r.Line)
			require.False(t, r.Warnings)
			require.Empty(t, r.Reason)
			return
		}
		require.Contains(t, Results, r.Result)
		require.LessOrEqual(t, r.Line, len(lines))
		line := strings.TrimRight(string(lines[r.Line-1]), " \t\r")
		want := "Test result: " + string(r.Result)
		if r.Warnings {
			want += " with warnings"
		}
		require.Equal(t, want, line)
		for _, l := range lines[r.Line:] {
			_, _, ok := parseResult(strings.TrimRight(string(l), " \t\r"))
			require.False(t, ok, "a result line after the last: %q", l)
		}
		require.NotContains(t, r.Reason, "\n")
		require.Equal(t, strings.TrimSpace(r.Reason), r.Reason)
		if r.Reason != "" {
			require.Contains(t, string(out), r.Reason)
		}
	})
}
