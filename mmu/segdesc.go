package mmu

import "github.com/pvsim/pvsim/xen"

// Bits of a segment descriptor's high word (Xen's _SEGMENT_*).
const (
	segType    = 15 << 8
	segS       = 1 << 12 // code or data, not system
	segDPL     = 3 << 13
	segPresent = 1 << 15
	// segCallGate64 is the type of a 64-bit call gate (S clear).
	segCallGate64 = 0xc << 8
)

// guestKernelRPL is the privilege a 64-bit PV guest kernel runs at, and the
// least a descriptor it installs may grant (Xen's GUEST_KERNEL_RPL).
const guestKernelRPL = 3

// CheckDescriptor is Xen's check_descriptor for a 64-bit PV guest: it
// reports whether descriptor d, one 8-byte entry of a GDT or LDT page, may
// be installed, and d as Xen installs it. Not-present descriptors and
// code and data segments pass, with a DPL below 3 raised to 3; a system
// descriptor of type 0 (the upper half of a 64-bit gate) passes as it is;
// a 64-bit call gate passes if its target selector is a guest GDT entry,
// FLAT_KERNEL_CS or an LDT entry, with its DPL moved into that selector's
// RPL and cleared, so that using the gate faults and can be emulated; any
// other system descriptor is refused.
func CheckDescriptor(d uint64) (uint64, bool) {
	a, b := uint32(d), uint32(d>>32)
	if b&segPresent == 0 {
		return d, true
	}
	dpl := b >> 13 & 3
	if dpl < guestKernelRPL {
		dpl = guestKernelRPL
	}
	b = b&^segDPL | dpl<<13
	if b&segS == 0 {
		switch b & segType {
		case 0:
			return d, true
		case segCallGate64:
		default:
			return d, false
		}
		cs := a >> 16
		if cs>>3 >= xen.FirstReservedGDTByte/8 && cs != xen.FlatRing3CS64 && cs&4 == 0 {
			return d, false
		}
		b &^= segDPL
		a = a&0xffff | (cs&^3|dpl)<<16
		if b&0xff != 0 {
			return d, false
		}
	}
	return uint64(b)<<32 | uint64(a), true
}

// DataLoadable reports whether the processor loads descriptor d, one
// CheckDescriptor passed, into a data segment register with a selector of
// RPL 3: present, DPL 3, a data segment or a readable code segment. Base
// is its 32-bit base.
func DataLoadable(d uint64) (base uint64, ok bool) {
	b := uint32(d >> 32)
	const readable = 2 << 8
	switch {
	case b&segPresent == 0, b&segS == 0, b>>13&3 != 3:
		return 0, false
	case b&(8<<8) != 0 && b&readable == 0: // code, not readable
		return 0, false
	}
	return d>>16&0xffffff | d>>56<<24, true
}

// validateSegDesc checks every descriptor of frame pfn (Xen's
// validate_segdesc_page) and writes back through x those CheckDescriptor
// changes, as Xen fixes them up in place. On refusal nothing is written.
func (t *FrameTable) validateSegDesc(pfn uint64, x Executor) error {
	for i := 0; i < 512; i++ {
		if d := uint64(t.Entry(pfn, i)); !descriptorOK(d) {
			return refuse(xen.EINVAL, pfn, "descriptor %d (%#016x) may not be installed by a PV guest", i, d)
		}
	}
	for i := 0; i < 512; i++ {
		d := uint64(t.Entry(pfn, i))
		if nd, _ := CheckDescriptor(d); nd != d {
			x.Store(pfn<<PageShift+uint64(i)*8, PTE(nd))
		}
	}
	return nil
}

func descriptorOK(d uint64) bool {
	_, ok := CheckDescriptor(d)
	return ok
}
