package mmu

import (
	"github.com/pvsim/pvsim/x86"
	"github.com/pvsim/pvsim/xen"
	"testing"

	"github.com/stretchr/testify/assert"
)

// mapMem is guest memory as a sparse map of quadwords.
type mapMem map[uint64]uint64

func (m mapMem) Read64(pa uint64) (uint64, bool) {
	if pa >= 1<<30 {
		return 0, false
	}
	return m[pa], true
}

// table builds a walk for va through frames 1 (L4), 2 (L3), 3 (L2), 4 (L1)
// to frame 9, with the given flags at each level, L4 first.
func table(va uint64, l4, l3, l2, l1 PTE) mapMem {
	m := mapMem{}
	m[1<<PageShift+uint64(Level(4).Index(va))*8] = uint64(MakePTE(2, l4))
	m[2<<PageShift+uint64(Level(3).Index(va))*8] = uint64(MakePTE(3, l3))
	m[3<<PageShift+uint64(Level(2).Index(va))*8] = uint64(MakePTE(4, l2))
	m[4<<PageShift+uint64(Level(1).Index(va))*8] = uint64(MakePTE(9, l1))
	return m
}

func TestTranslate(t *testing.T) {
	const va = 0xffffffff80123456
	const all = PTEPresent | PTEWritable | PTEUser
	tests := []struct {
		name  string
		mem   mapMem
		va    uint64
		acc   Access
		ok    bool
		code  uint32
		level Level
		pa    uint64
	}{
		{"user read", table(va, all, all, all, all), va, AccessUser, true, 0, 1, 9<<PageShift | 0x456},
		{"user write", table(va, all, all, all, all), va, AccessUser | AccessWrite, true, 0, 1, 9<<PageShift | 0x456},
		{"read-only leaf refuses write", table(va, all, all, all, PTEPresent|PTEUser), va, AccessUser | AccessWrite, false, x86.PFPresent | x86.PFWrite | x86.PFUser, 1, 0},
		{"read-only L3 refuses write", table(va, all, PTEPresent|PTEUser, all, all), va, AccessWrite, false, x86.PFPresent | x86.PFWrite, 1, 0},
		{"supervisor leaf refuses user", table(va, all, all, all, PTEPresent|PTEWritable), va, AccessUser, false, x86.PFPresent | x86.PFUser, 1, 0},
		{"supervisor leaf allows CPL0", table(va, all, all, all, PTEPresent|PTEWritable), va, AccessRead, true, 0, 1, 9<<PageShift | 0x456},
		{"NX refuses fetch", table(va, all, all, all, all|PTENX), va, AccessFetch | AccessUser, false, x86.PFPresent | x86.PFUser | x86.PFFetch, 1, 0},
		{"NX at L2 refuses fetch", table(va, all, all, all|PTENX, all), va, AccessFetch, false, x86.PFPresent | x86.PFFetch, 1, 0},
		{"not present L1", table(va, all, all, all, 0), va, AccessUser, false, x86.PFUser, 1, 0},
		{"not present L3", table(va, all, 0, all, all), va, AccessRead, false, 0, 3, 0},
		{"non-canonical", table(va, all, all, all, all), 0x0000800000000000, AccessRead, false, 0, 4, 0},
		{"2M page", table(va, all, all, all|PTEPSE, all), va, AccessUser, true, 0, 2, 4<<PageShift&^(2<<20-1) | va&(2<<20-1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := Translate(tt.mem, 1<<PageShift, tt.va, tt.acc)
			assert.Equal(t, tt.ok, w.OK)
			assert.Equal(t, tt.level, w.Level)
			if tt.ok {
				assert.Equal(t, tt.pa, w.PA)
			} else {
				assert.Equal(t, tt.code, w.ErrorCode)
			}
		})
	}
}

func TestPTE(t *testing.T) {
	e := MakePTE(0x1f3, PTEPresent|PTEWritable|PTENX)
	assert.Equal(t, uint64(0x1f3), e.PFN())
	assert.Equal(t, PTEPresent|PTEWritable|PTENX, e.Flags())
	assert.Equal(t, "pfn 0x1f3 P W NX", e.String())
	assert.Equal(t, "0x0 (not present)", PTE(0).String())
	assert.Equal(t, 511, Level(4).Index(0xffffffff80000000))
	assert.Equal(t, 510, Level(3).Index(0xffffffff80000000))
	assert.True(t, Canonical(0xffff800000000000))
	assert.False(t, Canonical(0x0000800000000000))
}

func TestGuestAddress(t *testing.T) {
	for _, tt := range []struct {
		va, n   uint64
		addr, r bool
	}{
		{0, 0x1000, true, true},
		{0x7ffffffff000, 0x1000, true, true},
		{0x7ffffffff000, 0x1001, true, false}, // runs off the canonical low half
		{0x800000000000, 8, false, false},     // not canonical
		{xen.HypervisorVirtStart, 8, false, false},
		{xen.HypervisorVirtEnd - 8, 8, false, false},
		{xen.HypervisorVirtEnd - 8, 16, false, false}, // starts in the hypervisor's range
		{xen.HypervisorVirtEnd, 8, true, true},
		{0xfffffffffffff000, 0x1000, true, true},
		{0xfffffffffffff000, 0x1001, true, false}, // wraps
		{0x1234, 0, true, true},
	} {
		assert.Equal(t, tt.addr, GuestAddress(tt.va), "GuestAddress(%#x)", tt.va)
		assert.Equal(t, tt.r, GuestRange(tt.va, tt.n), "GuestRange(%#x, %#x)", tt.va, tt.n)
	}
}
