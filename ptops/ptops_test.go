package ptops

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/xen"
)

func TestBootCounts(t *testing.T) {
	f := newFixture(t)
	l4 := f.ft.Frame(bootL4)
	assert.Equal(t, mmu.TypeL4, l4.Type)
	assert.Equal(t, uint32(2), l4.TypeCount, "pin + CR3")
	assert.True(t, l4.Pinned)
	l1 := f.ft.Frame(bootL1)
	assert.Equal(t, mmu.TypeL1, l1.Type)
	assert.Equal(t, uint32(1), l1.TypeCount)
	assert.Equal(t, uint32(2), l1.RefCount, "from the L2, and its own read-only mapping")
	data := f.ft.Frame(100)
	assert.Equal(t, mmu.TypeWritable, data.Type)
	assert.Equal(t, uint32(1), data.TypeCount)
	// Validating the L4 installed the hypervisor's slots.
	assert.Equal(t, f.ft.ReservedL4[0], f.entry(bootL4, xen.FirstReservedL4Slot))
	assert.Len(t, f.x.Writes(), len(f.ft.ReservedL4))
}

// Every forbidden operation fails with Xen's code and changes nothing.
func TestForbidden(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fixture)
		op    func(f *fixture) error
		want  xen.Errno
	}{
		{"writable mapping of a pagetable", nil, func(f *fixture) error {
			return UpdateEntry(f.c, l1e(bootL4), mmu.MakePTE(bootL4, rw), false)
		}, xen.EINVAL},
		{"writable mapping of a pagetable through update_va_mapping", nil, func(f *fixture) error {
			return UpdateVAMapping(f.c, va(bootL1), mmu.MakePTE(bootL1, rw), xen.UVMFInvlpg)
		}, xen.EINVAL},
		{"pin a frame mapped writable", nil, func(f *fixture) error {
			return f.ft.Pin(100, mmu.TypeL1, f.x)
		}, xen.EINVAL},
		{"map a hypervisor frame", nil, func(f *fixture) error {
			return UpdateEntry(f.c, l1e(100), mmu.MakePTE(hvFrame, rw), false)
		}, xen.EPERM},
		{"map a frame past the end of memory read-only", nil, func(f *fixture) error {
			return UpdateVAMapping(f.c, va(100), mmu.MakePTE(nrFrames, mmu.PTEPresent), 0)
		}, xen.EPERM},
		{"load an unvalidated CR3", nil, func(f *fixture) error {
			return NewBasePtr(f.c, 100)
		}, xen.EINVAL},
		{"unpin what is not pinned", nil, func(f *fixture) error {
			return f.ft.Unpin(bootL1)
		}, xen.EINVAL},
		{"pin twice", nil, func(f *fixture) error {
			return f.ft.Pin(bootL4, mmu.TypeL4, f.x)
		}, xen.EINVAL},
		{"pin a frame outside the domain", nil, func(f *fixture) error {
			return f.ft.Pin(hvFrame, mmu.TypeL1, f.x)
		}, xen.EPERM},
		{"pin the L1 as an L2", nil, func(f *fixture) error {
			return f.ft.Pin(bootL1, mmu.TypeL2, f.x)
		}, xen.EINVAL},
		{"write a hypervisor L4 slot", nil, func(f *fixture) error {
			return UpdateEntry(f.c, bootL4<<mmu.PageShift+xen.FirstReservedL4Slot*8, 0, false)
		}, xen.EINVAL},
		{"superpage", nil, func(f *fixture) error {
			return UpdateEntry(f.c, 3<<mmu.PageShift+8, mmu.MakePTE(0, rw|mmu.PTEPSE), false)
		}, xen.EINVAL},
		{"linear pagetable", nil, func(f *fixture) error {
			return UpdateEntry(f.c, bootL4<<mmu.PageShift+8, mmu.MakePTE(bootL4, rw), false)
		}, xen.EINVAL},
		{"update_va_mapping of a hypervisor address", nil, func(f *fixture) error {
			return UpdateVAMapping(f.c, xen.HypervisorVirtStart, 0, 0)
		}, xen.EINVAL},
		{"update_va_mapping where no L1 exists", nil, func(f *fixture) error {
			return UpdateVAMapping(f.c, 0x1000, 0, 0)
		}, xen.EINVAL},
		{"an L1 whose last entry is bad is refused whole", func(f *fixture) {
			f.makeTable(t, 200)
			f.put(200, 0, mmu.MakePTE(101, rw))
			f.put(200, 511, mmu.MakePTE(hvFrame, rw))
		}, func(f *fixture) error {
			return f.ft.Pin(200, mmu.TypeL1, f.x)
		}, xen.EPERM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			before := f.snapshot()
			err := tt.op(f)
			require.Error(t, err)
			assert.Equal(t, tt.want, Errno(err), "%v", err)
			assert.Equal(t, before, f.snapshot(), "a refused request changed state")
			f.audit(t)
		})
	}
}

