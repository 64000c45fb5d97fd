package hvimage

import (
	"encoding/binary"
	"fmt"

	"github.com/pvsim/pvsim/mmu"
)

// The executor is CPL0 code in the hypervisor region that performs the
// VMM's writes to guest pagetables in guest context (DESIGN.md §2): under
// shadow paging KVM sees only guest-context writes to live pagetables.
//
// The VMM enters it by injecting interrupt vector ExecVector into a vCPU
// that is at CPL3; the IDT gate switches to the vCPU's CPL0 stack. The
// executor finds the vCPU's command block from its stack pointer, runs the
// commands in it, and then either reports to the VMM with
// `out %al, $ExecPort` (and on resumption runs the block again: the VMM has
// refilled it), or, when the block is marked final, returns to the guest
// with the block's return value in RAX.
const (
	ExecVector = 0x20
	ExecPort   = 0xe1

	// Offsets in the per-vCPU command block (CPUCmdBlockVA).
	CmdCount  = 0  // number of commands
	CmdRet    = 8  // RAX for the guest when leaving
	CmdFlags  = 16 // CmdFinal | CmdQueued; the executor clears it when it leaves
	CmdQueued = 2  // the VMM's mark: counted stores not yet run
	CmdFirst  = 24 // the commands
	CmdSize   = 40 // op, addr, a, b, result
	CmdFinal  = 1

	// MaxCommands is how many commands the block holds.
	MaxCommands = (4096 - CmdFirst) / CmdSize

	execCodeOff = 0x800 // offset of the executor in the text page
	// ExecEntryVA is the executor's entry, for a vCPU sent there directly
	// from an exception stub rather than through the gate.
	ExecEntryVA = TextVA + execCodeOff

	// Where a vCPU entered into the executor through its gate from CPL3
	// keeps the guest's state while parked, as offsets below the top of
	// its CPL0 stack (CPUStackTop): the CPU pushes SS, RSP, RFLAGS, CS and
	// RIP; the executor then pushes RAX, RCX, RDX, RSI, RDI and R8, and
	// pops them when it leaves.
	ExecSavedSS     = 1 * 8
	ExecSavedRSP    = 2 * 8
	ExecSavedRFLAGS = 3 * 8
	ExecSavedCS     = 4 * 8
	ExecSavedRIP    = 5 * 8
	ExecSavedRAX    = 6 * 8
	ExecSavedRCX    = 7 * 8
	ExecSavedRDX    = 8 * 8
	ExecSavedRSI    = 9 * 8
	ExecSavedRDI    = 10 * 8
	ExecSavedR8     = 11 * 8

	// trapCmpXchgOff is a two-instruction executor for a vCPU stopped in
	// an exception stub: `lock cmpxchg [rdx], r8; out ExecPort, al`. The
	// VMM loads RAX, R8 and RDX and points RIP at it; it reports with the
	// value found in RAX. On shadow-paging hosts (kvm_pvm) code at CPL0 is
	// emulated instruction by instruction, so this short path is what
	// keeps an emulated pagetable write near the cost of the fault itself.
	trapCmpXchgOff = 0x7f0
	// TrapCmpXchgVA is the entry of that path.
	TrapCmpXchgVA = TextVA + trapCmpXchgOff
)

// trapCmpXchgCode is the code at trapCmpXchgOff.
var trapCmpXchgCode = []byte{0xf0, 0x4c, 0x0f, 0xb1, 0x02, 0xe6, ExecPort}

// The one-exit path of an emulated pagetable write, for a vCPU stopped in
// an exception stub: the VMM has emulated the write predicting that its
// compare-and-exchange succeeds, and marked the entry's store queued
// (CmdQueued: another vCPU that would move a reference waits for it);
// the path makes the exchange, clears the mark and, when the exchange
// succeeded, returns to the guest itself, with no second exit:
//
//	lock cmpxchg [rdx], r8
//	mov  qword [rsp+trapCASFlagsDisp], 0  # the mark, in the command
//	                     #   block's CmdFlags: the exchange is made
//	jne  1f
//	mov  r8, [rsp-8]     # the guest's R8, RAX and RDX, which the VMM
//	pop  rax             #   left below and in the stub's vector and
//	pop  rdx             #   error code slots
//	iretq                # to the guest, past its instruction
//	1: out ExecPort, al  # the entry changed meanwhile: the VMM undoes
//	                     #   its prediction, the guest retries
const (
	trapCASIretOff = 0x780
	// TrapCASIretVA is the entry of the path, TrapCASFailVA its report.
	TrapCASIretVA = TextVA + trapCASIretOff
	TrapCASFailVA = TrapCASIretVA + 28
	// TrapCASSavedR8 is where below the stub's frame the path finds R8.
	TrapCASSavedR8 = 8
	// trapCASFlagsDisp reaches the vCPU's command block's flags from the
	// stub's frame, which lies at the same place on every vCPU's stack.
	trapCASFlagsDisp = cpuCmdOff + CmdFlags - (cpuStackOff + CPUStackPages*mmu.PageSize - FrameSize)
)

