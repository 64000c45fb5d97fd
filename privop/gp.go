package privop

import (
	"golang.org/x/arch/x86/x86asm"

	"github.com/pvsim/pvsim/x86"
)

// EmulateGP handles a #GP the guest raised at CPL3 with error code
// errorCode, running the instruction whose bytes begin code (fetched at
// regs.RIP, up to 15) in guest kernel mode if kernelMode, else in guest
// user mode. It follows Xen's do_general_protection: a #GP with the IDT
// bit is an `int n` through a gate of DPL 0, delivered if the guest's
// trap table allows it from the guest's mode (SoftwareInterrupt); a #GP
// with error code 0 may be a privileged instruction, emulated as Xen's
// pv_emulate_privileged_op does (see the package comment); anything else
// bounces as it came. On a Bounce, regs are unchanged.
func EmulateGP(code []byte, regs *Regs, errorCode uint64, kernelMode bool, env Env) Outcome {
	fault := Outcome{Kind: Bounce, Vector: x86.VectorGP, ErrorCode: errorCode}
	switch {
	case errorCode&ecEXT != 0:
		return fault.because("raised delivering an external event")
	case errorCode&ecIDT != 0:
		return softwareInterruptGP(code, regs, fault, kernelMode, env)
	case errorCode != 0:
		return fault.because("a segment selector fault")
	}

	in, bad, ok := decodeOr(code, fault)
	if !ok {
		return bad
	}
	o := fault
	o.Op, o.Len = in.Op, in.Len

	switch in.Op {
	case x86asm.MOV:
		return movSysReg(&in, o, regs, kernelMode, env)
	case x86asm.RDMSR, x86asm.WRMSR, x86asm.CLTS, x86asm.WBINVD, x86asm.RDTSC, x86asm.RDTSCP,
		x86asm.CPUID, x86asm.CLI, x86asm.STI, x86asm.IN, x86asm.OUT:
		if in.lock {
			return o.raise(x86.VectorUD, "LOCK prefix")
		}
	case x86asm.HLT:
		return o.because("hlt is not emulated for PV (Xen's validate)")
	case x86asm.INVD:
		return o.because("invd is not emulated for PV (Xen's validate)")
	case x86asm.RDPMC:
		return o.because("rdpmc is not emulated for PV (Xen's validate)")
	case x86asm.INSB, x86asm.INSW, x86asm.INSD, x86asm.OUTSB, x86asm.OUTSW, x86asm.OUTSD:
		return o.because("string I/O is not emulated")
	default:
		return o.because("not an instruction pvsim emulates")
	}

	switch in.Op {
	case x86asm.CLI, x86asm.STI:
		if !ioplOK(kernelMode, env) {
			return o.because("the virtual IOPL does not allow cli and sti")
		}
		return done(o, regs) // the event mask is left alone, as Xen does
	case x86asm.IN, x86asm.OUT:
		return portIO(&in, o, regs, kernelMode, env)
	case x86asm.RDTSC, x86asm.RDTSCP:
		return rdtsc(&in, o, regs, kernelMode, env)
	case x86asm.CPUID:
		l := env.CPUID(uint32(regs.GPR[rax]), uint32(regs.GPR[rcx]))
		regs.GPR[rax], regs.GPR[rbx], regs.GPR[rcx], regs.GPR[rdx] = uint64(l.EAX), uint64(l.EBX), uint64(l.ECX), uint64(l.EDX)
		return done(o, regs)
	}

	// The rest are CPL0 instructions: emulated for the guest kernel only.
	if !kernelMode {
		return o.because("a CPL0 instruction in guest user mode")
	}
	switch in.Op {
	case x86asm.RDMSR:
		v, ok := env.ReadMSR(uint32(regs.GPR[rcx]))
		if !ok {
			return o.because("rdmsr refused")
		}
		regs.GPR[rax], regs.GPR[rdx] = v&0xffffffff, v>>32
	case x86asm.WRMSR:
		v := regs.GPR[rdx]<<32 | regs.GPR[rax]&0xffffffff
		if !env.WriteMSR(uint32(regs.GPR[rcx]), v) {
			return o.because("wrmsr refused")
		}
	case x86asm.CLTS:
		cr0, ok := env.ReadCR(CR0)
		if !ok || !env.WriteCR(CR0, cr0&^cr0TS) {
			return o.because("clts refused")
		}
	case x86asm.WBINVD:
		// Ignored, as Xen does for a domain that may not flush caches.
	}
	return done(o, regs)
}

