package tests

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/xen"
)

// TestPVABI runs the ABI pieces foreign kernels boot with, each against
// Xen's answer (guest/kernels/pv-abi.c), audited.
func TestPVABI(t *testing.T) {
	out, res, err := boot(t, "pv-abi", 1, 20*time.Second, "")
	require.NoError(t, err, "console:\n%s", out)
	assert.Equal(t, xen.ShutdownPoweroff, res.Reason, "console:\n%s", out)
	assert.Contains(t, out, "pv-abi: ok\n")
	s := res.Exits[0]
	for _, h := range []int{xen.HypercallCallbackOp, xen.HypercallSetCallbacks, xen.HypercallSetGDT, xen.HypercallUpdateDescriptor, xen.HypercallMemoryOp, xen.HypercallFPUTaskswitch, xen.HypercallGrantTableOp} {
		assert.NotZero(t, s.Hypercalls[h], "hypercall %d was not used", h)
	}
	// Three loads from the M2P at Xen's default address (the M2P where
	// machphys_mapping says is mapped: its loads are not emulated); two
	// reads of MSR_KERNEL_GS_BASE; four reads of CR0, a clts, a read of
	// CR3 and a write of it.
	assert.Equal(t, uint64(12), s.Emulations, "every emulated instruction, and only those")
	// xen_version, console_io, and mmuext_op three times: 600 records in
	// slices of 256, each continuation a syscall again.
	assert.Equal(t, uint64(5), s.SyscallHypercalls, "hypercalls by syscall, a continuation among them")
}

// TestEvents: event channels delivered as upcalls, with the timers and
// blocking that go with them (guest/kernels/events.c), audited: a timer
// wakes SCHEDOP_block, a masked vCPU's event waits for a hypercall's
// return, an IPI reaches a vCPU spinning in guest code, SCHEDOP_poll
// wakes on a masked port and at its timeout, and the refusals are Xen's.
func TestEvents(t *testing.T) {
	out, res, err := boot(t, "events", 2, 60*time.Second, "")
	require.NoError(t, err, "console:\n%s", out)
	assert.Equal(t, xen.ShutdownPoweroff, res.Reason, "console:\n%s", out)
	assert.Contains(t, out, "events: ok\n")
	s := res.Exits[0]
	// The timer, the forced callback, three periodic ticks and the IPI,
	// at least: the periodic timer may tick once more before it stops.
	assert.GreaterOrEqual(t, s.Upcalls, uint64(6), "upcalls delivered to vCPU 0")
	assert.NotZero(t, s.Blocks, "vCPU 0 slept in SCHEDOP_block or SCHEDOP_poll")
	assert.NotZero(t, s.Interrupted, "vCPU 0 was kicked out of the guest for the IPI")
	assert.NotZero(t, s.Hypercalls[xen.HypercallSetTimerOp])
	assert.Zero(t, res.Exits[1].Upcalls, "vCPU 1 registered no event callback")
}