var trapCASIretCode = func() []byte {
	b := []byte{
		0xf0, 0x4c, 0x0f, 0xb1, 0x02, // lock cmpxchg [rdx], r8
		0x48, 0xc7, 0x84, 0x24, //       mov qword [rsp+disp32], imm32
	}
	b = binary.LittleEndian.AppendUint32(b, trapCASFlagsDisp)
	b = binary.LittleEndian.AppendUint32(b, 0)
	return append(b,
		0x75, 0x09, //                   jne fail
		0x4c, 0x8b, 0x44, 0x24, 0xf8, // mov r8, [rsp-8]
		0x58,       //                   pop rax
		0x5a,       //                   pop rdx
		0x48, 0xcf, //                   iretq
		0xe6, ExecPort, //               fail: out ExecPort, al
	)
}()

// clearFlags is a second short path, for pvsim_op test_and_clear_pte_flags
// on Accessed and Dirty, which need no reference counted: the VMM injects
// ClearFlagsVector into the vCPU at the end of the hypercall with RSI =
// the entry's alias, RDI = ^mask, R10 = mask (argument registers, which
// the hypercall clobbers anyway), and the handler clears the bits and
// returns to the guest with the old ones in RAX. Seven instructions where
// the general executor runs some thirty, each emulated on kvm_pvm.
const (
	ClearFlagsVector = 0x21
	clearFlagsOff    = 0x7c0
)

// clearFlagsCode is the code at clearFlagsOff.
var clearFlagsCode = []byte{
	0x48, 0x8b, 0x06, //             mov rax, [rsi]
	0x48, 0x89, 0xc2, // retry:      mov rdx, rax
	0x48, 0x21, 0xfa, //             and rdx, rdi
	0xf0, 0x48, 0x0f, 0xb1, 0x16, // lock cmpxchg [rsi], rdx
	0x75, 0xf3, //                   jnz retry
	0x4c, 0x21, 0xd0, //             and rax, r10
	0x48, 0xcf, //                   iretq
}

// Op is an executor command. Its addr is a hypervisor virtual address (the
// alias of a guest frame); its result is written back into the command.
type Op uint64

const (
	OpStore   Op = 1 // *addr = a
	OpMerge   Op = 2 // atomically *addr = *addr&a | b; result = old
	OpCmpXchg Op = 3 // atomically if *addr == a { *addr = b }; result = value found
	OpInvlpg  Op = 4 // invlpg (addr)
	OpFlush   Op = 5 // reload CR3
	OpLoadCR3 Op = 6 // CR3 = a
)

// asm assembles a few fixed instruction bytes with labelled short jumps.
type asm struct {
	b      []byte
	labels map[string]int
	fixups map[int]string // offset of a rel8 byte -> label
	near   map[int]string // offset of a rel32 -> label
}

func newAsm() *asm {
	return &asm{labels: map[string]int{}, fixups: map[int]string{}, near: map[int]string{}}
}

func (a *asm) emit(b ...byte)    { a.b = append(a.b, b...) }
func (a *asm) label(name string) { a.labels[name] = len(a.b) }
func (a *asm) imm32(v uint32)    { a.b = binary.LittleEndian.AppendUint32(a.b, v) }

// jump emits a short jump (opcode 0xeb, or a 0x7x conditional) to label.
func (a *asm) jump(op byte, label string) {
	a.emit(op, 0)
	a.fixups[len(a.b)-1] = label
}

// jumpNear emits `jmp rel32` to label.
func (a *asm) jumpNear(label string) {
	a.emit(0xe9)
	a.near[len(a.b)] = label
	a.imm32(0)
}

func (a *asm) link() []byte {
	for at, label := range a.near {
		to, ok := a.labels[label]
		if !ok {
			panic("executor: undefined label " + label)
		}
		binary.LittleEndian.PutUint32(a.b[at:], uint32(int32(to-(at+4))))
	}
	for at, label := range a.fixups {
		to, ok := a.labels[label]
		if !ok {
			panic("executor: undefined label " + label)
		}
		rel := to - (at + 1)
		if rel < -128 || rel > 127 {
			panic(fmt.Sprintf("executor: jump to %s out of range (%d)", label, rel))
		}
		a.b[at] = byte(int8(rel))
	}
	return a.b
}

const (
	jmp = 0xeb
	jz  = 0x74
	jnz = 0x75
)

