package privop

import (
	"bytes"

	"golang.org/x/arch/x86/x86asm"

	"github.com/pvsim/pvsim/x86"
)

// FEP is Xen's forced-emulation prefix, `ud2; .ascii "xen"`: the
// instruction after it is emulated by the hypervisor.
var FEP = []byte{0x0f, 0x0b, 'x', 'e', 'n'}

// fepCPUID is the only instruction Xen emulates after FEP for PV.
var fepCPUID = []byte{0x0f, 0xa2}

// EmulateUD handles a #UD the guest raised at CPL3 running the
// instruction whose bytes begin code (fetched at regs.RIP, up to 15), in
// guest kernel mode if kernelMode:
//
//   - FEP followed by cpuid is emulated with Env.CPUID, EAX and ECX the
//     leaf and subleaf, results zero-extended into RAX, RBX, RCX, RDX,
//     RIP past all seven bytes (Xen's emulate_forced_invalid_op). FEP
//     followed by anything else bounces #UD, as in Xen.
//   - `int n` (cd ib) is the software interrupt the guest's trap table
//     allows from its mode, or #GP((n<<3)|2) (SoftwareInterrupt);
//     `int3` (cc) is #BP and `icebp` (f1) #DB, as traps. `into` (ce) is
//     invalid in 64-bit mode: #UD.
//   - Anything else bounces #UD.
//
// On a Bounce, regs are unchanged.
func EmulateUD(code []byte, regs *Regs, kernelMode bool, env Env) Outcome {
	fault := Outcome{Kind: Bounce, Vector: x86.VectorUD}
	if len(code) > maxInsnLen {
		code = code[:maxInsnLen]
	}
	if n := min(len(code), len(FEP)); n > 0 && bytes.Equal(code[:n], FEP[:n]) {
		// Xen's emulate_forced_invalid_op reads the five bytes of the
		// prefix and the two of cpuid.
		switch {
		case len(code) < len(FEP)+len(fepCPUID):
			if bytes.HasPrefix(fepCPUID, code[n:]) {
				fault.Truncated = true
				return fault.because("the code bytes end inside a forced-emulation prefix")
			}
		case bytes.Equal(code[len(FEP):len(FEP)+len(fepCPUID)], fepCPUID):
			l := env.CPUID(uint32(regs.GPR[rax]), uint32(regs.GPR[rcx]))
			regs.GPR[rax], regs.GPR[rbx], regs.GPR[rcx], regs.GPR[rdx] = uint64(l.EAX), uint64(l.EBX), uint64(l.ECX), uint64(l.EDX)
			return done(Outcome{Op: x86asm.CPUID, Len: len(FEP) + len(fepCPUID)}, regs)
		}
		return fault.because("the forced-emulation prefix is followed by other than cpuid")
	}

	in, bad, ok := decodeOr(code, fault)
	if !ok {
		return bad
	}
	fault.Op, fault.Len = in.Op, in.Len
	if in.lock {
		return fault.because("LOCK prefix")
	}
	var o Outcome
	switch {
	case in.Op == x86asm.INT && in.opcode[0] == 0xcd:
		vector := in.opcode[1]
		o = SoftwareInterrupt(vector, env.TrapGateDPL(vector), kernelMode)
	case in.Op == x86asm.INT: // int3
		o = Outcome{Kind: Trap, Vector: x86.VectorBP}
	case in.Op == x86asm.ICEBP:
		o = Outcome{Kind: Trap, Vector: x86.VectorDB}
	default:
		return fault.because("an invalid instruction")
	}
	if o.Kind == Trap {
		regs.RIP += uint64(in.Len)
	}
	o.Op, o.Len = in.Op, in.Len
	return o
}

// SoftwareInterrupt decides what `int vector` does when the hypervisor
// delivers it: vectors 3 and 4 are #BP and #OF, whatever the guest's
// gate says (Xen's IDT gives them DPL 3, and do_int3 and do_overflow
// do not look at the guest's); any other is a software interrupt if
// the gate's DPL admits the guest's mode, the kernel counting as CPL1
// and user mode as CPL3 (Xen's permit_softint), else #GP with error code
// (vector<<3)|2, the IDT bit set. It changes no registers: for a Trap the
// caller moves RIP past the instruction.
func SoftwareInterrupt(vector uint8, gateDPL int, kernelMode bool) Outcome {
	o := Outcome{Kind: Trap, Vector: x86.Vector(vector)}
	if vector == uint8(x86.VectorBP) || vector == uint8(x86.VectorOF) {
		return o
	}
	cpl := 3
	if kernelMode {
		cpl = 1
	}
	if gateDPL >= cpl {
		o.SoftwareInt = true
		return o
	}
	return Outcome{Kind: Bounce, Vector: x86.VectorGP, ErrorCode: uint64(vector)<<3 | ecIDT,
		Reason: "the trap gate's DPL refuses int from the guest's mode"}
}

// softwareInterruptGP handles a #GP with the IDT bit set: `int n`
// through a gate of DPL 0, on a host that raises it. Xen's
// do_general_protection delivers it if permit_softint allows, working out
// the instruction's length with pv_emulate_sw_interrupt, and otherwise
// bounces the #GP as it came.
func softwareInterruptGP(code []byte, regs *Regs, fault Outcome, kernelMode bool, env Env) Outcome {
	vector := uint8(fault.ErrorCode >> 3)
	o := SoftwareInterrupt(vector, env.TrapGateDPL(vector), kernelMode)
	if o.Kind != Trap {
		return fault.because(o.Reason)
	}
	in, res := decode(code)
	switch {
	case res == truncated:
		fault.Truncated = true
		return fault.because("the instruction does not fit in the code bytes")
	case res != decoded || in.Op != x86asm.INT || in.opcode[0] != 0xcd:
		return fault.because("a #GP for an IDT gate not raised by int n")
	}
	regs.RIP += uint64(in.Len)
	o.Op, o.Len = in.Op, in.Len
	return o
}
