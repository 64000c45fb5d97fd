package hv

import (
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"golang.org/x/arch/x86/x86asm"

	"github.com/pvsim/pvsim/mmu"
)

// FaultKind classifies how a domain ended when it did not shut down.
type FaultKind int

const (
	// TripleFault: the guest raised an exception it could not take, and
	// could not take the double fault that follows either.
	TripleFault FaultKind = iota
	// HypervisorFault: an exception in the hypervisor's own CPL0 code.
	HypervisorFault
	// HardwareFault: KVM refused to run the vCPU or stopped it (failed
	// entry, internal error, a triple fault of the real CPU).
	HardwareFault
	// Timeout: the guest did not shut down in time.
	Timeout
	// AuditFailure: the pagetable audit found a broken invariant.
	AuditFailure
	// DomainCrash: the guest handed the hypervisor a state it cannot run
	// (Xen's domain_crash), e.g. an iret frame it cannot read.
	DomainCrash
)

func (k FaultKind) String() string {
	switch k {
	case TripleFault:
		return "triple fault"
	case HypervisorFault:
		return "exception in the hypervisor"
	case HardwareFault:
		return "hardware fault"
	case Timeout:
		return "timeout"
	case AuditFailure:
		return "audit failure"
	case DomainCrash:
		return "domain crash"
	}
	return fmt.Sprintf("fault kind %d", int(k))
}

// GuestError is how a domain ends when the guest, not pvsim, is at fault.
type GuestError struct {
	Kind FaultKind
	VCPU int
	RIP  uint64
	// Where is RIP symbolized.
	Where string
	// Detail says what happened, in one line.
	Detail string
	// After is set for timeouts.
	After time.Duration
}

func (e *GuestError) Error() string {
	if e.Kind == Timeout {
		return fmt.Sprintf("timeout after %v: the guest did not shut down; %s", e.After, e.Detail)
	}
	return fmt.Sprintf("vCPU %d: %s at %s (rip %#x): %s", e.VCPU, e.Kind, e.Where, e.RIP, e.Detail)
}

// PanicError is a Go panic in pvsim itself, caught on a vCPU thread: a
// defect of the hypervisor, not of the guest. It ends the domain like any
// other error, so a caller reports it rather than losing the process.
type PanicError struct {
	VCPU  int
	Value any
	// Stack is the panicking goroutine's stack.
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("vCPU %d: internal error in pvsim (a bug, please report it): panic: %v", e.VCPU, e.Value)
}

var vectorNames = [32]struct{ mnemonic, name string }{
	0: {"DE", "divide error"}, 1: {"DB", "debug"}, 2: {"NMI", "non-maskable interrupt"},
	3: {"BP", "breakpoint"}, 4: {"OF", "overflow"}, 5: {"BR", "bound range exceeded"},
	6: {"UD", "invalid opcode"}, 7: {"NM", "device not available"}, 8: {"DF", "double fault"},
	9: {"CSO", "coprocessor segment overrun"}, 10: {"TS", "invalid TSS"}, 11: {"NP", "segment not present"},
	12: {"SS", "stack-segment fault"}, 13: {"GP", "general protection fault"}, 14: {"PF", "page fault"},
	16: {"MF", "x87 floating-point error"}, 17: {"AC", "alignment check"}, 18: {"MC", "machine check"},
	19: {"XM", "SIMD floating-point error"}, 20: {"VE", "virtualization exception"}, 21: {"CP", "control protection"},
}

func vectorMnemonic(v int) string {
	if v >= 0 && v < len(vectorNames) && vectorNames[v].mnemonic != "" {
		return vectorNames[v].mnemonic
	}
	return fmt.Sprintf("vec%d", v)
}

// Exception is one exception as the CPU delivered it to the hypervisor's
// entry stub.
type Exception struct {
	Vector    int
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

// Describe renders the exception for a one-line report, e.g.
// "#PF (page fault) writing 0x0: not present, user [error 0x6]".
func (x *Exception) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%s (%s)", vectorMnemonic(x.Vector), vectorNames[x.Vector&31].name)
	switch x.Vector {
	case 14:
		op := "reading"
		switch {
		case x.ErrorCode&mmu.PFFetch != 0:
			op = "fetching"
		case x.ErrorCode&mmu.PFWrite != 0:
			op = "writing"
		}
		cause := "page not present"
		if x.ErrorCode&mmu.PFPresent != 0 {
			cause = "protection violation"
		}
		if x.ErrorCode&mmu.PFReserved != 0 {
			cause = "reserved bit set"
		}
		fmt.Fprintf(&b, " %s %#x: %s [error %#x]", op, x.CR2, cause, x.ErrorCode)
	default:
		if vectorHasErrorCode(x.Vector) {
			fmt.Fprintf(&b, " [error %#x]", x.ErrorCode)
		}
	}
	if insn := decodeInsn(x.Code[:x.CodeLen]); insn != nil {
		// x86asm renders an absolute address of 0 as "[]".
		fmt.Fprintf(&b, " on `%s`", strings.ReplaceAll(x86asm.IntelSyntax(*insn, x.RIP, nil), "[]", "[0x0]"))
		if isPrivileged(insn) && x.CPL() == 3 {
			b.WriteString(", a CPL0-only instruction (the PV guest kernel runs at CPL3)")
		}
	}
	return b.String()
}

// isPrivileged reports whether inst faults outside CPL0.
func isPrivileged(inst *x86asm.Inst) bool {
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

// decodeInsn decodes code as one 64-bit instruction, or returns nil.
func decodeInsn(code []byte) *x86asm.Inst {
	inst, err := x86asm.Decode(code, 64)
	if err != nil {
		return nil
	}
	return &inst
}

// recoverPanic turns a panic on v's thread into the domain's end with a
// PanicError. Deferred by the vCPU loop.
func (v *vcpu) recoverPanic() {
	if r := recover(); r != nil {
		v.d.end(Result{}, &PanicError{VCPU: v.id, Value: r, Stack: debug.Stack()})
	}
}
