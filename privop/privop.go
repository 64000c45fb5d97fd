// Package privop emulates, for a 64-bit PV guest, the instructions that
// fault because the guest kernel runs at CPL3, as Xen does in
// xen/arch/x86/pv/emul-priv-op.c (pv_emulate_privileged_op, reached from
// do_general_protection) and emul-inv-op.c (emulate_forced_invalid_op,
// from do_invalid_op), and turns `int n` into the software interrupt the
// guest's trap table asks for (do_general_protection,
// pv_emulate_sw_interrupt). It owns instruction decoding and the
// architectural effects on registers; everything with state of its own
// (control and debug registers, MSRs, ports, the I/O permission, the trap
// table, CPUID) is the caller's Env. It knows nothing of KVM and is pure
// computation on the bytes and registers it is given.
//
// On a #GP with error code 0 (EmulateGP) it emulates, following Xen's
// validate hook and x86_emulate:
//
//   - mov from and to CR0, CR2, CR3 and CR4 (Env.ReadCR, Env.WriteCR:
//     Xen's read_cr, write_cr); any other control register, CR8 included,
//     is not emulated and the #GP is bounced, as read_cr and write_cr
//     refuse it. A LOCK prefix (AMD's alternative encoding of CR8) raises
//     #UD, as the guest's CPUID has no CR8_LEGACY;
//   - mov from and to DR0-DR7 (Env.ReadDR, Env.WriteDR: x86emul_read_dr,
//     set_debugreg): DR4 and DR5 alias DR6 and DR7 unless the guest's
//     CR4.DE is set, which makes them #UD, and DR8-DR15 are #UD;
//   - rdmsr and wrmsr (Env.ReadMSR, Env.WriteMSR: read_msr, write_msr);
//   - clts, as a read of CR0 and a write of it without TS, which is how
//     Xen's fpu_taskswitch is reached;
//   - wbinvd and wbnoinvd, ignored (Xen's cache_op for a domain that may
//     not flush caches);
//   - rdtsc and rdtscp, which fault when the real CR4.TSD is set: the
//     guest kernel always gets Env.ReadMSR(x86.MSRTSC) in EDX:EAX (and
//     x86.MSRTSCAux in ECX for rdtscp); guest user mode gets #GP if the
//     guest's own CR4.TSD is set;
//   - cpuid (faulting only under CPUID faulting, which pvsim does not
//     offer), answered by Env.CPUID;
//   - cli and sti as no-ops when the virtual IOPL allows them, #GP
//     otherwise (validate: Xen deliberately leaves the event mask alone,
//     since the matching popf cannot be trapped);
//   - in and out, byte, word and dword, with an immediate port or DX,
//     when the virtual IOPL or the guest's I/O bitmap allows the access
//     (Xen's guest_io_okay), through Env.In and Env.Out.
//
// In guest user mode only in, out, cli, sti (all under IOPL 3 or, for in
// and out, the I/O bitmap), rdtsc, rdtscp and cpuid are emulated;
// everything else bounces, as x86_emulate's CPL0 checks make it.
// Instructions Xen's validate does not list bounce the original #GP:
// hlt, invd, rdpmc, lgdt and the other system instructions, and the
// string forms ins and outs, which Xen emulates (rep_ins, rep_outs) but
// pvsim does not. Any emulated instruction with a LOCK prefix raises #UD,
// as the hardware would first.
//
// An emulated instruction advances RIP past itself and clears RFLAGS.RF;
// if RFLAGS.TF was set, Outcome.SingleStep says a single-step #DB is owed
// (pv_emul_instruction_done, x86_emulate's retire.singlestep).
//
// On a #UD (EmulateUD): Xen's forced-emulation prefix `ud2; .ascii "xen"`
// followed by cpuid is emulated with Env.CPUID, and nothing else after
// the prefix is (emulate_forced_invalid_op). `int n`, `int3` and `icebp`,
// which raise #UD in long mode on hosts that do not emulate them, become
// the trap the guest would have taken (SoftwareInterrupt); `into` is #UD
// in 64-bit mode anyway. Everything else bounces #UD.
//
// Code bytes are what the caller could read at RIP, up to 15. An
// instruction that does not fit in them bounces with Outcome.Truncated
// set: Xen would have read further and might have raised #PF.
package privop

