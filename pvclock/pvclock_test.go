package pvclock

import (
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestPVClockScale checks that the published scale converts ticks to
// nanoseconds within the precision of a 32-bit multiplier.
func TestPVClockScale(t *testing.T) {
	for _, hz := range []uint64{1e6, 33e6, 1e9, 2_100_000_000, 2_500_000_000, 3_999_999_999, 5e9, 1e11} {
		mul, shift := Scale(hz)
		assert.GreaterOrEqual(t, mul, uint32(1<<31), "hz %d", hz)
		ticks := hz * 3 // three seconds
		scaled := new(big.Int).SetUint64(ticks)
		if shift >= 0 {
			scaled.Lsh(scaled, uint(shift))
		} else {
			scaled.Rsh(scaled, uint(-shift))
		}
		ns := scaled.Mul(scaled, big.NewInt(int64(mul))).Rsh(scaled, 32).Uint64()
		assert.InDelta(t, 3e9, float64(ns), 3e9*1e-8+2, "hz %d: mul %d shift %d", hz, mul, shift)
	}
}
