package ptops

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/xen"
)

// newL1 makes free frame pfn an L1 that maps data frame dataPFN with
// entry e at index 0, read-only in the linear map, pinned or not.
func (f *fixture) newL1(t *testing.T, pfn uint64, e mmu.PTE, pinned bool) {
	t.Helper()
	f.makeTable(t, pfn)
	f.put(pfn, 0, e)
	if pinned {
		require.NoError(t, f.ft.Pin(pfn, mmu.TypeL1, f.x))
	}
}

func TestTestAndClearPTEFlags(t *testing.T) {
	data := adjusted(mmu.MakePTE(dataPFN, rw|pteD)) // as Xen wrote it
	tests := []struct {
		name     string
		pinned   bool
		mask     uint64
		want     uint64
		entry    mmu.PTE
		dataRefs int // change in the data frame's reference count
	}{
		{name: "young, pinned", pinned: true, mask: uint64(pteA), want: uint64(pteA), entry: data &^ pteA},
		{name: "dirty, pinned", pinned: true, mask: uint64(pteD), want: uint64(pteD), entry: data &^ pteD},
		{name: "both, not a pagetable", mask: uint64(pteA | pteD), want: uint64(pteA | pteD), entry: data &^ (pteA | pteD)},
		{name: "bit already clear", pinned: true, mask: uint64(mmu.PTEPWT), want: 0, entry: data},
		{name: "write access, pinned", pinned: true, mask: uint64(mmu.PTEWritable), want: uint64(mmu.PTEWritable), entry: data &^ mmu.PTEWritable},
		{name: "the whole entry, pinned", pinned: true, mask: ^uint64(0), want: uint64(data), entry: 0, dataRefs: -1},
		{name: "the whole entry, not a pagetable", mask: ^uint64(0), want: uint64(data), entry: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			const l1 = 200
			f.newL1(t, l1, data, tt.pinned)
			refs := f.ft.Frame(dataPFN).RefCount
			got, err := TestAndClearPTEFlags(f.c, l1<<mmu.PageShift, tt.mask)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, adjusted(tt.entry), f.entry(l1, 0))
			assert.Equal(t, int(refs)+tt.dataRefs, int(f.ft.Frame(dataPFN).RefCount))
			f.audit(t)
		})
	}
}

func TestTestAndClearPTEFlagsRefused(t *testing.T) {
	f := newFixture(t)
	const l1 = 200
	f.newL1(t, l1, mmu.MakePTE(dataPFN, rw), true)
	tests := []struct {
		name string
		ptr  uint64
		code xen.Errno
	}{
		{"misaligned", l1<<mmu.PageShift + 4, xen.EINVAL},
		{"outside the domain", nrFrames << mmu.PageShift, xen.EPERM},
		{"an L2", 3 << mmu.PageShift, xen.EINVAL},
		{"an L4", bootL4 << mmu.PageShift, xen.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.snapshot()
			_, err := TestAndClearPTEFlags(f.c, tt.ptr, uint64(pteA))
			require.Error(t, err)
			assert.Equal(t, tt.code, Errno(err))
			assert.Equal(t, before, f.snapshot())
		})
	}
}

// TestEmulatePendingWrite: a write fault on a frame announced as becoming
// a pagetable is emulated, unvalidated, and one on an unannounced frame is
// not; once the frame is pinned, the write is an ordinary ptwr again.
func TestEmulatePendingWrite(t *testing.T) {
	f := newFixture(t)
	const l1 = 200
	young := mmu.MakePTE(dataPFN, rw|pteA)
	f.newL1(t, l1, young, false)
	btr := []byte{0xf0, 0x48, 0x0f, 0xba, 0x37, 0x05} // lock btr qword [rdi], 5
	fault := func() (PTWrite, error) {
		regs := Regs{RIP: ripAt, RFLAGS: 0x202}
		regs.GPR[rdi] = va(l1)
		return EmulatePTWrite(f.c, &regs, va(l1), PTWriteError, btr)
	}

	_, err := fault()
	var ne *NotEmulated
	require.ErrorAs(t, err, &ne, "an unannounced frame")
	assert.Equal(t, young, f.entry(l1, 0))

	require.NoError(t, SetPending(f.c, []uint64{l1}, true))
	w, err := fault()
	require.NoError(t, err)
	assert.True(t, w.Pending)
	assert.Equal(t, young&^pteA, f.entry(l1, 0))
	f.audit(t)

	f.put(l1, 0, young)
	require.NoError(t, f.ft.Pin(l1, mmu.TypeL1, f.x))
	w, err = fault()
	require.NoError(t, err)
	assert.False(t, w.Pending, "a pinned frame is validated")
	f.audit(t)

	require.NoError(t, f.ft.Unpin(l1))
	require.NoError(t, SetPending(f.c, []uint64{l1}, false))
	_, err = fault()
	require.ErrorAs(t, err, &ne, "withdrawn")
}

func TestSetPendingChecksEveryFrame(t *testing.T) {
	f := newFixture(t)
	err := SetPending(f.c, []uint64{200, nrFrames}, true)
	assert.Equal(t, xen.EINVAL, Errno(err))
	assert.False(t, f.ft.Frame(200).Pending, "nothing marked")
}