// TestSecondAddressSpace builds, pins, switches to, edits, and tears down a
// second address space, auditing after every step.
func TestSecondAddressSpace(t *testing.T) {
	f := newFixture(t)
	initial := f.snapshot().frames
	const l4, l3, l2, l1 = 20, 21, 22, 23
	for _, pfn := range []uint64{l4, l3, l2, l1} {
		f.makeTable(t, pfn)
		f.audit(t)
	}
	priv := uint64(0x0000008000000000) // L4 slot 1
	f.put(l4, 511, f.entry(bootL4, 511))
	f.put(l4, 1, mmu.MakePTE(l3, rw))
	f.put(l3, mmu.Level(3).Index(priv), mmu.MakePTE(l2, rw))
	f.put(l2, mmu.Level(2).Index(priv), mmu.MakePTE(l1, rw))
	for i := 0; i < 4; i++ {
		f.put(l1, i, mmu.MakePTE(300+uint64(i), rw))
	}
	f.x.Log = nil
	require.NoError(t, f.ft.Pin(l4, mmu.TypeL4, f.x))
	f.audit(t)
	assert.Len(t, f.x.Writes(), len(f.ft.ReservedL4)+4, "pinning an L4 writes the hypervisor slots and its L1's entries made global")
	assert.Equal(t, adjusted(mmu.MakePTE(300, rw)), f.entry(l1, 0))
	assert.Equal(t, mmu.MakePTE(300, rw)|mmu.PTEGlobal, f.entry(l1, 0), "a user mapping is made global")
	assert.Equal(t, uint32(2), f.ft.Frame(2).TypeCount, "the boot L3 is shared")
	assert.Equal(t, uint32(2), f.ft.Frame(300).TypeCount, "two writable mappings")

	require.NoError(t, NewBasePtr(f.c, l4))
	assert.Equal(t, uint64(l4<<mmu.PageShift), f.x.CR3)
	f.audit(t)
	w := mmu.Translate(f.mem, f.cr3, priv+0x10, mmu.AccessUser|mmu.AccessWrite)
	require.True(t, w.OK)
	assert.Equal(t, uint64(300<<mmu.PageShift+0x10), w.PA)

	// Map, remap and unmap through the new L1.
	require.NoError(t, UpdateEntry(f.c, l1<<mmu.PageShift+4*8, mmu.MakePTE(304, rw), false))
	f.audit(t)
	require.NoError(t, UpdateVAMapping(f.c, priv+4*mmu.PageSize, mmu.MakePTE(305, rw&^mmu.PTEWritable), xen.UVMFInvlpg))
	assert.Equal(t, Flush{Kind: FlushPage, VA: priv + 4*mmu.PageSize, CPUs: 1}, f.flushes[len(f.flushes)-1])
	f.audit(t)
	require.NoError(t, UpdateEntry(f.c, l1<<mmu.PageShift+4*8, 0, false))
	require.NoError(t, UpdateVAMapping(f.c, priv, 0, xen.UVMFTLBFlush|xen.UVMFAll))
	assert.Equal(t, Flush{Kind: FlushAll, VA: priv, CPUs: 3}, f.flushes[len(f.flushes)-1])
	f.audit(t)

	// Back to the boot tables, unpin, and make the frames writable again.
	require.NoError(t, NewBasePtr(f.c, bootL4))
	require.NoError(t, f.ft.Unpin(l4))
	f.audit(t)
	assert.Equal(t, mmu.TypeNone, f.ft.Frame(l1).Type, "the last reference released the tree")
	assert.Equal(t, uint32(1), f.ft.Frame(2).TypeCount)
	for _, pfn := range []uint64{l4, l3, l2, l1} {
		require.NoError(t, UpdateVAMapping(f.c, va(pfn), mmu.MakePTE(pfn, rw), xen.UVMFInvlpg))
	}
	f.audit(t)
	assert.Equal(t, initial, f.snapshot().frames, "every count is back where it started")
}

// An unpinned table stays valid while it is the CR3.
func TestUnpinWhileLoaded(t *testing.T) {
	f := newFixture(t)
	const l4 = 20
	f.makeTable(t, l4)
	f.put(l4, 511, f.entry(bootL4, 511))
	require.NoError(t, f.ft.Pin(l4, mmu.TypeL4, f.x))
	require.NoError(t, NewBasePtr(f.c, l4))
	require.NoError(t, f.ft.Unpin(l4))
	assert.True(t, f.ft.Frame(l4).Validated())
	f.audit(t)
	// Making it writable now must fail: it is still a pagetable.
	err := UpdateVAMapping(f.c, va(l4), mmu.MakePTE(l4, rw), 0)
	assert.Equal(t, xen.EINVAL, Errno(err))
	require.NoError(t, NewBasePtr(f.c, bootL4))
	assert.False(t, f.ft.Frame(l4).Validated())
	require.NoError(t, UpdateVAMapping(f.c, va(l4), mmu.MakePTE(l4, rw), 0))
	f.audit(t)
}

