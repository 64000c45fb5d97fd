package tests

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/x86"
	"github.com/pvsim/pvsim/xen"
)

// #UD, #GP and #PF raised by the guest are bounced to its own handlers,
// which fix them up and return with HYPERVISOR_iret.
func TestTrapsDeliveredAndResumed(t *testing.T) {
	out, res, err := boot(t, "traps", 1, 20*time.Second, "")
	require.NoError(t, err, "console:\n%s", out)
	require.Equal(t, xen.ShutdownPoweroff, res.Reason, "console:\n%s", out)
	assert.Regexp(t, `traps: all \d+ cases passed`, out)
	s := res.Exits[0]
	for _, vec := range []int{6, 13, 14} {
		assert.NotZero(t, s.Traps[vec], "vector %d reached the hypervisor", vec)
	}
	assert.NotZero(t, s.Bounces)
	assert.Equal(t, s.Bounces, s.Hypercalls[xen.HypercallIret], "every bounced exception returned with iret")
	assert.NotZero(t, s.Hypercalls[xen.HypercallSetTrapTable])
}

// `lock btr $5` (and every other emulated form) on a pinned L1 entry,
// through the read-only linear map, is emulated by the hypervisor; a write
// it must refuse comes back to the guest as a #PF.
func TestPTWriteEmulated(t *testing.T) {
	out, res, err := boot(t, "ptwr", 2, 20*time.Second, "")
	require.NoError(t, err, "console:\n%s", out)
	require.Equal(t, xen.ShutdownPoweroff, res.Reason, "console:\n%s", out)
	assert.Regexp(t, `ptwr: all \d+ cases passed`, out)
	var writes, bounces uint64
	for _, s := range res.Exits {
		writes, bounces = writes+s.PTWrites, bounces+s.Bounces
	}
	assert.GreaterOrEqual(t, writes, uint64(10), "emulated writes")
	assert.NotZero(t, bounces, "the refused write was bounced")
}

// Two vCPUs write bits of their own in one pinned L1 entry, each write
// emulated and its compare-and-exchange made on the vCPU's way back to the
// guest (ptwr's one-exit path): none is lost (guest/kernels/ptwr-contend.c
// reads each back), and the mechanism engaged: one exit a write, where a
// write whose exchange runs as a round trip takes two.
func TestPTWriteOneExit(t *testing.T) {
	// Audited after every write: a few ms each under the race detector.
	out, res, err := boot(t, "ptwr-contend", 2, 120*time.Second, "iters=500")
	require.NoError(t, err, "console:\n%s", out)
	require.Equal(t, xen.ShutdownPoweroff, res.Reason, "console:\n%s", out)
	assert.Contains(t, out, "ptwr-contend: ok\n")
	var writes, exits, retries, rounds uint64
	for _, s := range res.Exits {
		writes, exits, retries, rounds = writes+s.PTWrites, exits+s.PTWriteExits, retries+s.ExchangeFailures, rounds+s.ExecRounds
	}
	assert.Equal(t, uint64(2*2*500), writes, "every set and clear emulated once")
	// A failed exchange is undone (PTWrites drops again) and costs two
	// exits: the fault's and its report; the guest's retry is a write.
	assert.Equal(t, writes+2*retries, exits, "one exit a write, and two a failed exchange")
	t.Logf("%d writes, %d exits, %d exchanges failed, %d executor round trips", writes, exits, retries, rounds)
}

// The same write to a read-only frame that is not a pagetable is bounced,
// and the guest oopses naming the function; pvsim reports the crash with
// the guest's oops and the source line.
func TestPTWriteOops(t *testing.T) {
	out, res, err := boot(t, "ptwr-oops", 1, 20*time.Second, "")
	require.NoError(t, err, "console:\n%s", out)
	require.Equal(t, xen.ShutdownCrash, res.Reason, "console:\n%s", out)
	o := res.Oops
	require.NotNil(t, o)
	assert.Regexp(t, `^BUG: unable to handle page fault for address: [0-9a-f]{16}\n`+
		`#PF: supervisor write access in kernel mode\n`+
		`#PF: error_code\(0x0003\) - permissions violation\n`+
		`PGD [0-9a-f]+ P4D [0-9a-f]+ PUD [0-9a-f]+ PMD [0-9a-f]+ PTE [0-9a-f]+\n`+
		`Oops: 0003 \[#1\] SMP\n`, o.Text)
	assert.Regexp(t, `(?m)^RIP: e033:ptep_test_and_clear_young\+0x[0-9a-f]+/0x[0-9a-f]+$`, o.Text)
	assert.Contains(t, o.Text, "Kernel panic - not syncing: Fatal exception")
	require.NotNil(t, o.Fault)
	assert.Equal(t, x86.VectorPF, o.Fault.Vector)
	assert.Equal(t, uint64(x86.PFPresent|x86.PFWrite|x86.PFUser), o.Fault.ErrorCode, "the hypervisor's view, before Xen clears the user bit")
	assert.True(t, strings.HasPrefix(o.Where, "ptep_test_and_clear_young+"), o.Where)
	assert.Regexp(t, `^guest/[a-z/_-]+\.[ch]:\d+$`, o.Source)
	assert.Regexp(t, `^not emulated: frame 0x[0-9a-f]+ is not an L1 pagetable in use \(none, type count 0\)$`, o.NotEmulated)
	// The address in the guest's report is the one that faulted.
	m := regexp.MustCompile(`address: ([0-9a-f]{16})`).FindStringSubmatch(o.Text)
	require.NotNil(t, m)
	assert.Equal(t, fmt.Sprintf("%016x", o.Fault.CR2), m[1])
	assert.Zero(t, res.Exits[0].PTWrites, "nothing was emulated")
}

// TestBadArguments: labels that are NULL, the hypervisor's, non-canonical,
// unterminated or empty are refused with Xen's error codes; an
// unterminated trap table is refused at 256 entries without reading the
// 257th (on an unmapped page) and leaves the old table; HYPERVISOR_iret
// clears reserved RFLAGS bits; and a hypercall made with TF set is
// followed by the #DB Xen delivers, at the stub's ret, both when it
// returns straight to the guest and through the executor's saved frame.
func TestBadArguments(t *testing.T) {
	out, res, err := boot(t, "bad-args", 1, 30*time.Second, "")
	require.NoError(t, err, "console:\n%s", out)
	assert.Equal(t, xen.ShutdownPoweroff, res.Reason)
	assert.Contains(t, out, "bad-args: set_trap_table(256 entries, no terminator): -22\n")
	assert.Contains(t, out, "bad-args: trace_mark(\"\"): -22\n")
	assert.Equal(t, 2, strings.Count(out, "bad-args: #DB after the hypercall, before its ret: 1\n"), "console:\n%s", out)
	assert.Contains(t, out, "bad-args: ok\n")
	assert.Equal(t, uint64(2*4), res.Exits[0].Traps[1], "the CPU's own single-step traps: 4 per case")
}
