package privop

import "golang.org/x/arch/x86/x86asm"

// maxInsnLen is the architectural limit on an instruction's length.
const maxInsnLen = 15

// insn is a decoded instruction and the prefix facts the emulator needs
// that x86asm does not state plainly.
type insn struct {
	x86asm.Inst
	lock   bool // a LOCK prefix
	opsize bool // an operand-size (66) prefix
	rexW   bool // REX.W, in a REX prefix that counts (the last before the opcode)
	opcode []byte
}

type decodeResult uint8

const (
	decoded decodeResult = iota
	truncated
	invalid
)

// decode decodes the instruction code begins with, in 64-bit mode.
// truncated says code ends inside an instruction; invalid that it is none.
func decode(code []byte) (insn, decodeResult) {
	var in insn
	if len(code) > maxInsnLen {
		code = code[:maxInsnLen]
	}
	// Legacy prefixes in any order; a REX prefix counts only right before
	// the opcode, and the CPU ignores one followed by another prefix.
	// x86asm refuses those, so the copy it decodes has them replaced by
	// CS overrides, which 64-bit mode ignores as well.
	var buf [maxInsnLen]byte
	n := copy(buf[:], code)
	patched := false
	i, rex := 0, -1
scan:
	for ; i < len(code); i++ {
		switch b := code[i]; {
		case b == 0xf0:
			in.lock = true
		case b == 0x66:
			in.opsize = true
		case b == 0x67, b == 0x2e, b == 0x3e, b == 0x26, b == 0x64, b == 0x65, b == 0x36, b == 0xf2, b == 0xf3:
		case b&0xf0 == 0x40:
			if rex >= 0 {
				buf[rex], patched = 0x2e, true
			}
			rex = i
			continue
		default:
			break scan
		}
		if rex >= 0 {
			buf[rex], patched, rex = 0x2e, true, -1
		}
	}
	in.rexW = rex >= 0 && code[rex]&0x08 != 0
	in.opcode = code[i:]

	// MOV to and from control and debug registers always takes a register
	// operand: the CPU ignores ModRM.mod. x86asm does not, so decode them
	// with mod forced to 3.
	if len(in.opcode) >= 3 && in.opcode[0] == 0x0f && in.opcode[1]&^3 == 0x20 && in.opcode[2] < 0xc0 {
		buf[i+2] |= 0xc0
		patched = true
	}
	if patched {
		code = buf[:n]
	}

	inst, err := x86asm.Decode(code, 64)
	if err == nil && inst.Op != 0 && inst.Len <= len(code) {
		in.Inst = inst
		return in, decoded
	}
	// Would more bytes have made an instruction?
	if len(code) < maxInsnLen {
		for _, fill := range []byte{0x00, 0xc0} {
			var buf [maxInsnLen]byte
			for j := range buf {
				buf[j] = fill
			}
			copy(buf[:], code)
			if inst, err := x86asm.Decode(buf[:], 64); err == nil && inst.Op != 0 && inst.Len > len(code) {
				return in, truncated
			}
		}
	}
	return in, invalid
}

// gpr maps a 64-bit general-purpose register to its index.
func gpr(a x86asm.Arg) (int, bool) {
	r, ok := a.(x86asm.Reg)
	if !ok || r < x86asm.RAX || r > x86asm.R15 {
		return 0, false
	}
	return int(r - x86asm.RAX), true
}

// sysReg maps a control or debug register operand to its number.
func sysReg(a x86asm.Arg, first, last x86asm.Reg) (int, bool) {
	r, ok := a.(x86asm.Reg)
	if !ok || r < first || r > last {
		return 0, false
	}
	return int(r - first), true
}

// decodeOr decodes code, or gives fault, saying why it could not, as the
// outcome to return.
func decodeOr(code []byte, fault Outcome) (insn, Outcome, bool) {
	in, res := decode(code)
	switch res {
	case truncated:
		fault.Truncated = true
		return in, fault.because("the instruction does not fit in the code bytes"), false
	case invalid:
		return in, fault.because("no instruction"), false
	}
	return in, fault, true
}
