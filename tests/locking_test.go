package tests

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/xen"
)

// Pagetable operations of several vCPUs against each other: the MMU lock
// as Xen 3.1/3.2 takes it, remote flushes, and copies into guest memory
// against type changes.

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