import (
	"fmt"

	"golang.org/x/arch/x86/x86asm"

	"github.com/pvsim/pvsim/cpuid"
	"github.com/pvsim/pvsim/x86"
)

// Regs is the guest register state the emulator reads and changes. GPR is
// indexed in the x86 encoding order: RAX, RCX, RDX, RBX, RSP, RBP, RSI,
// RDI, R8..R15.
type Regs struct {
	GPR    [16]uint64
	RIP    uint64
	RFLAGS uint64
}

// GPR indices.
const (
	rax = 0
	rcx = 1
	rdx = 2
	rbx = 3
)

// Control registers the emulator passes to Env.ReadCR and Env.WriteCR,
// and the bits of them it reads.
const (
	CR0 = 0
	CR2 = 2
	CR3 = 3
	CR4 = 4

	cr0TS  = 1 << 3 // task switched
	cr4TSD = 1 << 2 // time stamp disable: rdtsc at CPL>0 faults
	cr4DE  = 1 << 3 // debugging extensions: DR4, DR5 are #UD
)

// Debug registers the emulator passes to Env.ReadDR and Env.WriteDR: DR0
// to DR3, DR6 and DR7 (DR4 and DR5 arrive as DR6 and DR7).
const (
	DR6 = 6
	DR7 = 7
)

// #GP error code bits for a fault while delivering an event.
const (
	ecEXT = 1 << 0 // an external event
	ecIDT = 1 << 1 // the selector indexes the IDT: `int n` through a gate of too high a DPL
)

// Env is the vCPU and domain state the emulator works on. The emulator
// calls it only for an instruction it emulates, and only from guest
// kernel mode where Xen requires it.
type Env interface {
	// CPUID answers cpuid for the guest (Xen's guest_cpuid).
	CPUID(leaf, subleaf uint32) cpuid.Leaf
	// ReadCR and WriteCR access CR0, CR2, CR3 or CR4 as the guest sees
	// them (Xen's read_cr, write_cr: CR0 with the guest's virtual TS,
	// and a write of CR0 that changes anything but TS refused; CR3 as a
	// guest frame number in CR3 format, a write validating and switching
	// to the new base; CR4 the guest's view, writes masked). false
	// raises #GP(0).
	ReadCR(n int) (uint64, bool)
	WriteCR(n int, v uint64) bool
	// ReadDR and WriteDR access DR0-DR3, DR6 and DR7 (x86emul_read_dr,
	// set_debugreg). false raises #GP(0): a write of a reserved bit, of
	// DR7.GD, of a non-canonical breakpoint address.
	ReadDR(n int) (uint64, bool)
	WriteDR(n int, v uint64) bool
	// ReadMSR and WriteMSR run the PV MSR policy (Xen's guest_rdmsr and
	// read_msr, guest_wrmsr and write_msr). false raises #GP(0).
	ReadMSR(index uint32) (uint64, bool)
	WriteMSR(index uint32, v uint64) bool
	// IOPL is the vCPU's virtual I/O privilege level, 0-3
	// (PHYSDEVOP_set_iopl), and whether the domain has
	// VMASST_TYPE_architectural_iopl: without it the guest kernel counts
	// as CPL1 against it, with it as CPL0 (Xen's iopl_ok).
	IOPL() (level int, architectural bool)
	// IOBitmap reports whether the guest's I/O bitmap
	// (PHYSDEVOP_set_iobitmap) grants size bytes at port. Xen reads the
	// bitmap from guest memory and raises #PF when it cannot; pvsim's Env
	// answers false, which raises #GP(0).
	IOBitmap(port uint16, size int) bool
	// In and Out access a port the guest may use (Xen's guest_io_read
	// and guest_io_write: all ones for a read of a port nobody emulates).
	In(port uint16, size int) uint32
	Out(port uint16, size int, v uint32)
	// TrapGateDPL is the DPL the guest gave vector in its trap table
	// (set_trap_table: the low two bits of the flags), which `int
	// vector` needs.
	TrapGateDPL(vector uint8) int
}

