package x86

// Descriptor is a legacy 8-byte GDT or LDT code or data segment descriptor.
type Descriptor uint64

// Segment and gate types, the 4-bit type field of a descriptor (S=1 for
// code and data, S=0 for system types).
const (
	TypeLDT                  = 0x2 // system: LDT
	TypeDataRWAccessed       = 0x3 // read/write data, accessed
	TypeCodeExecReadAccessed = 0xb // execute/read code, accessed
	TypeTSS64Busy            = 0xb // system: busy 64-bit TSS
	TypeInterruptGate64      = 0xe // system: 64-bit interrupt gate
)

// SelectorTI is a selector's table indicator: the LDT, not the GDT; an
// exception's error code that names a selector carries it too.
const SelectorTI = 1 << 2

// Access bits of a code or data descriptor.
const (
	descAccessed = 1 << 40
	descWritable = 1 << 41 // data; readable for code
	descCode     = 1 << 43
	descS        = 1 << 44 // code or data, not system
	descPresent  = 1 << 47
	descL        = 1 << 53 // 64-bit code
	descDB       = 1 << 54 // 32-bit default operand size
	descG        = 1 << 55 // 4 KiB granularity
	descLimit    = 0xffff | 0xf<<48
	descDPLShift = 45
)

// flatSegment is a present, accessed, 4 GiB code or data segment at dpl.
// The Accessed bit is preset, so the CPU never writes the descriptor.
func flatSegment(dpl int, bits uint64) Descriptor {
	return Descriptor(descLimit | descAccessed | descWritable | descS | descPresent | descG |
		uint64(dpl&3)<<descDPLShift | bits)
}

// Code64 is a flat 64-bit code segment at dpl.
func Code64(dpl int) Descriptor { return flatSegment(dpl, descCode|descL) }

// Code32 is a flat 32-bit (compatibility mode) code segment at dpl.
func Code32(dpl int) Descriptor { return flatSegment(dpl, descCode|descDB) }

// Data is a flat writable data segment at dpl.
func Data(dpl int) Descriptor { return flatSegment(dpl, descDB) }

// DPL is the descriptor's privilege level.
func (d Descriptor) DPL() int { return int(d>>descDPLShift) & 3 }

// Gate is a 16-byte long-mode IDT gate.
type Gate struct{ Lo, Hi uint64 }

// InterruptGate is a present 64-bit interrupt gate (IF cleared on entry) to
// handler through code selector sel, on interrupt stack ist (0 for none),
// that software may raise with `int` from dpl.
func InterruptGate(handler uint64, sel uint16, ist, dpl int) Gate {
	return Gate{
		Lo: handler&0xffff | uint64(sel)<<16 | uint64(ist&7)<<32 |
			uint64(TypeInterruptGate64|(dpl&3)<<5|1<<7)<<40 | (handler>>16&0xffff)<<48,
		Hi: handler >> 32,
	}
}

// ReadOnlyData is a present, accessed, read-only data segment at dpl with
// base 0 and a byte-granular limit (Xen's per-CPU GDT entry carries the
// CPU number that way, for `lsl`).
func ReadOnlyData(dpl int, limit uint32) Descriptor {
	return Descriptor(uint64(limit&0xffff) | uint64(limit>>16&0xf)<<48 |
		descAccessed | descS | descPresent | uint64(dpl&3)<<descDPLShift)
}

// TSS64 is the 16-byte descriptor of a 64-bit TSS at base, marked busy as
// the CPU leaves it after `ltr` (KVM loads TR directly).
func TSS64(base uint64, limit uint32) (lo, hi Descriptor) {
	lo = Descriptor(uint64(limit&0xffff) | (base&0xffffff)<<16 | (TypeTSS64Busy|1<<7)<<40 |
		uint64(limit>>16&0xf)<<48 | (base>>24&0xff)<<56)
	return lo, Descriptor(base >> 32)
}
