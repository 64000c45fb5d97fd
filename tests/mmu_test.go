package tests

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/xen"
)

// TestMMUBasic builds, pins, loads, edits and tears down a second address
// space through every pagetable hypercall, audited after each.
func TestMMUBasic(t *testing.T) {
	out, res, err := boot(t, "mmu-basic", 1, 20*time.Second, "")
	require.NoError(t, err, "console:\n%s", out)
	assert.Equal(t, xen.ShutdownPoweroff, res.Reason, "console:\n%s", out)
	assert.Contains(t, out, "mmu-basic: ok\n")
	assert.NotContains(t, out, "FAIL")
	s := res.Exits[0]
	for _, h := range []int{xen.HypercallMMUUpdate, xen.HypercallUpdateVAMapping, xen.HypercallMMUExtOp, xen.HypercallMulticall} {
		assert.NotZero(t, s.Hypercalls[h], "hypercall %d was not used", h)
	}
	assert.NotZero(t, s.ExecRounds, "PRESERVE_AD needs a value back from the executor")
}

// TestMMUForbidden: each forbidden operation fails with Xen's error code.
func TestMMUForbidden(t *testing.T) {
	out, res, err := boot(t, "mmu-forbidden", 1, 20*time.Second, "")
	require.NoError(t, err, "console:\n%s", out)
	assert.Equal(t, xen.ShutdownPoweroff, res.Reason, "console:\n%s", out)
	want := map[string]int{
		"writable-pagetable": -22, "pin-writable": -22, "map-hypervisor-frame": -1,
		"unvalidated-cr3": -22, "unpin-twice": -22, "pin-twice": -22,
		"hypervisor-l4-slot": -22, "superpage-l2": -22, "superpage-l3": -22, "partial-batch": -22,
	}
	line := regexp.MustCompile(`(?m)^mmu-forbidden: ([a-z0-9-]+): rc=(-?\d+) \(expected (-?\d+)\)$`)
	seen := map[string]bool{}
	for _, m := range line.FindAllStringSubmatch(out, -1) {
		code, ok := want[m[1]]
		require.True(t, ok, "unexpected case %q", m[1])
		assert.Equal(t, fmt.Sprint(code), m[2], "case %s", m[1])
		assert.Equal(t, m[3], m[2], "case %s", m[1])
		seen[m[1]] = true
	}
	assert.Len(t, seen, len(want), "console:\n%s", out)
	assert.True(t, strings.HasSuffix(out, "mmu-forbidden: ok\n"), out)
}

// TestTLBShootdown: flushes on all vCPUs complete although the other vCPUs
// never exit on their own, and each flushed in its own context.
func TestTLBShootdown(t *testing.T) {
	const n = 4
	out, res, err := boot(t, "tlb-shootdown", n, 30*time.Second, "rounds=50")
	require.NoError(t, err, "console:\n%s", out)
	assert.Contains(t, out, "tlb-shootdown: ok\n")
	for id := 1; id < n; id++ {
		assert.GreaterOrEqual(t, res.Exits[id].RemoteFlushes, uint64(1), "vCPU %d never flushed", id)
	}
	assert.Zero(t, res.Exits[0].RemoteFlushes, "nobody asked vCPU 0 to flush")
}