// Kind is what became of a fault.
type Kind uint8

const (
	// Bounce: deliver exception Vector (with ErrorCode, if the vector
	// has one) to the guest at the faulting instruction. Registers are
	// unchanged.
	Bounce Kind = iota
	// Emulated: the instruction was carried out, registers are updated
	// and RIP is past it.
	Emulated
	// Trap: deliver Vector through the guest's trap table as a trap, with
	// no error code: RIP is already past the instruction, nothing else
	// changed. SoftwareInt says whether it is a software interrupt (`int
	// n`, Xen's pv_inject_sw_interrupt) or an exception (#BP, #OF, #DB:
	// pv_inject_hw_exception).
	Trap
)

func (k Kind) String() string {
	switch k {
	case Bounce:
		return "bounce"
	case Emulated:
		return "emulated"
	case Trap:
		return "trap"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Outcome is what the emulator did with a fault.
type Outcome struct {
	Kind      Kind
	Vector    x86.Vector
	ErrorCode uint64
	// SoftwareInt marks a Trap that is a software interrupt.
	SoftwareInt bool
	// SingleStep says RFLAGS.TF was set when an Emulated instruction
	// began: a single-step #DB (DR6.BS) is owed at the new RIP.
	SingleStep bool
	// Op and Len are the instruction, when it was decoded.
	Op  x86asm.Op
	Len int
	// Port and PortSize are the port an emulated in or out accessed, so
	// that the caller can match I/O breakpoints (Xen's
	// check_guest_io_breakpoint, which pvsim leaves to the caller).
	Port     uint16
	PortSize int
	// Truncated says the code bytes ended inside the instruction.
	Truncated bool
	// Reason says why a Bounce was not emulated, for traces.
	Reason string
}

func (o Outcome) String() string {
	switch o.Kind {
	case Emulated:
		return fmt.Sprintf("emulated %v (%d bytes)", o.Op, o.Len)
	case Trap:
		return fmt.Sprintf("trap to vector %d (%v, %d bytes)", int(o.Vector), o.Op, o.Len)
	}
	s := fmt.Sprintf("bounce #%s", o.Vector.Mnemonic())
	if o.Vector.HasErrorCode() {
		s += fmt.Sprintf("(%#x)", o.ErrorCode)
	}
	if o.Reason != "" {
		s += ": " + o.Reason
	}
	return s
}

func (o Outcome) because(reason string) Outcome {
	o.Reason = reason
	return o
}

// raise replaces the bounced exception with one the emulation raised.
func (o Outcome) raise(v x86.Vector, reason string) Outcome {
	o.Vector, o.ErrorCode, o.Reason = v, 0, reason
	return o
}

// done completes an emulated instruction: RIP past it, RF cleared, a
// single-step trap owed if TF was set (Xen's pv_emul_instruction_done).
func done(o Outcome, regs *Regs) Outcome {
	o.Kind, o.Vector, o.ErrorCode, o.Reason = Emulated, 0, 0, ""
	o.SingleStep = regs.RFLAGS&x86.FlagTF != 0
	regs.RIP += uint64(o.Len)
	regs.RFLAGS &^= x86.FlagRF
	return o
}

// ioplOK is Xen's iopl_ok: whether the virtual IOPL admits cli, sti and
// all port accesses for the guest's mode.
func ioplOK(kernelMode bool, env Env) bool {
	level, architectural := env.IOPL()
	cpl := 3
	if kernelMode {
		cpl = 1
		if architectural {
			cpl = 0
		}
	}
	return cpl <= level
}