// executorCode assembles the executor. It saves the registers it uses on
// the CPL0 stack and restores them, except RAX, which it loads from the
// block's return value when it leaves. It is kept short on purpose: on
// kvm_pvm every CPL0 instruction is emulated, at about 2 µs each.
func executorCode() []byte {
	a := newAsm()
	a.emit(0x50, 0x51, 0x52, 0x56, 0x57, 0x41, 0x50) // push rax, rcx, rdx, rsi, rdi, r8
	a.emit(0x48, 0x89, 0xe6)                         // mov rsi, rsp
	a.emit(0x48, 0x81, 0xe6)                         // and rsi, -perCPUSpan: the vCPU's area
	a.imm32(^uint32(perCPUSpan - 1))
	a.emit(0x48, 0x81, 0xc6) // add rsi, cpuCmdOff
	a.imm32(cpuCmdOff)
	a.label("again")
	a.emit(0x48, 0x8b, 0x0e)           // mov rcx, [rsi]
	a.emit(0x48, 0x8d, 0x7e, CmdFirst) // lea rdi, [rsi+CmdFirst]
	a.label("next")
	a.emit(0x48, 0x85, 0xc9) // test rcx, rcx
	a.jump(jnz, "work")
	// The batch is done: report and run the refilled block, or leave.
	a.emit(0x48, 0xf7, 0x46, CmdFlags) // test qword [rsi+CmdFlags], CmdFinal
	a.imm32(CmdFinal)
	a.jump(jnz, "leave")
	a.emit(0xe6, ExecPort) // out ExecPort, al: report; the VMM refills the block
	a.jump(jmp, "again")
	a.label("leave")
	// The final batch is done: an entry into the executor after this one,
	// which nothing should make, finds no commands to run again and
	// reports (Executor.Spurious).
	a.emit(0x48, 0xc7, 0x06, 0, 0, 0, 0)             // mov qword [rsi+CmdCount], 0
	a.emit(0x48, 0xc7, 0x46, CmdFlags, 0, 0, 0, 0)   // mov qword [rsi+CmdFlags], 0
	a.emit(0x48, 0x8b, 0x46, CmdRet)                 // mov rax, [rsi+CmdRet]
	a.emit(0x48, 0x89, 0x44, 0x24, 5*8)              // mov [rsp+40], rax: the saved RAX
	a.emit(0x41, 0x58, 0x5f, 0x5e, 0x5a, 0x59, 0x58) // pop r8, rdi, rsi, rdx, rcx, rax
	a.emit(0x48, 0xcf)                               // iretq
	a.label("work")
	a.emit(0x4c, 0x8b, 0x07)       // mov r8, [rdi]      op
	a.emit(0x48, 0x8b, 0x57, 0x08) // mov rdx, [rdi+8]   addr
	for _, c := range []struct {
		op    Op
		label string
	}{{OpStore, "store"}, {OpMerge, "merge"}, {OpCmpXchg, "cmpxchg"}, {OpInvlpg, "invlpg"}, {OpFlush, "flush"}, {OpLoadCR3, "loadcr3"}} {
		a.emit(0x49, 0x83, 0xf8, byte(c.op)) // cmp r8, op
		a.jump(jz, c.label)
	}
	a.jump(jmp, "advance") // unknown op: skipped
	a.label("store")
	a.emit(0x48, 0x8b, 0x47, 0x10) // mov rax, [rdi+16]
	a.emit(0x48, 0x89, 0x02)       // mov [rdx], rax
	a.jump(jmp, "advance")
	a.label("merge")
	a.emit(0x48, 0x8b, 0x02) // mov rax, [rdx]
	a.label("merge_retry")
	a.emit(0x49, 0x89, 0xc0)             // mov r8, rax
	a.emit(0x4c, 0x23, 0x47, 0x10)       // and r8, [rdi+16]
	a.emit(0x4c, 0x0b, 0x47, 0x18)       // or r8, [rdi+24]
	a.emit(0xf0, 0x4c, 0x0f, 0xb1, 0x02) // lock cmpxchg [rdx], r8
	a.jump(jnz, "merge_retry")           // rax holds the value found
	a.emit(0x48, 0x89, 0x47, 0x20)       // mov [rdi+32], rax
	a.jump(jmp, "advance")
	a.label("cmpxchg")
	a.emit(0x48, 0x8b, 0x47, 0x10)       // mov rax, [rdi+16]
	a.emit(0x4c, 0x8b, 0x47, 0x18)       // mov r8, [rdi+24]
	a.emit(0xf0, 0x4c, 0x0f, 0xb1, 0x02) // lock cmpxchg [rdx], r8
	a.emit(0x48, 0x89, 0x47, 0x20)       // mov [rdi+32], rax
	a.jump(jmp, "advance")
	a.label("invlpg")
	a.emit(0x0f, 0x01, 0x3a) // invlpg [rdx]
	a.jump(jmp, "advance")
	a.label("flush")
	a.emit(0x0f, 0x20, 0xd8) // mov rax, cr3
	a.emit(0x0f, 0x22, 0xd8) // mov cr3, rax
	a.jump(jmp, "advance")
	a.label("loadcr3")
	a.emit(0x48, 0x8b, 0x47, 0x10) // mov rax, [rdi+16]
	a.emit(0x0f, 0x22, 0xd8)       // mov cr3, rax
	a.label("advance")
	a.emit(0x48, 0x83, 0xc7, CmdSize) // add rdi, CmdSize
	a.emit(0x48, 0xff, 0xc9)          // dec rcx
	a.jumpNear("next")
	return a.link()
}