func TestPreserveAD(t *testing.T) {
	f := newFixture(t)
	ptr := l1e(100)
	// The MMU set Dirty after the guest read the entry.
	f.put(bootL1, 100, f.entry(bootL1, 100)|mmu.PTEDirty)
	require.NoError(t, UpdateEntry(f.c, ptr, mmu.MakePTE(100, rw&^mmu.PTEAccessed), true))
	assert.Equal(t, adjusted(mmu.MakePTE(100, rw|mmu.PTEDirty)), f.entry(bootL1, 100), "A and D survive")
	require.NoError(t, UpdateEntry(f.c, ptr, mmu.MakePTE(100, rw&^mmu.PTEAccessed), false))
	assert.Equal(t, adjusted(mmu.MakePTE(100, rw&^mmu.PTEAccessed)), f.entry(bootL1, 100), "a normal update replaces them")
	f.audit(t)
}

func TestDecodeUVMF(t *testing.T) {
	f := newFixture(t)
	f.c.VCPU = 1
	mask := va(150)
	f.mem[150<<mmu.PageShift] = 0x2
	for _, tt := range []struct {
		flags uint64
		want  Flush
	}{
		{xen.UVMFNone, Flush{}},
		{xen.UVMFNone | xen.UVMFAll, Flush{}},
		{xen.UVMFInvlpg, Flush{Kind: FlushPage, VA: 0x5000, CPUs: 2}},
		{xen.UVMFTLBFlush, Flush{Kind: FlushAll, VA: 0x5000, CPUs: 2}},
		{xen.UVMFInvlpg | xen.UVMFAll, Flush{Kind: FlushPage, VA: 0x5000, CPUs: 3}},
		{xen.UVMFTLBFlush | mask, Flush{Kind: FlushAll, VA: 0x5000, CPUs: 2}},
	} {
		got, err := DecodeUVMF(f.c, tt.flags, 0x5000)
		require.NoError(t, err)
		assert.Equal(t, tt.want, got, "flags %#x", tt.flags)
	}
	_, err := DecodeUVMF(f.c, 3, 0)
	assert.Equal(t, xen.EINVAL, Errno(err))
	_, err = DecodeUVMF(f.c, xen.UVMFInvlpg|0x1000, 0)
	assert.Equal(t, xen.EFAULT, Errno(err))
}

func TestExtOpFlushes(t *testing.T) {
	f := newFixture(t)
	for _, op := range []ExtOp{
		{Cmd: xen.MMUExtTLBFlushLocal}, {Cmd: xen.MMUExtInvlpgLocal, Arg1: 0x7000},
		{Cmd: xen.MMUExtTLBFlushAll}, {Cmd: xen.MMUExtInvlpgAll, Arg1: 0x8000},
	} {
		require.NoError(t, MMUExtOp(f.c, op))
	}
	assert.Equal(t, []Flush{
		{Kind: FlushAll, CPUs: 1}, {Kind: FlushPage, VA: 0x7000, CPUs: 1},
		{Kind: FlushAll, CPUs: 3}, {Kind: FlushPage, VA: 0x8000, CPUs: 3},
	}, f.flushes)
	assert.Equal(t, xen.ENOSYS, Errno(MMUExtOp(f.c, ExtOp{Cmd: 99})))
}

func TestExtOpType(t *testing.T) {
	for cmd, want := range map[uint32]mmu.FrameType{
		xen.MMUExtPinL1Table: mmu.TypeL1, xen.MMUExtPinL2Table: mmu.TypeL2,
		xen.MMUExtPinL3Table: mmu.TypeL3, xen.MMUExtPinL4Table: mmu.TypeL4,
	} {
		got, ok := ExtOpType(cmd)
		assert.True(t, ok)
		assert.Equal(t, want, got)
	}
	_, ok := ExtOpType(xen.MMUExtUnpinTable)
	assert.False(t, ok)
}

// TestFlushWhenAFrameBecomesAPagetable: a frame that was mapped writable
// may still have that mapping in a TLB after it is made read-only; before
// it becomes a pagetable every vCPU's TLB is flushed, as Xen's
// get_page_type does. A frame never mapped writable since the last such
// flush needs none.
func TestFlushWhenAFrameBecomesAPagetable(t *testing.T) {
	f := newFixture(t)
	f.makeTable(t, 100) // was writable: now read-only, maybe still in a TLB
	f.flushes = nil
	require.NoError(t, MMUExtOp(f.c, ExtOp{Cmd: xen.MMUExtPinL1Table, Arg1: 100}))
	assert.Contains(t, f.flushes, Flush{Kind: FlushAll, CPUs: f.c.All}, "the pin asked for every TLB to be flushed")

	require.NoError(t, MMUExtOp(f.c, ExtOp{Cmd: xen.MMUExtUnpinTable, Arg1: 100}))
	f.flushes = nil
	require.NoError(t, MMUExtOp(f.c, ExtOp{Cmd: xen.MMUExtPinL1Table, Arg1: 100}))
	assert.NotContains(t, f.flushes, Flush{Kind: FlushAll, CPUs: f.c.All}, "flushed since it was writable: no flush")
	f.audit(t)
}
