package mmu_test

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/mmu/mmutest"
	"github.com/pvsim/pvsim/xen"
)

const rw = mmu.PTEPresent | mmu.PTEWritable | mmu.PTEUser

// newTable returns a frame table over 64 frames where frame 1 is an L1 that
// maps frame 10 read-only and frame 11 writable, and frame 2 is an L2 that
// points at it.
func newTable() (*mmu.FrameTable, *mmutest.RecordingExecutor) {
	mem := make(mmu.SliceMemory, 64*mmu.PageSize)
	put := func(pfn uint64, i int, e mmu.PTE) {
		binary.LittleEndian.PutUint64(mem[pfn<<mmu.PageShift+uint64(i)*8:], uint64(e))
	}
	put(1, 0, mmu.MakePTE(10, mmu.PTEPresent))
	put(1, 1, mmu.MakePTE(11, rw))
	put(2, 0, mmu.MakePTE(1, rw))
	return mmu.NewFrameTable(mem, 64), &mmutest.RecordingExecutor{Mem: mem}
}

func TestPinUnpin(t *testing.T) {
	ft, x := newTable()
	require.NoError(t, ft.Pin(1, mmu.TypeL1, x))
	assert.True(t, ft.Frame(1).Pinned)
	assert.Equal(t, mmu.Frame{Type: mmu.TypeL1, TypeCount: 1, RefCount: 1, Pinned: true}, *ft.Frame(1))
	assert.Equal(t, mmu.Frame{RefCount: 1}, *ft.Frame(10), "read-only mapping: a general reference only")
	assert.Equal(t, mmu.Frame{Type: mmu.TypeWritable, TypeCount: 1, RefCount: 1}, *ft.Frame(11))
	assert.Empty(t, ft.Audit(nil, 0))

	// Pinning the L2 above takes a second type reference on the L1.
	require.NoError(t, ft.Pin(2, mmu.TypeL2, x))
	assert.Equal(t, uint32(2), ft.Frame(1).TypeCount)
	assert.Empty(t, ft.Audit(nil, 0))

	require.NoError(t, ft.Unpin(1))
	assert.True(t, ft.Frame(1).Validated(), "the L2 still holds it")
	require.NoError(t, ft.Unpin(2))
	for pfn := uint64(0); pfn < 64; pfn++ {
		f := *ft.Frame(pfn)
		f.WritableUntil = 0 // the TLB-flush clock records history, not references
		assert.Equal(t, mmu.Frame{}, f, "frame %d released", pfn)
	}
	assert.Empty(t, ft.Audit(nil, 0))
}

func TestPinErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		op   func(ft *mmu.FrameTable, x mmu.Executor) error
		want xen.Errno
	}{
		{"pin twice", func(ft *mmu.FrameTable, x mmu.Executor) error {
			require.NoError(t, ft.Pin(1, mmu.TypeL1, x))
			return ft.Pin(1, mmu.TypeL1, x)
		}, xen.EINVAL},
		{"unpin twice", func(ft *mmu.FrameTable, x mmu.Executor) error {
			require.NoError(t, ft.Pin(1, mmu.TypeL1, x))
			require.NoError(t, ft.Unpin(1))
			return ft.Unpin(1)
		}, xen.EINVAL},
		{"pin with a second type", func(ft *mmu.FrameTable, x mmu.Executor) error {
			require.NoError(t, ft.Pin(2, mmu.TypeL2, x))
			return ft.Pin(1, mmu.TypeL3, x)
		}, xen.EINVAL},
		{"pin a frame mapped writable", func(ft *mmu.FrameTable, x mmu.Executor) error {
			require.NoError(t, ft.Pin(1, mmu.TypeL1, x))
			return ft.Pin(11, mmu.TypeL1, x)
		}, xen.EINVAL},
		{"pin a writable type", func(ft *mmu.FrameTable, x mmu.Executor) error {
			return ft.Pin(5, mmu.TypeWritable, x)
		}, xen.EINVAL},
		{"pin outside the domain", func(ft *mmu.FrameTable, x mmu.Executor) error {
			return ft.Pin(64, mmu.TypeL1, x)
		}, xen.EPERM},
		{"unpin outside the domain", func(ft *mmu.FrameTable, x mmu.Executor) error {
			return ft.Unpin(1 << 40)
		}, xen.EPERM},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ft, x := newTable()
			err := tt.op(ft, x)
			var me *mmu.Error
			require.ErrorAs(t, err, &me)
			assert.Equal(t, tt.want, me.Code, "%v", err)
			assert.Empty(t, ft.Audit(nil, 0))
		})
	}
}
