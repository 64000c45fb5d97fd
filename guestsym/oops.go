package guestsym

import (
	"bytes"
	"regexp"
)

// oopsStart matches the first line of a Linux-style oops report; an
// "Oops: " line opens one only when no "BUG: ..." line came before it.
var oopsStart = regexp.MustCompile(`(?m)^(BUG: |kernel BUG at |general protection fault|invalid opcode|Oops: |\S[^\n]*: [0-9a-f]{4} \[#\d+\])`)

// panicLine matches the line a panic prints, the report of last resort.
var panicLine = regexp.MustCompile(`(?m)^Kernel panic - not syncing`)

// OopsText finds the last oops report in console output: from the last
// line that opens one, or failing that the last panic line, to the end.
func OopsText(console []byte) string {
	start := -1
	for _, m := range oopsStart.FindAllIndex(console, -1) {
		if bytes.HasPrefix(console[m[0]:], []byte("Oops: ")) && start >= 0 &&
			bytes.Count(console[start:m[0]], []byte("\n")) < 8 {
			continue // the "Oops:" line of the report that began at start
		}
		start = m[0]
	}
	if start < 0 {
		m := panicLine.FindAllIndex(console, -1)
		if m == nil {
			return ""
		}
		start = m[len(m)-1][0]
	}
	return string(bytes.TrimRight(console[start:], "\n"))
}
