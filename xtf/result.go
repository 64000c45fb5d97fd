// Package xtf is the Xen Test Framework's result protocol and test
// configuration files, as pvsim reads them.
//
// An XTF test reports its outcome on its console: it prints its reasons
// as it goes ("Fail: ...", "Skip: ...") and, last, one line
//
//	Test result: SUCCESS|SKIP|ERROR|FAILURE[ with warnings]
//
// before it powers off (ParseConsole). XTF ships each test image with an
// xl configuration file beside it, test-ENV-NAME.cfg, of which pvsim
// reads the few settings it needs to build the domain (ParseConfig).
package xtf

import (
	"bytes"
	"strings"
)

// Result is the status XTF's xtf_report_status prints on its "Test
// result:" line.
type Result string

// The results, in XTF's order of severity: a test's status only ever
// rises.
const (
	// Success: everything went well.
	Success Result = "SUCCESS"
	// Skip: the test could not be completed, typically because a feature
	// it needs is missing.
	Skip Result = "SKIP"
	// Error: an issue with the test itself or its environment.
	Error Result = "ERROR"
	// Failure: an issue with the thing under test.
	Failure Result = "FAILURE"
)

// Results are the results a "Test result:" line can give.
var Results = []Result{Success, Skip, Error, Failure}

const (
	// resultPrefix begins the result line.
	resultPrefix = "Test result: "
	// warningsSuffix follows the result when the test warned (XTF prints
	// it after SUCCESS only).
	warningsSuffix = " with warnings"
	// banner is the first line XTF prints; the environment and the
	// test's title follow it.
	banner = "--- Xen Test Framework ---"
	// headerLines is how many lines after the banner are XTF's own.
	headerLines = 2
	// panicPrefix begins the message of XTF's panic(), after which the
	// test crashes the domain without a result.
	panicPrefix = "PANIC: "
)

// reasonPrefixes begin the lines by which XTF tests give their reasons:
// "Fail: ...", "Failure: ...", "Skip: ...", "Error: ...", "Warning: ...".
var reasonPrefixes = []string{"Fail", "Skip", "Error", "Warning"}

// Report is what a test's console output says of its outcome.
type Report struct {
	// Result is the result on the last "Test result:" line; "" when the
	// output has none.
	Result Result
	// Warnings: that line says "with warnings".
	Warnings bool
	// Line is the number of that line, from 1; 0 when there is none.
	Line int
	// Reason is the last reason the test gave before that line, with
	// the spaces around it trimmed: the last line beginning "Fail",
	// "Skip", "Error" or "Warning", or, for a result other than SUCCESS
	// when there is no such line, the last other line of the test's own
	// output. "" when there is none, or no result.
	Reason string
	// Panic is the message of the last "PANIC: " line, if any.
	Panic string
	// Framework: the output shows XTF's banner, "--- Xen Test Framework
	// ---", on a line of its own.
	Framework bool
}

// ParseConsole reads a test's console output. A result line is a line
// that is exactly "Test result: " and one of Results, optionally followed
// by " with warnings"; spaces and a carriage return at the end of a line
// are ignored. When there are several, the last counts.
func ParseConsole(out []byte) Report {
	var r Report
	var reason, other string
	header := 0
	for i, b := range bytes.Split(out, []byte("\n")) {
		line := strings.TrimRight(string(b), " \t\r")
		if line == banner {
			r.Framework = true
			header = headerLines
			reason, other = "", ""
			continue
		}
		if header > 0 {
			header--
			continue
		}
		if res, warn, ok := parseResult(line); ok {
			r.Result, r.Warnings, r.Line = res, warn, i+1
			r.Reason = reason
			if r.Reason == "" && res != Success {
				r.Reason = other
			}
			reason, other = "", ""
			continue
		}
		text := strings.TrimSpace(line)
		switch {
		case text == "":
		case strings.HasPrefix(text, panicPrefix):
			r.Panic = strings.TrimSpace(text[len(panicPrefix):])
		case hasReasonPrefix(text):
			reason = text
		case strings.Trim(text, "*") != "":
			// Not the rule of asterisks around a panic.
			other = text
		}
	}
	return r
}

// parseResult reads a result line.
func parseResult(line string) (res Result, warnings, ok bool) {
	rest, ok := strings.CutPrefix(line, resultPrefix)
	if !ok {
		return "", false, false
	}
	rest, warnings = strings.CutSuffix(rest, warningsSuffix)
	for _, r := range Results {
		if rest == string(r) {
			return r, warnings, true
		}
	}
	return "", false, false
}

func hasReasonPrefix(text string) bool {
	for _, p := range reasonPrefixes {
		if strings.HasPrefix(text, p) {
			return true
		}
	}
	return false
}

// Passed says whether a result is one a test run may count as passed:
// SUCCESS, or SKIP (the test could not run here, which is not a defect).
func (r Result) Passed() bool { return r == Success || r == Skip }
