package mmu

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/fingerprint"
)

// Every change to a frame's record is seen by Track's touched set: what
// a search's fingerprint of the table rests on.
func TestFrameTableTracksChangedRecords(t *testing.T) {
	mem := make(SliceMemory, 16*PageSize)
	ft := NewFrameTable(mem, 16)
	base := fingerprint.NewBase(ft.NrFrames(), ft.RecordDigest)
	ft.Track()
	set := base.NewSet()
	take := func() []uint64 {
		var got []uint64
		ft.TakeTouched(func(pfn uint64) {
			got = append(got, pfn)
			set.Update(pfn, ft.RecordDigest(pfn))
		})
		return got
	}

	// An L1 at frame 4 mapping frame 5: both records change.
	binary.LittleEndian.PutUint64(mem[4<<PageShift:], uint64(MakePTE(5, PTEPresent)))
	require.NoError(t, ft.Pin(4, TypeL1, nil))
	got := take()
	assert.Subset(t, got, []uint64{4, 5})
	assert.NotEqual(t, base.NewSet().Sum(), set.Sum())
	assert.Equal(t, fingerprint.NewBase(ft.NrFrames(), ft.RecordDigest).NewSet().Sum(), set.Sum())

	// Undone, the table digests as it began.
	require.NoError(t, ft.Unpin(4))
	take()
	assert.Equal(t, base.NewSet().Sum(), set.Sum())
	assert.Empty(t, take(), "taken twice")

	// A clone starts untracked; the rest of the table is digested apart.
	c := ft.Clone(mem)
	c.Frame(3)
	assert.Empty(t, take(), "the clone's access was counted against the original")
	h1, h2 := fingerprint.NewHash(), fingerprint.NewHash()
	ft.Fingerprint(h1)
	require.NoError(t, c.HoldWritable(7))
	c.Fingerprint(h2)
	assert.NotEqual(t, h1.Sum(), h2.Sum(), "frames held writable are part of the digest")
}
