package ptops

import (
	"errors"
	"fmt"
	"math/bits"

	"golang.org/x/arch/x86/x86asm"

	"github.com/pvsim/pvsim/biglock"
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/x86"
)

// Regs is the guest register state the write emulator reads and changes.
// GPR is indexed in the x86 encoding order: RAX, RCX, RDX, RBX, RSP, RBP,
// RSI, RDI, R8..R15.
type Regs struct {
	GPR            [16]uint64
	RIP            uint64
	RFLAGS         uint64
	FSBase, GSBase uint64
}

// PTWrite describes one emulated write to an L1 entry.
type PTWrite struct {
	// PA is the guest-physical address of the entry, Old what it held and
	// New what it holds now (equal to Old when the instruction wrote
	// nothing, as a failed CMPXCHG).
	PA       uint64
	Old, New mmu.PTE
	Op       x86asm.Op
	Size     int // operand size in bytes: 4 or 8
	// Attempts counts compare-and-exchange attempts; more than one means
	// the MMU set Accessed or Dirty meanwhile.
	Attempts int
	// Pending says the frame was no pagetable in use but announced as
	// becoming one (mmu.Frame.Pending), so the write was not validated.
	Pending bool
	// Deferred says the compare-and-exchange of Old for New at PA is
	// the caller's to make (Context.DeferExchange); the registers were
	// committed as if it succeeded.
	Deferred bool
}

// NotEmulated is why a write fault is not a pagetable write pvsim
// emulates. The hypervisor then bounces the fault to the guest as the #PF
// it was, as Xen's ptwr does when it bails out.
type NotEmulated struct{ Reason string }

func (e *NotEmulated) Error() string { return "not emulated: " + e.Reason }

func notEmulated(format string, a ...any) error {
	return &NotEmulated{Reason: fmt.Sprintf(format, a...)}
}

// ErrRetry says the entry changed under every compare-and-exchange
// attempt: the caller resumes the guest at the same instruction, which
// faults again (Xen's X86EMUL_RETRY).
var ErrRetry = errors.New("ptwr: entry kept changing; retry the instruction")

// maxAttempts bounds compare-and-exchange attempts. Under the MMU lock only
// the MMU changes an in-use L1 entry, and only by setting Accessed and
// Dirty, so three attempts always suffice on real hardware.
const maxAttempts = 4

// PTWriteError is the #PF error code bits of a write to a present,
// read-only page. Faults without them are never pagetable writes.
const PTWriteError = x86.PFPresent | x86.PFWrite

