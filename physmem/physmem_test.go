package physmem

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/xen"
)

// newMem makes 4 MiB of guest memory whose first frames hold a pagetable
// that maps va 0x400000 (frame 10, writable), 0x401000 (frame 11,
// read-only) and 0x402000 (frame 12, supervisor only).
func newMem(t *testing.T) (*Memory, uint64) {
	t.Helper()
	m, err := New(4 << 20)
	require.NoError(t, err)
	t.Cleanup(m.Free)
	next := uint64(1)
	pt, err := NewTables(m, mmu.PTEPresent|mmu.PTEWritable|mmu.PTEUser, func() (uint64, error) { next++; return next - 1, nil })
	require.NoError(t, err)
	const user = mmu.PTEPresent | mmu.PTEUser
	require.NoError(t, pt.Map(0x400000, 10, user|mmu.PTEWritable))
	require.NoError(t, pt.Map(0x401000, 11, user))
	require.NoError(t, pt.Map(0x402000, 12, mmu.PTEPresent|mmu.PTEWritable))
	return m, pt.Root << mmu.PageShift
}

func TestLayout(t *testing.T) {
	m, _ := newMem(t)
	assert.Equal(t, uint64(1024), m.NrPages())
	assert.Nil(t, m.Bytes(m.Doorbell, 8), "the doorbell is unbacked")
	assert.NotNil(t, m.Bytes(m.HVBase, 8))
	assert.Nil(t, m.Bytes(uint64(len(m.Guest))-4, 8), "a read across the end of guest memory")
	_, ok := m.Read64(m.Doorbell)
	assert.False(t, ok)
}

func TestGuestAccess(t *testing.T) {
	m, cr3 := newMem(t)
	// Across the boundary of two pages, as the guest at CPL3 could.
	require.NoError(t, m.CopyToGuest(nil, cr3, 0x400ffc, []byte{1, 2, 3, 4}))
	got := make([]byte, 4)
	require.NoError(t, m.CopyFromGuest(cr3, got, 0x400ffc))
	assert.Equal(t, []byte{1, 2, 3, 4}, got)
	assert.ErrorIs(t, m.CopyToGuest(nil, cr3, 0x400ffe, []byte{1, 2, 3, 4}), xen.EFAULT, "the second page is read-only")
	assert.ErrorIs(t, m.CopyFromGuest(cr3, got, 0x402000), xen.EFAULT, "supervisor-only")
	assert.ErrorIs(t, m.CopyFromGuest(cr3, got, 0x403000), xen.EFAULT, "not mapped")

	m.Frame(11)[0] = 0x90
	m.Frame(11)[1] = 0xc3
	var code [15]byte
	assert.Equal(t, 15, m.FetchCode(cr3, 0x401000, true, code[:]))
	assert.Equal(t, byte(0xc3), code[1])
	assert.Equal(t, 4, m.FetchCode(cr3, 0x401ffc, true, code[:]), "fetch stops where CPL3 may not fetch")
	assert.Equal(t, 0, m.FetchCode(cr3, 0x402000, true, code[:]), "no fetch from a supervisor page at CPL3")
}

func TestImageIsCopyOnWrite(t *testing.T) {
	m, _ := newMem(t)
	m.Frame(20)[0] = 7
	im, err := m.Keep()
	require.NoError(t, err)
	defer im.Close()
	a, err := im.MapPrivate()
	require.NoError(t, err)
	defer a.Free()
	assert.Equal(t, byte(7), a.Frame(20)[0], "the copy sees the image")
	a.Frame(20)[0] = 8
	b, err := im.MapPrivate()
	require.NoError(t, err)
	defer b.Free()
	assert.Equal(t, byte(7), b.Frame(20)[0], "a copy's writes stay its own")
	assert.Equal(t, byte(7), m.Frame(20)[0])
}

func TestBootExecutor(t *testing.T) {
	m, _ := newMem(t)
	x := BootExecutor{Mem: m}
	x.Store(0x5000, 0x1003)
	assert.Equal(t, mmu.PTE(0x1003), x.Merge(0x5000, ^mmu.PTE(2), 0x20))
	assert.Equal(t, mmu.PTE(0x1021), x.CmpXchg(0x5000, 0x1021, 0x7))
	assert.Equal(t, mmu.PTE(0x7), x.CmpXchg(0x5000, 0x1021, 0x9), "a failed exchange changes nothing")
	v, _ := m.Read64(0x5000)
	assert.Equal(t, uint64(7), v)
	assert.Panics(t, func() { x.Store(m.Doorbell, 1) })
}
