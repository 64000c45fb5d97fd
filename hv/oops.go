package hv

import (
	"strconv"

	"github.com/pvsim/pvsim/guestsym"
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
	// emulate it as a pagetable write.
	NotEmulated string
}

// consoleTailSize bounds the console output a domain keeps for oops
// reports.
const consoleTailSize = 64 << 10

// oops builds the report for a crash requested by v.
func (v *vcpu) oops() *Oops {
	v.d.consoleMu.Lock()
	o := &Oops{Text: guestsym.OopsText(v.d.consoleTail)}
	v.d.consoleMu.Unlock()
	if ts := &v.traps; ts.bounced {
		x := ts.lastBounce
		o.Fault = &x
		o.Where = v.d.syms.Format(x.RIP)
		o.NotEmulated = ts.lastBounceWhy
		if file, line, ok := v.d.syms.Line(x.RIP); ok {
			o.Source = file + ":" + strconv.Itoa(line)
		}
	}
	return o
}
