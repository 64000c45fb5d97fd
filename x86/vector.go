package x86

import "fmt"

// Vector is an interrupt or exception vector.
type Vector uint8

// The architectural exception vectors.
const (
	VectorDE  Vector = 0  // divide error
	VectorDB  Vector = 1  // debug
	VectorNMI Vector = 2  // non-maskable interrupt
	VectorBP  Vector = 3  // breakpoint
	VectorOF  Vector = 4  // overflow
	VectorBR  Vector = 5  // bound range exceeded
	VectorUD  Vector = 6  // invalid opcode
	VectorNM  Vector = 7  // device not available
	VectorDF  Vector = 8  // double fault
	VectorTS  Vector = 10 // invalid TSS
	VectorNP  Vector = 11 // segment not present
	VectorSS  Vector = 12 // stack-segment fault
	VectorGP  Vector = 13 // general protection
	VectorPF  Vector = 14 // page fault
	VectorMF  Vector = 16 // x87 floating-point error
	VectorAC  Vector = 17 // alignment check
	VectorMC  Vector = 18 // machine check
	VectorXM  Vector = 19 // SIMD floating-point error
	VectorVE  Vector = 20 // virtualization exception
	VectorCP  Vector = 21 // control protection

	// NrExceptions is the number of vectors reserved for exceptions;
	// external interrupts start here.
	NrExceptions = 32
)

var vectorNames = [NrExceptions]struct{ mnemonic, name string }{
	0: {"DE", "divide error"}, 1: {"DB", "debug"}, 2: {"NMI", "non-maskable interrupt"},
	3: {"BP", "breakpoint"}, 4: {"OF", "overflow"}, 5: {"BR", "bound range exceeded"},
	6: {"UD", "invalid opcode"}, 7: {"NM", "device not available"}, 8: {"DF", "double fault"},
	9: {"CSO", "coprocessor segment overrun"}, 10: {"TS", "invalid TSS"}, 11: {"NP", "segment not present"},
	12: {"SS", "stack-segment fault"}, 13: {"GP", "general protection fault"}, 14: {"PF", "page fault"},
	16: {"MF", "x87 floating-point error"}, 17: {"AC", "alignment check"}, 18: {"MC", "machine check"},
	19: {"XM", "SIMD floating-point error"}, 20: {"VE", "virtualization exception"}, 21: {"CP", "control protection"},
}

// Mnemonic is the vector's short name without the '#' ("PF"), or "vecN"
// for a vector with none.
func (v Vector) Mnemonic() string {
	if v < NrExceptions && vectorNames[v].mnemonic != "" {
		return vectorNames[v].mnemonic
	}
	return fmt.Sprintf("vec%d", int(v))
}

// Name is the exception's name ("page fault"), or "" for a vector with none.
func (v Vector) Name() string {
	if v < NrExceptions {
		return vectorNames[v].name
	}
	return ""
}

// HasErrorCode reports whether the CPU pushes an error code when it
// delivers an exception through vector v.
func (v Vector) HasErrorCode() bool {
	switch v {
	case VectorDF, VectorTS, VectorNP, VectorSS, VectorGP, VectorPF, VectorAC, VectorCP, 29, 30:
		return true
	}
	return false
}

// UsesIST reports whether pvsim's IDT sends v through the interrupt stack
// table: the vectors that can arrive on any stack, however broken (#DF, NMI
// and #MC), as every x86-64 kernel does.
func (v Vector) UsesIST() bool { return v == VectorNMI || v == VectorDF || v == VectorMC }