// EmulatePTWrite is Xen's writable-pagetable emulation (ptwr). The guest
// raised a #PF with error code errorCode at linear address cr2 by running
// the instruction whose bytes begin code (up to 15 bytes, fetched at
// regs.RIP). If cr2 is mapped read-only in the caller's address space onto
// a frame that is an L1 pagetable in use, and the instruction is one pvsim
// emulates, EmulatePTWrite validates the entry the instruction would
// write exactly as mmu_update would, applies it through the executor with
// a compare-and-exchange that is retried when the MMU sets Accessed or
// Dirty meanwhile, updates regs as the instruction would (registers,
// arithmetic flags, RIP past the instruction), and returns what it did.
//
// A frame that is no pagetable in use but that the guest announced as
// becoming one (mmu.Frame.Pending, a pvsim extension) is written the same
// way without validation: its entries hold no references until the pin
// validates them.
//
// Emulated forms, 4- and 8-byte memory operands only, naturally aligned:
// MOV (register and immediate), XCHG, CMPXCHG, and, with or without LOCK,
// BTS/BTR (immediate and register bit offsets), AND/OR/XOR (immediate and
// register). Anything else returns a *NotEmulated error, as does a frame
// that is not an L1 in use and an entry validation refuses (with the
// refusal wrapped); the caller then bounces the fault to the guest. On any
// error, neither memory nor regs nor the frame table has changed.
//
// Precondition: the caller holds the domain's MMU lock, and c is the
// faulting vCPU's: c.X is its executor and *c.CR3 its current base, a
// validated L4 (L1EntryAddr). regs are its registers at the fault and code
// the instruction bytes fetched at regs.RIP. c.FT's Memory shows entries as
// the guest will see them (mmu.NewFrameTable).
func EmulatePTWrite(c *Context, regs *Regs, cr2, errorCode uint64, code []byte) (PTWrite, error) {
	var w PTWrite
	if errorCode&(PTWriteError|x86.PFReserved|x86.PFFetch) != PTWriteError {
		return w, notEmulated("error code %#x is not a write to a present page", errorCode)
	}
	ptr, err := L1EntryAddr(c.FT, *c.CR3, cr2)
	if err != nil {
		return w, notEmulated("%v", err)
	}
	l1 := ptr >> mmu.PageShift
	pte := c.FT.Entry(l1, int(ptr&(mmu.PageSize-1))/8)
	if !pte.Present() || pte&mmu.PTEWritable != 0 {
		return w, notEmulated("%#x is mapped %v, not read-only", cr2, pte)
	}
	target := pte.PFN()
	f := c.FT.Frame(target)
	switch {
	case f != nil && f.Type == mmu.TypeL1 && f.Validated():
	case f != nil && f.Pending && !f.Validated():
		// Its entries are counted nowhere: the pin that follows validates
		// whatever they hold.
		w.Pending = true
	default:
		typ := "outside the domain"
		if f != nil {
			typ = fmt.Sprintf("%v, type count %d", f.Type, f.TypeCount)
		}
		return w, notEmulated("frame %#x is not an L1 pagetable in use (%s)", target, typ)
	}
	validate := !w.Pending

	insn, err := c.Insns.Decode(code)
	if err != nil {
		return w, notEmulated("undecodable instruction % x: %v", code[:min(len(code), 15)], err)
	}
	op, err := decodePTWrite(insn, regs)
	if err != nil {
		return w, err
	}
	if op.ea != cr2 {
		return w, notEmulated("%v writes %#x, the fault was at %#x", insn.Op, op.ea, cr2)
	}
	if cr2&uint64(op.size-1) != 0 {
		return w, notEmulated("%d-byte write at %#x is not aligned", op.size, cr2)
	}

	w.PA = target<<mmu.PageShift | cr2&(mmu.PageSize-8)
	w.Op, w.Size = insn.Op, op.size
	shift := uint(cr2&7) * 8 // a narrower write to a part of the entry
	mask := sizeMask(op.size)
	index := int(cr2&(mmu.PageSize-1)) / 8

	for w.Attempts = 1; w.Attempts <= maxAttempts; w.Attempts++ {
		old := c.FT.Entry(target, index)
		cur := uint64(old) >> shift & mask
		res, write := op.apply(cur, regs)
		nw := old
		if write {
			nw = mmu.PTE(uint64(old)&^(mask<<shift) | res<<shift)
		}
		if validate {
			nw = mmu.AdjustGuestEntry(1, nw) // as Xen's ptwr_emulated_update
		}
		w.Old, w.New = old, nw
		if nw == old {
			op.commit(regs, cur, res, insn)
			return w, nil
		}
		if c.DeferExchange && (!validate || sameL1Refs(old, nw)) {
			// No reference moves: the frame table is right before the
			// exchange and after it, whenever it happens. The entry is
			// checked as GetEntryRefs checks it.
			if validate && nw.Present() {
				if err := mmu.CheckEntry(1, nw); err != nil {
					return PTWrite{}, &NotEmulated{Reason: fmt.Sprintf("%v would write %v into L1 %#x[%d]: %v", insn.Op, nw, target, index, err)}
				}
			}
			c.settle(w.PA)
			op.commit(regs, cur, res, insn)
			w.Deferred = true
			return w, nil
		}
		if validate && !sameL1Refs(old, nw) {
			c.settle(biglock.Everything)
		}
		if validate && nw.Present() {
			if err := c.FT.GetEntryRefs(1, nw, c.X); err != nil {
				return PTWrite{}, &NotEmulated{Reason: fmt.Sprintf("%v would write %v into L1 %#x[%d]: %v", insn.Op, nw, target, index, err)}
			}
		}
		c.settle(w.PA)
		if found := c.X.CmpXchg(w.PA, old, nw); found != old {
			if validate && nw.Present() {
				c.FT.PutEntryRefs(1, nw)
			}
			continue
		}
		if validate && old.Present() {
			c.FT.PutEntryRefs(1, old)
		}
		op.commit(regs, cur, res, insn)
		return w, nil
	}
	return PTWrite{}, ErrRetry
}

// ptwOp is a decoded write: its kind, memory operand and source.
type ptwOp struct {
	op   x86asm.Op
	size int    // bytes
	ea   uint64 // the address written
	src  uint64 // register or immediate value, truncated to size
	reg  int    // GPR index of the register operand, or -1
	bit  uint   // BTS/BTR: the bit within the operand
}

// sameL1Refs reports whether L1 entries a and b hold the same references
// (GetEntryRefs): both not present, or both mapping one frame, both
// writable or both not. Replacing one with the other then takes a
// reference and gives up its twin, and moves none.
func sameL1Refs(a, b mmu.PTE) bool {
	if !a.Present() || !b.Present() {
		return a.Present() == b.Present()
	}
	return a.PFN() == b.PFN() && a&mmu.PTEWritable == b&mmu.PTEWritable
}

func sizeMask(size int) uint64 { return ^uint64(0) >> (64 - 8*uint(size)) }

