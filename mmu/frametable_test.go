package mmu

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/xen"
)

func TestGetPageTypeRules(t *testing.T) {
	mem := make(SliceMemory, 16*PageSize)
	ft := NewFrameTable(mem, 16)
	put := func(pfn uint64, i int, e PTE) {
		binary.LittleEndian.PutUint64(mem[pfn<<PageShift+uint64(i)*8:], uint64(e))
	}
	code := func(err error) xen.Errno {
		var e *Error
		require.ErrorAs(t, err, &e)
		return e.Code
	}

	// A writable frame cannot become a pagetable, nor the reverse.
	require.NoError(t, ft.GetPageType(3, TypeWritable, nil))
	assert.Equal(t, xen.EINVAL, code(ft.GetPageType(3, TypeL1, nil)))
	ft.PutPageType(3)
	require.NoError(t, ft.GetPageType(3, TypeL1, nil))
	assert.Equal(t, xen.EINVAL, code(ft.GetPageType(3, TypeWritable, nil)))
	ft.PutPageType(3)
	assert.Equal(t, Frame{}, counts(*ft.Frame(3)))

	// A table that fails validation half-way takes nothing.
	put(4, 0, MakePTE(5, PTEPresent|PTEWritable))
	put(4, 1, MakePTE(6, PTEPresent))
	put(4, 2, MakePTE(99, PTEPresent))
	err := ft.GetPageType(4, TypeL1, nil)
	assert.Equal(t, xen.EPERM, code(err))
	assert.Contains(t, err.Error(), "L1 entry 2")
	for pfn := uint64(0); pfn < 16; pfn++ {
		assert.Equal(t, Frame{}, counts(*ft.Frame(pfn)), "frame %d", pfn)
	}

	// An L1 that maps itself writable is refused; read-only is fine.
	put(4, 2, MakePTE(4, PTEPresent|PTEWritable))
	assert.Equal(t, xen.EINVAL, code(ft.GetPageType(4, TypeL1, nil)))
	put(4, 2, MakePTE(4, PTEPresent))
	require.NoError(t, ft.GetPageType(4, TypeL1, nil))
	assert.Equal(t, Frame{Type: TypeL1, TypeCount: 1, RefCount: 1}, *ft.Frame(4))
	assert.Equal(t, Frame{Type: TypeWritable, TypeCount: 1, RefCount: 1}, counts(*ft.Frame(5)))

	// An L2 pointing at itself (a linear pagetable) is refused.
	put(7, 0, MakePTE(7, PTEPresent|PTEWritable))
	assert.Equal(t, xen.EINVAL, code(ft.GetPageType(7, TypeL2, nil)))
	assert.Equal(t, Frame{}, *ft.Frame(7))
}

func TestAuditFindsViolations(t *testing.T) {
	mem := make(SliceMemory, 16*PageSize)
	ft := NewFrameTable(mem, 16)
	binary.LittleEndian.PutUint64(mem[1<<PageShift:], uint64(MakePTE(2, PTEPresent|PTEWritable)))
	require.NoError(t, ft.GetPageType(1, TypeL1, nil))
	assert.Equal(t, "frame 0x1: type L1 count 1, recount finds none count 0", ft.Audit(nil, 0)[0].String(),
		"a type reference nobody holds")
	// Hold it as a pin does.
	require.NoError(t, ft.GetPage(1))
	ft.Frame(1).Pinned = true
	assert.Empty(t, ft.Audit(nil, 0))

	// A write behind the type system's back: a second writable mapping.
	binary.LittleEndian.PutUint64(mem[1<<PageShift+8:], uint64(MakePTE(2, PTEPresent|PTEWritable)))
	v := ft.Audit(nil, 0)
	require.Len(t, v, 2)
	assert.Contains(t, v[0].String(), "frame 0x2: type writable count 1, recount finds writable count 2")

	// A writable mapping of the table itself.
	binary.LittleEndian.PutUint64(mem[1<<PageShift+8:], uint64(MakePTE(1, PTEPresent|PTEWritable)))
	assert.NotEmpty(t, ft.Audit(nil, 0))
	// A CR3 that is not an L4.
	binary.LittleEndian.PutUint64(mem[1<<PageShift+8:], 0)
	assert.Empty(t, ft.Audit(nil, 0))
	assert.Contains(t, ft.Audit([]uint64{1 << PageShift}, 0)[0].String(), "CR3 of vCPU 0 is not a validated L4")
}

