package guestsym

import (
	"bytes"
	"regexp"

	"github.com/pvsim/pvsim/x86"
)

// Oops is how a guest that crashed explained itself: its oops report from
// the console, with the hypervisor's view of the fault that led there.
type Oops struct {
	// Text is the guest's report, from its first line ("BUG: unable to
	// handle page fault ...", "general protection fault ...") to the end
	// of the console output.
	Text string
	// Fault is the last exception the hypervisor delivered to the vCPU
	// that crashed, if there was one.
	Fault *x86.Exception
	// Where is the fault's RIP as symbol+offset, and Source as file:line
	// when the kernel has line tables.
	Where, Source string
	// NotEmulated says, for a write fault, why the hypervisor did not
	// emulate it as a pagetable write; for a #GP or #UD, why it did not
	// emulate the instruction.
	NotEmulated string
}

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