// movSysReg emulates mov to and from CR0, CR2, CR3, CR4 and DR0-DR7:
// 0f 20 (CR to GPR), 0f 21 (DR to GPR), 0f 22 (GPR to CR), 0f 23 (GPR to
// DR). The operand size is always 64 bits.
func movSysReg(in *insn, o Outcome, regs *Regs, kernelMode bool, env Env) Outcome {
	if len(in.opcode) < 2 || in.opcode[0] != 0x0f || in.opcode[1]&^3 != 0x20 {
		return o.because("not an instruction pvsim emulates")
	}
	write, debug := in.opcode[1]&2 != 0, in.opcode[1]&1 != 0
	sysArg, gprArg := in.Args[1], in.Args[0]
	if write {
		sysArg, gprArg = in.Args[0], in.Args[1]
	}
	first, last := x86asm.CR0, x86asm.CR15
	if debug {
		first, last = x86asm.DR0, x86asm.DR15
	}
	n, ok := sysReg(sysArg, first, last)
	g, gok := gpr(gprArg)
	switch {
	case !ok || !gok:
		return o.because("unexpected operands")
	case in.lock:
		return o.raise(x86.VectorUD, "LOCK prefix on mov to or from a control or debug register")
	case !kernelMode:
		return o.because("a CPL0 instruction in guest user mode")
	}
	if debug {
		var bad Outcome
		if n, bad, ok = debugReg(n, o, env); !ok {
			return bad
		}
	} else if !emulatedCR(n) {
		return o.because("a control register other than CR0, CR2, CR3, CR4")
	}
	if write {
		if debug && !env.WriteDR(n, regs.GPR[g]) || !debug && !env.WriteCR(n, regs.GPR[g]) {
			return o.because("the register write was refused")
		}
		return done(o, regs)
	}
	var v uint64
	if debug {
		v, ok = env.ReadDR(n)
	} else {
		v, ok = env.ReadCR(n)
	}
	if !ok {
		return o.because("the register read was refused")
	}
	regs.GPR[g] = v
	return done(o, regs)
}

func emulatedCR(n int) bool { return n == CR0 || n == CR2 || n == CR3 || n == CR4 }

// debugReg maps debug register n to the one Env holds: DR4 and DR5 alias
// DR6 and DR7 unless the guest's CR4.DE is set, when they raise #UD, as
// do DR8-DR15 (x86emul_read_dr, set_debugreg).
func debugReg(n int, o Outcome, env Env) (int, Outcome, bool) {
	switch {
	case n >= 8:
		return 0, o.raise(x86.VectorUD, "no debug register beyond DR7"), false
	case n == 4 || n == 5:
		if cr4, ok := env.ReadCR(CR4); ok && cr4&cr4DE != 0 {
			return 0, o.raise(x86.VectorUD, "DR4 and DR5 with CR4.DE set"), false
		}
		return n + 2, Outcome{}, true
	}
	return n, Outcome{}, true
}

// portIO emulates in and out with an immediate port or DX (Xen's
// read_io, write_io after guest_io_okay).
func portIO(in *insn, o Outcome, regs *Regs, kernelMode bool, env Env) Outcome {
	op := in.opcode[0] // e4-e7: immediate port, ec-ef: DX
	port := uint16(regs.GPR[rdx])
	if op&0x08 == 0 {
		port = uint16(in.opcode[1])
	}
	size := 1
	if op&1 != 0 {
		size = 4
		if in.opsize && !in.rexW {
			size = 2
		}
	}
	if !ioplOK(kernelMode, env) && !env.IOBitmap(port, size) {
		return o.raise(x86.VectorGP, "neither the virtual IOPL nor the I/O bitmap allows the port")
	}
	o.Port, o.PortSize = port, size
	if op&0x02 != 0 {
		env.Out(port, size, uint32(regs.GPR[rax])&uint32(sizeMask(size)))
		return done(o, regs)
	}
	v := uint64(env.In(port, size))
	if size == 4 {
		regs.GPR[rax] = v // a 32-bit write zero-extends
	} else {
		regs.GPR[rax] = regs.GPR[rax]&^sizeMask(size) | v&sizeMask(size)
	}
	return done(o, regs)
}

func sizeMask(size int) uint64 { return ^uint64(0) >> (64 - 8*uint(size)) }

// rdtsc emulates rdtsc and rdtscp, which fault when the real CR4.TSD is
// set (Xen sets it when it virtualises the TSC or the guest asked for
// it): guest user mode gets #GP if the guest's own CR4.TSD is set.
func rdtsc(in *insn, o Outcome, regs *Regs, kernelMode bool, env Env) Outcome {
	if !kernelMode {
		if cr4, ok := env.ReadCR(CR4); !ok || cr4&cr4TSD != 0 {
			return o.because("the guest's CR4.TSD is set")
		}
	}
	var aux uint64
	if in.Op == x86asm.RDTSCP {
		var ok bool
		if aux, ok = env.ReadMSR(x86.MSRTSCAux); !ok {
			return o.because("TSC_AUX refused")
		}
	}
	tsc, ok := env.ReadMSR(x86.MSRTSC)
	if !ok {
		return o.because("TSC refused")
	}
	regs.GPR[rax], regs.GPR[rdx] = tsc&0xffffffff, tsc>>32
	if in.Op == x86asm.RDTSCP {
		regs.GPR[rcx] = aux & 0xffffffff
	}
	return done(o, regs)
}
