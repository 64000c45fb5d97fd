package mmu

import "encoding/binary"

// SliceMemory is guest memory held in a byte slice, for running the type
// system and the pagetable operations without KVM.
type SliceMemory []byte

// Read64 implements Memory.
func (m SliceMemory) Read64(pa uint64) (uint64, bool) {
	if pa+8 > uint64(len(m)) || pa+8 < pa {
		return 0, false
	}
	return binary.LittleEndian.Uint64(m[pa:]), true
}
