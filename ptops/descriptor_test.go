package ptops

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/xen"
)

// testGDTMap keeps the GDT's L1 entries in frame gdtL1 of the fixture.
type testGDTMap struct{}

const (
	gdtL1  = 500
	gdtVA  = 0xffff820000000000
	emptyE = mmu.PTE(0x7770_0001)
)

func (testGDTMap) EntryPA(i int) uint64 { return gdtL1<<mmu.PageShift + uint64(i)*8 }
func (testGDTMap) VA(i int) uint64      { return gdtVA + uint64(i)*mmu.PageSize }
func (testGDTMap) Installed(pfn uint64) mmu.PTE {
	return mmu.MakePTE(pfn, mmu.PTEPresent|mmu.PTEWritable)
}
func (testGDTMap) Empty() mmu.PTE { return emptyE }

// descFrame makes free frame pfn a would-be GDT page holding descs, mapped
// read-only, as a guest does before set_gdt.
func (f *fixture) descFrame(t *testing.T, pfn uint64, descs ...uint64) {
	t.Helper()
	f.makeTable(t, pfn)
	for i, d := range descs {
		f.put(pfn, i, mmu.PTE(d))
	}
}

func TestSetGDT(t *testing.T) {
	const code64DPL0, code64DPL3 = 0x00af9a000000ffff, 0x00affa000000ffff
	f := newFixture(t)
	f.descFrame(t, 300, 0, code64DPL0)
	f.descFrame(t, 301)
	var g GDT
	require.NoError(t, SetGDT(f.c, &g, testGDTMap{}, []uint64{300, 301}, 600))
	assert.Equal(t, GDT{Frames: [xen.FirstReservedGDTPage]uint64{300, 301}, Entries: 600}, g)
	for _, pfn := range []uint64{300, 301} {
		fr := f.ft.Frame(pfn)
		assert.Equal(t, mmu.TypeSegDesc, fr.Type)
		assert.Equal(t, uint32(1), fr.TypeCount)
	}
	assert.Equal(t, mmu.PTE(code64DPL3), f.entry(300, 1), "validation raised the DPL in place, as Xen's check_descriptor")
	assert.Equal(t, testGDTMap{}.Installed(300), f.entry(gdtL1, 0))
	assert.Equal(t, testGDTMap{}.Installed(301), f.entry(gdtL1, 1))
	f.audit(t)

	// A descriptor page can be mapped writable no more.
	assert.Error(t, UpdateVAMapping(f.c, va(300), mmu.MakePTE(300, rw), 0))

	// A refused frame changes nothing: the old GDT stays.
	f.descFrame(t, 302, 0x0000890000000000) // a TSS
	before := f.snapshot()
	err := SetGDT(f.c, &g, testGDTMap{}, []uint64{301, 302}, 1024)
	assert.Equal(t, xen.EINVAL, Errno(err))
	assert.Equal(t, before, f.snapshot())
	assert.Equal(t, uint32(1), f.ft.Frame(301).TypeCount, "the reference taken on the first frame is given back")

	// Too many entries.
	assert.Equal(t, xen.EINVAL, Errno(SetGDT(f.c, &g, testGDTMap{}, make([]uint64, 15), 7169)))

	// Replacing the GDT releases the old frames and empties their slots.
	require.NoError(t, SetGDT(f.c, &g, testGDTMap{}, []uint64{301}, 1))
	assert.Equal(t, mmu.TypeNone, f.ft.Frame(300).Type)
	assert.Equal(t, emptyE, f.entry(gdtL1, 1))
	assert.Equal(t, testGDTMap{}.Installed(301), f.entry(gdtL1, 0))
	f.audit(t)
	DestroyGDT(f.c, &g, testGDTMap{})
	assert.Equal(t, GDT{}, g)
	assert.Equal(t, mmu.TypeNone, f.ft.Frame(301).Type)
	f.audit(t)
}

func TestUpdateDescriptor(t *testing.T) {
	const data32DPL1, data32DPL3 = 0x00cfb2000000ffff, 0x00cff2000000ffff
	f := newFixture(t)
	f.descFrame(t, 300)
	var g GDT
	require.NoError(t, SetGDT(f.c, &g, testGDTMap{}, []uint64{300}, 512))
	for _, tt := range []struct {
		name string
		pa   uint64
		desc uint64
		err  xen.Errno
		want mmu.PTE // at pa afterwards
	}{
		{"into a descriptor page, fixed up", 300<<mmu.PageShift + 8, data32DPL1, 0, data32DPL3},
		{"into an ordinary page", 100<<mmu.PageShift + 16, data32DPL3, 0, data32DPL3},
		{"unaligned", 300<<mmu.PageShift + 4, data32DPL3, xen.EINVAL, 0},
		{"a TSS", 300<<mmu.PageShift + 16, 0x0000890000000000, xen.EINVAL, 0},
		{"into a pagetable", bootL1 << mmu.PageShift, data32DPL3, xen.EINVAL, f.entry(bootL1, 0)},
		{"outside the domain", hvFrame << mmu.PageShift, data32DPL3, xen.EINVAL, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := UpdateDescriptor(f.c, tt.pa, tt.desc)
			if tt.err != 0 {
				assert.Equal(t, tt.err, Errno(err))
			} else {
				require.NoError(t, err)
			}
			if tt.pa>>mmu.PageShift < nrFrames && tt.pa&7 == 0 {
				assert.Equal(t, tt.want, f.entry(tt.pa>>mmu.PageShift, int(tt.pa&(mmu.PageSize-1))/8))
			}
			f.audit(t)
		})
	}
}

func TestNewUserBasePtr(t *testing.T) {
	f := newFixture(t)
	var user uint64
	f.c.UserBase = &user
	require.NoError(t, MMUExtOp(f.c, ExtOp{Cmd: xen.MMUExtNewUserBasePtr, Arg1: bootL4}))
	assert.Equal(t, uint64(bootL4), user)
	assert.Equal(t, uint32(3), f.ft.Frame(bootL4).TypeCount, "the pin, the CR3 and the user base")
	require.NoError(t, MMUExtOp(f.c, ExtOp{Cmd: xen.MMUExtNewUserBasePtr, Arg1: bootL4}), "the same base again")
	assert.Equal(t, uint32(3), f.ft.Frame(bootL4).TypeCount, "changes nothing")
	assert.Equal(t, xen.EINVAL, Errno(MMUExtOp(f.c, ExtOp{Cmd: xen.MMUExtNewUserBasePtr, Arg1: 100})), "a writable frame is no L4")
	assert.Equal(t, uint64(bootL4), user)
	require.NoError(t, MMUExtOp(f.c, ExtOp{Cmd: xen.MMUExtNewUserBasePtr, Arg1: 0}))
	assert.Zero(t, user)
	assert.Equal(t, uint32(2), f.ft.Frame(bootL4).TypeCount)
	f.audit(t)
}