// A frame the hypervisor holds stays a writable page: it can never be
// validated as a pagetable, and the audit counts the hypervisor's
// references.
func TestHoldWritable(t *testing.T) {
	mem := make(SliceMemory, 8*PageSize)
	ft := NewFrameTable(mem, 8)
	require.NoError(t, ft.HoldWritable(6))
	assert.Equal(t, Frame{Type: TypeWritable, TypeCount: 1, RefCount: 1}, *ft.Frame(6))
	assert.Error(t, ft.GetPageType(6, TypeL1, nil))
	assert.Empty(t, ft.Audit(nil, 0))
	assert.Error(t, ft.HoldWritable(8), "outside the domain")

	ft.PutPageAndType(6) // a bug: dropping the hypervisor's references
	assert.NotEmpty(t, ft.Audit(nil, 0))
}

// counts is f without its TLB-flush clock (WritableUntil), which records
// history, not references: what a refused or undone operation leaves as
// it was.
func counts(f Frame) Frame {
	f.WritableUntil = 0
	return f
}

// The audit recounts a copy taken under the lock: what changes after the
// snapshot, in memory or in the table, does not change its verdict, and a
// copy taken again sees it. The copy's buffers are reused.
func TestAuditChecksTheSnapshot(t *testing.T) {
	mem := make(SliceMemory, 16*PageSize)
	ft := NewFrameTable(mem, 16)
	binary.LittleEndian.PutUint64(mem[1<<PageShift:], uint64(MakePTE(2, PTEPresent|PTEWritable)))
	require.NoError(t, ft.GetPageType(1, TypeL1, nil))
	require.NoError(t, ft.GetPage(1))
	ft.Frame(1).Pinned = true

	var c AuditCopy
	ft.Snapshot(&c, nil)
	// Behind the type system's back, after the copy: a second writable
	// mapping in the validated L1.
	binary.LittleEndian.PutUint64(mem[1<<PageShift+8:], uint64(MakePTE(2, PTEPresent|PTEWritable)))
	assert.Empty(t, c.Check(0), "the copy predates the write")

	ft.Snapshot(&c, nil)
	v := c.Check(0)
	require.NotEmpty(t, v, "a new copy has the write")
	assert.Contains(t, v[0].String(), "frame 0x2: type writable count 1, recount finds writable count 2")

	// A copy of the broken state still finds it once memory is repaired.
	binary.LittleEndian.PutUint64(mem[1<<PageShift+8:], 0)
	assert.NotEmpty(t, c.Check(0))
	ft.Snapshot(&c, nil)
	assert.Empty(t, c.Check(0))
	assert.Equal(t, 512, len(c.entries), "one validated table copied")
}

// publishingMemory counts the reads of the table's entries and the calls
// of Publish (mmu.Publisher), and the reads made before the first call.
type publishingMemory struct {
	SliceMemory
	reads, publishes, readsBefore int
}

func (m *publishingMemory) Read64(pa uint64) (uint64, bool) {
	m.reads++
	return m.SliceMemory.Read64(pa)
}

func (m *publishingMemory) Publish() {
	if m.publishes == 0 {
		m.readsBefore = m.reads
	}
	m.publishes++
}

// Before a frame is validated, the stores the table's Memory shows but
// memory lacks are made: one of them may remove the frame's last writable
// mapping, through which another vCPU could otherwise write the table
// after validation read it. A frame that is not validated, or is already,
// does not need it.
func TestGetPageTypePublishesBeforeValidating(t *testing.T) {
	mem := &publishingMemory{SliceMemory: make(SliceMemory, 16*PageSize)}
	ft := NewFrameTable(mem, 16)
	require.NoError(t, ft.GetPageType(3, TypeWritable, nil))
	assert.Zero(t, mem.publishes, "a writable page is not validated")

	require.NoError(t, ft.GetPageType(4, TypeL1, nil))
	assert.Equal(t, 1, mem.publishes)
	assert.Zero(t, mem.readsBefore, "published before the first entry is read")
	assert.Equal(t, 512, mem.reads)

	require.NoError(t, ft.GetPageType(4, TypeL1, nil))
	assert.Equal(t, 1, mem.publishes, "validated already")
}
