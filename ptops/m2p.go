package ptops

import (
	"golang.org/x/arch/x86/x86asm"

	"github.com/pvsim/pvsim/xen"
)

// EmulateM2PRead emulates a load from Xen's read-only machine-to-phys
// table at its default address (xen.MachToPhysVirtStart) that faulted at
// cr2: guests read it there (XTF's mfn_to_virt), and Xen maps it there,
// but on this host every CPL3 access to L4 slot 256 faults, so pvsim
// serves the load instead of mapping the table. Entry mfn holds mfn for a
// frame of the domain, whose machine and pseudo-physical frames are the
// same, and INVALID_M2P_ENTRY for any other. The instruction must be a
// MOV, MOVZX, MOVSX or MOVSXD from memory into a general register,
// reading only the table; it then completes as the CPU would have
// completed it, registers and RIP updated in regs. Anything else is
// NotEmulated, and the fault goes to the guest as it was.
func EmulateM2PRead(insns *InsnCache, regs *Regs, cr2 uint64, code []byte, nrFrames uint64) error {
	if cr2 < xen.MachToPhysVirtStart || cr2 >= xen.MachToPhysVirtEnd {
		return notEmulated("%#x is not in the M2P", cr2)
	}
	insn, err := insns.Decode(code)
	if err != nil {
		return notEmulated("undecodable instruction: %v", err)
	}
	switch insn.Op {
	case x86asm.MOV, x86asm.MOVZX, x86asm.MOVSX, x86asm.MOVSXD:
	default:
		return notEmulated("%v is not a load", insn.Op)
	}
	dst, ok := insn.Args[0].(x86asm.Reg)
	mem, isMem := insn.Args[1].(x86asm.Mem)
	if !ok || !isMem {
		return notEmulated("%v is not a load into a register", insn)
	}
	ea, err := effectiveAddress(mem, insn, regs)
	if err != nil {
		return err
	}
	size := insn.MemBytes
	if ea != cr2 || size < 1 || size > 8 || ea+uint64(size) > xen.MachToPhysVirtEnd {
		return notEmulated("%v reads %d bytes at %#x, the fault was at %#x", insn.Op, size, ea, cr2)
	}
	var v uint64
	for i := size - 1; i >= 0; i-- {
		off := ea + uint64(i) - xen.MachToPhysVirtStart
		v = v<<8 | m2pEntry(off/8, nrFrames)>>(off%8*8)&0xff
	}
	if insn.Op == x86asm.MOVSX || insn.Op == x86asm.MOVSXD {
		shift := 64 - uint(size)*8
		v = uint64(int64(v<<shift) >> shift)
	}
	return setRegister(regs, dst, v, insn)
}

// m2pEntry is entry mfn of the M2P of a domain of nrFrames frames.
func m2pEntry(mfn, nrFrames uint64) uint64 {
	if mfn < nrFrames {
		return mfn
	}
	return xen.InvalidM2PEntry
}

// setRegister writes v to register r as an instruction writing it does
// in 64-bit mode (a 4-byte write zero-extends, narrower ones merge) and
// moves RIP past insn.
func setRegister(regs *Regs, r x86asm.Reg, v uint64, insn *x86asm.Inst) error {
	var i int
	var mask uint64
	switch {
	case r >= x86asm.RAX && r <= x86asm.R15:
		i, mask = int(r-x86asm.RAX), ^uint64(0)
	case r >= x86asm.EAX && r <= x86asm.R15L:
		i, mask = int(r-x86asm.EAX), 0xffffffff
		regs.GPR[i] = 0
	case r >= x86asm.AX && r <= x86asm.R15W:
		i, mask = int(r-x86asm.AX), 0xffff
	case r >= x86asm.AL && r <= x86asm.R15B && !(r >= x86asm.AH && r <= x86asm.BH):
		i, mask = int(r-x86asm.AL), 0xff
		switch {
		case r >= x86asm.R8B:
			i = int(r-x86asm.R8B) + 8
		case r >= x86asm.SPB:
			i = int(r-x86asm.SPB) + 4
		}
	default:
		return notEmulated("destination %v", r)
	}
	regs.GPR[i] = regs.GPR[i]&^mask | v&mask
	regs.RIP += uint64(insn.Len)
	return nil
}
