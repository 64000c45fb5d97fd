package tests

import (
	"errors"
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
