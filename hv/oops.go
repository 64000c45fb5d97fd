package hv

import (
	"strconv"

	"github.com/pvsim/pvsim/guestsym"
)

// consoleTailSize bounds the console output a domain keeps for oops
// reports.
const consoleTailSize = 64 << 10

// oops builds the report for a crash requested by v.
func (v *vcpu) oops() *guestsym.Oops {
	v.d.consoleMu.Lock()
	o := &guestsym.Oops{Text: guestsym.OopsText(v.d.consoleTail)}
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
