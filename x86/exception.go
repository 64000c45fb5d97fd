package x86

import (
	"fmt"
	"strings"

	"golang.org/x/arch/x86/x86asm"
)

// Exception is one exception as the CPU delivered it to a CPL0 handler: the
// frame it pushed, CR2 for a page fault, and the instruction bytes at the
// faulting RIP that could be read.
type Exception struct {
	Vector    Vector
	ErrorCode uint64
	RIP, CS   uint64
	RFLAGS    uint64
	RSP, SS   uint64
	CR2       uint64
	// Code holds the instruction bytes at RIP that could be read, CodeLen
	// of them.
	Code    [15]byte
	CodeLen int
}

// CPL is the privilege level the exception was raised at.
func (x *Exception) CPL() int { return int(x.CS & 3) }

// IsWriteFault reports whether x is a page fault on a write to a present
// page: a protection violation that a hypervisor may emulate.
func (x *Exception) IsWriteFault() bool {
	return x.Vector == VectorPF && x.ErrorCode&(PFPresent|PFWrite) == PFPresent|PFWrite
}

// Describe renders the exception for a one-line report, e.g.
// "#PF (page fault) writing 0x0: page not present [error 0x6] on `mov ...`".
func (x *Exception) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%s (%s)", x.Vector.Mnemonic(), x.Vector.Name())
	switch {
	case x.Vector == VectorPF:
		op := "reading"
		switch {
		case x.ErrorCode&PFFetch != 0:
			op = "fetching"
		case x.ErrorCode&PFWrite != 0:
			op = "writing"
		}
		cause := "page not present"
		if x.ErrorCode&PFPresent != 0 {
			cause = "protection violation"
		}
		if x.ErrorCode&PFReserved != 0 {
			cause = "reserved bit set"
		}
		fmt.Fprintf(&b, " %s %#x: %s [error %#x]", op, x.CR2, cause, x.ErrorCode)
	case x.Vector.HasErrorCode():
		fmt.Fprintf(&b, " [error %#x]", x.ErrorCode)
	}
	if inst, err := x86asm.Decode(x.Code[:x.CodeLen], 64); err == nil {
		// x86asm renders an absolute address of 0 as "[]".
		fmt.Fprintf(&b, " on `%s`", strings.ReplaceAll(x86asm.IntelSyntax(inst, x.RIP, nil), "[]", "[0x0]"))
		if Privileged(&inst) && x.CPL() == 3 {
			b.WriteString(", a CPL0-only instruction (the PV guest kernel runs at CPL3)")
		}
	}
	return b.String()
}

// Privileged reports whether inst raises #GP outside CPL0.
func Privileged(inst *x86asm.Inst) bool {
	switch inst.Op {
	case x86asm.MOV:
		for _, a := range inst.Args {
			if r, ok := a.(x86asm.Reg); ok && (r >= x86asm.CR0 && r <= x86asm.CR15 || r >= x86asm.DR0 && r <= x86asm.DR7) {
				return true
			}
		}
	case x86asm.HLT, x86asm.LGDT, x86asm.LIDT, x86asm.LLDT, x86asm.LTR, x86asm.LMSW,
		x86asm.CLTS, x86asm.INVD, x86asm.WBINVD, x86asm.INVLPG, x86asm.RDMSR, x86asm.WRMSR,
		x86asm.SWAPGS, x86asm.SYSRET, x86asm.CLI, x86asm.STI,
		x86asm.IN, x86asm.INSB, x86asm.INSW, x86asm.INSD, x86asm.OUT, x86asm.OUTSB, x86asm.OUTSW, x86asm.OUTSD:
		return true
	}
	return false
}