// decodePTWrite checks that insn is an emulated form and works out its
// memory operand and source.
func decodePTWrite(insn *x86asm.Inst, regs *Regs) (ptwOp, error) {
	o := ptwOp{op: insn.Op, reg: -1}
	switch insn.Op {
	case x86asm.MOV, x86asm.XCHG, x86asm.CMPXCHG, x86asm.BTS, x86asm.BTR, x86asm.AND, x86asm.OR, x86asm.XOR:
	default:
		return o, notEmulated("instruction %v", insn.Op)
	}
	for _, p := range insn.Prefix {
		if p == 0 {
			break
		}
		switch p &^ (x86asm.PrefixImplicit | x86asm.PrefixIgnored | x86asm.PrefixInvalid) {
		case x86asm.PrefixREP, x86asm.PrefixREPN:
			return o, notEmulated("%v with a REP prefix", insn.Op)
		}
	}
	if insn.AddrSize != 64 {
		return o, notEmulated("%d-bit addressing", insn.AddrSize)
	}
	mem, ok := insn.Args[0].(x86asm.Mem)
	other := insn.Args[1]
	if !ok && insn.Op == x86asm.XCHG {
		mem, ok = insn.Args[1].(x86asm.Mem)
		other = insn.Args[0]
	}
	if !ok {
		return o, notEmulated("%v does not write memory", insn.Op)
	}
	o.size = insn.MemBytes
	if o.size != 1 && o.size != 2 && o.size != 4 && o.size != 8 {
		return o, notEmulated("%d-byte operand", o.size)
	}
	ea, err := effectiveAddress(mem, insn, regs)
	if err != nil {
		return o, err
	}
	o.ea = ea
	switch a := other.(type) {
	case x86asm.Reg:
		i, size, ok := gpr(a)
		if !ok || size != o.size {
			return o, notEmulated("%v operand %v", insn.Op, a)
		}
		o.reg, o.src = i, regs.GPR[i]&sizeMask(o.size)
	case x86asm.Imm:
		if insn.Op == x86asm.XCHG || insn.Op == x86asm.CMPXCHG {
			return o, notEmulated("%v with an immediate", insn.Op)
		}
		o.src = uint64(a) & sizeMask(o.size) // x86asm sign-extends
	default:
		return o, notEmulated("%v operand %v", insn.Op, other)
	}
	if insn.Op == x86asm.BTS || insn.Op == x86asm.BTR {
		bitsPer := uint64(o.size * 8)
		if o.reg >= 0 {
			// A register bit offset is signed and may reach outside the
			// operand: the CPU addresses the operand that holds the bit.
			off := int64(regs.GPR[o.reg])
			if o.size == 4 {
				off = int64(int32(off))
			}
			o.ea += uint64((off >> bits.TrailingZeros64(bitsPer)) * int64(o.size))
			o.bit = uint(uint64(off) & (bitsPer - 1))
		} else {
			o.bit = uint(o.src & (bitsPer - 1))
		}
	}
	return o, nil
}

// effectiveAddress computes the linear address of mem.
func effectiveAddress(mem x86asm.Mem, insn *x86asm.Inst, regs *Regs) (uint64, error) {
	// x86asm leaves a disp32 zero-extended; only MOV's moffs form (A2/A3)
	// carries a full 64-bit displacement.
	ea := uint64(int64(int32(mem.Disp)))
	if op := insn.Opcode >> 24; op == 0xa2 || op == 0xa3 {
		ea = uint64(mem.Disp)
	}
	switch mem.Base {
	case 0:
	case x86asm.RIP:
		ea += regs.RIP + uint64(insn.Len)
	default:
		i, size, ok := gpr(mem.Base)
		if !ok || size != 8 {
			return 0, notEmulated("base register %v", mem.Base)
		}
		ea += regs.GPR[i]
	}
	if mem.Index != 0 {
		i, size, ok := gpr(mem.Index)
		if !ok || size != 8 {
			return 0, notEmulated("index register %v", mem.Index)
		}
		ea += regs.GPR[i] * uint64(mem.Scale)
	}
	switch mem.Segment {
	case x86asm.FS:
		ea += regs.FSBase
	case x86asm.GS:
		ea += regs.GSBase
	}
	return ea, nil
}

// gpr maps a general-purpose register of 1, 2, 4 or 8 bytes to its index
// and size. The legacy high-byte registers (AH, CH, DH, BH) are not
// mapped.
func gpr(r x86asm.Reg) (index, size int, ok bool) {
	switch {
	case r >= x86asm.RAX && r <= x86asm.R15:
		return int(r - x86asm.RAX), 8, true
	case r >= x86asm.EAX && r <= x86asm.R15L:
		return int(r - x86asm.EAX), 4, true
	case r >= x86asm.AX && r <= x86asm.R15W:
		return int(r - x86asm.AX), 2, true
	case r >= x86asm.AL && r <= x86asm.BL:
		return int(r - x86asm.AL), 1, true
	case r >= x86asm.SPB && r <= x86asm.R15B:
		return int(r-x86asm.SPB) + 4, 1, true
	}
	return 0, 0, false
}

