package x86

// RFLAGS bits.
const (
	FlagCF   = 1 << 0  // carry
	FlagRes1 = 1 << 1  // reserved, always set
	FlagPF   = 1 << 2  // parity
	FlagAF   = 1 << 4  // auxiliary carry
	FlagZF   = 1 << 6  // zero
	FlagSF   = 1 << 7  // sign
	FlagTF   = 1 << 8  // trap
	FlagIF   = 1 << 9  // interrupt enable
	FlagDF   = 1 << 10 // direction
	FlagOF   = 1 << 11 // overflow
	FlagIOPL = 3 << 12 // I/O privilege level
	FlagNT   = 1 << 14 // nested task
	FlagRF   = 1 << 16 // resume
	FlagVM   = 1 << 17 // virtual-8086 mode
	FlagAC   = 1 << 18 // alignment check
	FlagVIF  = 1 << 19 // virtual interrupt flag
	FlagVIP  = 1 << 20 // virtual interrupt pending
	FlagID   = 1 << 21 // CPUID available

	// FlagsDefined are the RFLAGS bits the architecture defines; the others
	// are reserved (bit 1 reads as one, the rest as zero).
	FlagsDefined = ArithFlags | FlagTF | FlagIF | FlagDF | FlagIOPL | FlagNT | FlagRF | FlagVM |
		FlagAC | FlagVIF | FlagVIP | FlagID

	// ArithFlags are the flags arithmetic and logic instructions define.
	ArithFlags = FlagCF | FlagPF | FlagAF | FlagZF | FlagSF | FlagOF
)

// CR0 bits.
const (
	CR0PE = 1 << 0  // protection enable
	CR0MP = 1 << 1  // monitor coprocessor
	CR0ET = 1 << 4  // extension type
	CR0NE = 1 << 5  // numeric error
	CR0WP = 1 << 16 // write protect (supervisor writes honour R/W)
	CR0AM = 1 << 18 // alignment mask
	CR0PG = 1 << 31 // paging
)

// CR4 bits.
const (
	CR4TSD        = 1 << 2  // time stamp disable at CPL > 0
	CR4DE         = 1 << 3  // debugging extensions: DR4/DR5 are not DR6/DR7
	CR4PAE        = 1 << 5  // physical address extension
	CR4OSFXSR     = 1 << 9  // FXSAVE/FXRSTOR and SSE
	CR4OSXMMEXCPT = 1 << 10 // unmasked SIMD exceptions
)

// EFER bits (MSR 0xc0000080).
const (
	EFERSCE = 1 << 0  // syscall enable
	EFERLME = 1 << 8  // long mode enable
	EFERLMA = 1 << 10 // long mode active
	EFERNXE = 1 << 11 // no-execute enable
)

// #PF error code bits.
const (
	PFPresent  = 1 << 0 // the page was present: a protection violation
	PFWrite    = 1 << 1 // a write
	PFUser     = 1 << 2 // at CPL3
	PFReserved = 1 << 3 // a reserved bit was set in an entry
	PFFetch    = 1 << 4 // an instruction fetch
)
