package tests

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/hv"
	"github.com/pvsim/pvsim/xen"
)

// TestMMUUpdateContinues: a batch larger than a slice comes back to the
// guest as continuations and still does every request. 1,000 requests are
// four mmu_update calls of at most 256 requests each, directly and as a
// multicall entry (the multicall continues four times too), besides the
// one mmu_update and the multicall that build the region; and a multicall
// of 300 xen_version entries, which continues once with the vCPU outside
// the executor (the other continuations find it parked there).
func TestMMUUpdateContinues(t *testing.T) {
	out, res, err := boot(t, "mmu-preempt", 1, 60*time.Second, "count=1000")
	require.NoError(t, err, "console:\n%s", out)
	assert.Equal(t, xen.ShutdownPoweroff, res.Reason, "console:\n%s", out)
	assert.Contains(t, out, "mmu-preempt: ok\n")
	calls := res.Exits[0].Hypercalls
	assert.Equal(t, uint64(1+4+4), calls[xen.HypercallMMUUpdate], "mmu_update calls, continuations included")
	assert.Equal(t, uint64(1+4+2), calls[xen.HypercallMulticall], "multicall calls, continuations included")
	assert.Equal(t, uint64(1+300), calls[xen.HypercallXenVersion], "each xen_version entry of the 300 ran once")
}

// TestEndlessBatchEndsAtTimeout: 2^40 valid requests (512 calls of
// 2^31 - 1) never finish, but a hypercall returns to the guest after every
// slice, so the domain stops at its timeout like any other guest.
func TestEndlessBatchEndsAtTimeout(t *testing.T) {
	type outcome struct {
		out string
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		out, _, err := boot(t, "mmu-preempt", 1, 2*time.Second, "")
		done <- outcome{out, err}
	}()
	var o outcome
	select {
	case o = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the domain did not stop: a hypercall ran past the timeout")
	}
	var ge *hv.GuestError
	require.True(t, errors.As(o.err, &ge), "want a timeout, got %v; console:\n%s", o.err, o.out)
	assert.Equal(t, hv.Timeout, ge.Kind)
	assert.Contains(t, o.out, "512 calls of 2^31 - 1")
}

// TestFlushAgainstUpdate: vCPU 0 flushes every vCPU's TLB with
// update_va_mapping(UVMF_ALL) while vCPU 1 updates pagetables, with the
// audit on. Neither may wait on the other: vCPU 0 runs its queued writes
// before it waits for vCPU 1's flush, and vCPU 1's flush rides in the
// final batch of its own hypercalls. Before, this deadlocked at once.
func TestFlushAgainstUpdate(t *testing.T) {
	iters := 10000
	if testing.Short() {
		iters = 1000
	}
	out, res, err := boot(t, "flush-deadlock", 2, 5*time.Minute, fmt.Sprintf("iters=%d", iters))
	require.NoError(t, err, "console:\n%s", out)
	assert.Equal(t, xen.ShutdownPoweroff, res.Reason)
	assert.Contains(t, out, fmt.Sprintf("flush-deadlock: %d rounds, ok\n", iters))
	assert.GreaterOrEqual(t, res.Exits[1].RemoteFlushes, uint64(iters), "vCPU 1 flushed for each of vCPU 0's calls")
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

// TestMulticallEntriesInterleave: each multicall entry is a hypercall of
// its own as far as locking goes (Xen's do_multicall), so vCPU 1's
// update_va_mapping runs between the entries of vCPU 0's multicalls: an
// entry after the first finds the Accessed bit vCPU 1 set. When the lock
// was held across the multicall, 2,000 multicalls found it 0 times.
func TestMulticallEntriesInterleave(t *testing.T) {
	out, res, err := boot(t, "multicall-interleave", 2, 2*time.Minute, "")
	require.NoError(t, err, "console:\n%s", out)
	assert.Equal(t, xen.ShutdownPoweroff, res.Reason)
	var calls, between int
	_, err = fmt.Sscanf(out[strings.Index(out, "multicall-interleave: "):], "multicall-interleave: %d multicalls, %d entries", &calls, &between)
	require.NoError(t, err, "console:\n%s", out)
	assert.Positive(t, between, "no entry saw vCPU 1's update in %d multicalls", calls)
}

// TestCopyAgainstTypeChange: vCPU 1's mmuext_op writes its done count into
// a page that vCPU 0 keeps turning into a pinned L1 and back, with the
// audit on. The writability check and the store are one step against
// type changes, so no write lands while the page has no writable mapping.
func TestCopyAgainstTypeChange(t *testing.T) {
	iters := 1000
	if testing.Short() {
		iters = 300
	}
	out, res, err := boot(t, "copy-race", 2, 5*time.Minute, fmt.Sprintf("iters=%d", iters))
	require.NoError(t, err, "console:\n%s", out)
	assert.Equal(t, xen.ShutdownPoweroff, res.Reason)
	assert.Contains(t, out, fmt.Sprintf("copy-race: %d rounds, ", iters))
	assert.Contains(t, out, " refused, ok\n")
	assert.NotZero(t, res.Exits[1].Hypercalls[xen.HypercallMMUExtOp])
}