// apply computes what the instruction stores given the operand's current
// value cur, and whether it stores at all.
func (o *ptwOp) apply(cur uint64, regs *Regs) (res uint64, write bool) {
	switch o.op {
	case x86asm.MOV, x86asm.XCHG:
		return o.src, true
	case x86asm.CMPXCHG:
		if regs.GPR[0]&sizeMask(o.size) != cur {
			return cur, false
		}
		return o.src, true
	case x86asm.BTS:
		return cur | 1<<o.bit, true
	case x86asm.BTR:
		return cur &^ (1 << o.bit), true
	case x86asm.AND:
		return cur & o.src, true
	case x86asm.OR:
		return cur | o.src, true
	case x86asm.XOR:
		return cur ^ o.src, true
	}
	panic("ptwr: unexpected op " + o.op.String())
}

// commit updates the registers and flags once the write took effect: cur
// is the operand's value before it, res what was stored.
func (o *ptwOp) commit(regs *Regs, cur, res uint64, insn *x86asm.Inst) {
	setReg := func(i int, v uint64) {
		// A 4-byte register write zero-extends, as in 64-bit mode; a 1-
		// or 2-byte one leaves the rest of the register as it was.
		switch o.size {
		case 8:
			regs.GPR[i] = v
		case 4:
			regs.GPR[i] = v & sizeMask(4)
		default:
			m := sizeMask(o.size)
			regs.GPR[i] = regs.GPR[i]&^m | v&m
		}
	}
	fl := regs.RFLAGS
	top := uint(o.size*8 - 1)
	switch o.op {
	case x86asm.XCHG:
		setReg(o.reg, cur)
	case x86asm.CMPXCHG:
		acc := regs.GPR[0] & sizeMask(o.size)
		d := (acc - cur) & sizeMask(o.size)
		fl &^= x86.ArithFlags
		if acc < cur {
			fl |= x86.FlagCF
		}
		if (acc^cur)&(acc^d)>>top&1 != 0 {
			fl |= x86.FlagOF
		}
		if (acc^cur^d)&0x10 != 0 {
			fl |= x86.FlagAF
		}
		fl |= resultFlags(d, top)
		if acc != cur {
			setReg(0, cur)
		}
	case x86asm.BTS, x86asm.BTR:
		fl &^= x86.FlagCF
		fl |= cur >> o.bit & 1 // CF is bit 0
	case x86asm.AND, x86asm.OR, x86asm.XOR:
		// AF is undefined; it is left as it was.
		fl &^= x86.FlagCF | x86.FlagOF | x86.FlagZF | x86.FlagSF | x86.FlagPF
		fl |= resultFlags(res, top)
	}
	regs.RFLAGS = fl
	regs.RIP += uint64(insn.Len)
}

// resultFlags are ZF, SF and PF for result r whose sign bit is top.
func resultFlags(r uint64, top uint) uint64 {
	var fl uint64
	if r == 0 {
		fl |= x86.FlagZF
	}
	if r>>top&1 != 0 {
		fl |= x86.FlagSF
	}
	if bits.OnesCount8(uint8(r))%2 == 0 {
		fl |= x86.FlagPF
	}
	return fl
}

// InsnCache remembers decoded instructions by their bytes, so that an
// instruction that faults again and again (reclaim's `lock btr`) is
// decoded once: decoding allocates, and the fault path should not. A nil
// *InsnCache decodes every time.
type InsnCache struct {
	entries [16]insnEntry
	next    int
}

type insnEntry struct {
	code [15]byte
	n    int
	inst x86asm.Inst
	err  error
}

// Decode decodes the 64-bit instruction at the start of code.
//
// Precondition: one goroutine at a time uses the cache (hv keeps one per
// vCPU), and the caller does not modify the instruction returned, which
// the cache owns and a later call may overwrite.
func (c *InsnCache) Decode(code []byte) (*x86asm.Inst, error) {
	code = code[:min(len(code), 15)]
	if c == nil {
		inst, err := x86asm.Decode(code, 64)
		return &inst, err
	}
	for i := range c.entries {
		e := &c.entries[i]
		if e.n == len(code) && e.n > 0 && string(e.code[:e.n]) == string(code) {
			return &e.inst, e.err
		}
	}
	e := &c.entries[c.next]
	c.next = (c.next + 1) % len(c.entries)
	e.n = copy(e.code[:], code)
	e.inst, e.err = x86asm.Decode(code, 64)
	return &e.inst, e.err
}
