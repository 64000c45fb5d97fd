package tests

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/x86"
	"github.com/pvsim/pvsim/xen"
)

// TestLDT: the LDT as Xen maps it (guest/kernels/ldt.c), audited: its
// page mapped on the first load of one of its selectors, #NP and #GP with
// the selector's error code, the page held as a descriptor page until
// SET_LDT drops it, a page Xen would refuse never mapped.
func TestLDT(t *testing.T) {
	out, res, err := boot(t, "ldt", 1, 20*time.Second, "")
	require.NoError(t, err, "console:\n%s", out)
	assert.Equal(t, xen.ShutdownPoweroff, res.Reason, "console:\n%s", out)
	assert.NotContains(t, out, "FAIL")
	for _, line := range []string{
		"ldt: no LDT: load an LDT selector: 0xd",
		"ldt: load a present data selector: 0x0",
		"ldt: a descriptor not present: 0xb",
		"ldt: #NP's error code is the selector: 0x14",
		"ldt: a selector past the LDT's entries: 0xd",
		"ldt: the LDT page made writable while in use: 0xffffffffffffffea",
		"ldt: load from an LDT Xen would not map: 0xd",
		"ldt: ok",
	} {
		assert.Contains(t, out, line+"\n")
	}
	s := res.Exits[0]
	// The mechanism engaged: one page mapped on its first use, and not
	// again; the TSS page's fault was refused and bounced as #GP.
	assert.Equal(t, uint64(1), s.LDTFaults, "LDT pages mapped on a fault")
	assert.GreaterOrEqual(t, s.Traps[x86.VectorPF], uint64(2), "the two faults in the LDT area: the mapped one and the refused one")
}
