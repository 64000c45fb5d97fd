// Package ptops performs the pagetable operations a PV guest asks the
// hypervisor for: mmu_update (MMU_NORMAL_PT_UPDATE and
// MMU_PT_UPDATE_PRESERVE_AD), update_va_mapping, and mmuext_op. Each
// request is validated against the frame table first and applied through
// the executor, and a refused request changes nothing.
package ptops

import (
	"errors"
	"fmt"

	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/xen"
)

// VCPUMask is a set of vCPUs, bit i for vCPU i (Xen's vcpumask).
type VCPUMask uint64

// FlushKind is what a TLB flush drops.
type FlushKind uint8

const (
	FlushNone FlushKind = iota
	FlushPage           // one page: INVLPG
	FlushAll            // every non-global entry
)

// Flush is TLB maintenance a request asks for on a set of vCPUs.
type Flush struct {
	Kind FlushKind
	VA   uint64 // for FlushPage
	CPUs VCPUMask
}

// Context is what one vCPU's pagetable operations work with. The caller
// holds the domain's MMU lock for the duration of a call.
type Context struct {
	FT *mmu.FrameTable
	// X is the calling vCPU's executor.
	X mmu.Executor
	// VCPU is the caller's id and CR3 its current pagetable base; NEW_BASEPTR
	// updates it. UserBase is the frame of the L4 its user mode runs on,
	// or 0 (Xen's guest_table_user); NEW_USER_BASEPTR updates it.
	VCPU     int
	CR3      *uint64
	UserBase *uint64
	// All is the set of vCPUs that are up.
	All VCPUMask
	// LDT is the caller's local descriptor table (MMUEXT_SET_LDT updates
	// it).
	LDT *LDT
	// ReadGuest copies guest memory from the caller's address space, for
	// the vcpumask arguments of the MULTI flushes.
	ReadGuest func(va uint64, b []byte) error
	// Flush performs TLB maintenance; it completes before the hypercall
	// returns to the guest.
	Flush func(Flush)
	// Insns caches the decoding of faulting instructions; may be nil.
	Insns *InsnCache
	// Settle, if not nil, is called before an operation that may run with
	// other vCPUs' stores still queued (biglock) writes the entry at
	// guest-physical address pa through X, and with biglock.Everything
	// before it moves a reference: it makes memory, there or everywhere,
	// show every store the frame table counts. Reads through FT settle
	// themselves.
	Settle func(pa uint64)
	// DeferExchange lets EmulatePTWrite leave its final
	// compare-and-exchange to the caller when the write moves no
	// reference (the entry maps the same frame as writable or not as
	// before: Accessed, Dirty and the other flags are what change, as
	// for reclaim's ptep_test_and_clear_young): the registers are
	// committed as if it succeeded, and PTWrite.Deferred says the
	// caller is to make the exchange as the vCPU returns to the guest,
	// and undo the write, which the guest then retries, if it fails.
	DeferExchange bool
}

// settle calls c.Settle if it is set.
func (c *Context) settle(pa uint64) {
	if c.Settle != nil {
		c.Settle(pa)
	}
}

// flushRetyped asks for every vCPU's TLB to be flushed if a frame became a
// pagetable while a writable mapping of it may linger in a TLB
// (FrameTable.TakeFlush). Every operation that may give a frame a
// pagetable type ends with it.
func flushRetyped(c *Context) {
	if c.FT.TakeFlush() {
		c.Flush(Flush{Kind: FlushAll, CPUs: c.All})
	}
}

func errf(code xen.Errno, pfn uint64, format string, a ...any) error {
	return &mmu.Error{PFN: pfn, Code: code, Reason: fmt.Sprintf(format, a...)}
}

// UpdateEntry is one mmu_update request: write val into the pagetable entry
// at guest-physical address ptr (the request's type bits already stripped).
// With preserveAD, the Accessed and Dirty bits the entry holds when it is
// replaced are kept, atomically against the MMU setting them.
//
// Precondition: the caller holds the domain's MMU lock. ptr has the
// request's type bits cleared (xen.MMUUpdate.Addr): UpdateEntry refuses an
// unaligned ptr rather than strip them. c.FT's Memory shows the entry as
// the guest will see it (mmu.NewFrameTable), since the references the old
// entry held are dropped as read from it.
func UpdateEntry(c *Context, ptr uint64, val mmu.PTE, preserveAD bool) error {
	defer flushRetyped(c)
	pfn, index := ptr>>mmu.PageShift, int(ptr&(mmu.PageSize-1))/8
	f := c.FT.Frame(pfn)
	if f == nil {
		return errf(xen.EPERM, pfn, "mmu_update: not a frame of the domain")
	}
	if ptr&7 != 0 {
		return errf(xen.EINVAL, pfn, "mmu_update: entry address %#x not 8-byte aligned", ptr)
	}
	pa := ptr
	if !f.Validated() {
		// Not a pagetable: an ordinary write the guest may make itself,
		// unless the frame is held in another way (Xen: writable page).
		if f.TypeCount > 0 && f.Type != mmu.TypeWritable {
			return errf(xen.EINVAL, pfn, "mmu_update: frame is in use as %v", f.Type)
		}
		c.X.Store(pa, val)
		return nil
	}
	if mmu.IsReservedSlot(f.Type, index) {
		return errf(xen.EINVAL, pfn, "mmu_update: L4 slot %d belongs to the hypervisor", index)
	}
	level := f.Type.Level()
	old := c.FT.Entry(pfn, index)
	val = mmu.AdjustGuestEntry(level, val)
	if val.Present() {
		if err := c.FT.GetEntryRefs(level, val, c.X); err != nil {
			return fmt.Errorf("mmu_update of %v %#x[%d] to %v: %w", f.Type, pfn, index, val, err)
		}
	}
	if preserveAD {
		old = c.X.Merge(pa, mmu.PTEAccessed|mmu.PTEDirty, val)
	} else {
		c.X.Store(pa, val)
	}
	if old.Present() {
		c.FT.PutEntryRefs(level, old)
	}
	return nil
}

// L1EntryAddr finds the guest-physical address of the L1 entry that maps va
// in the address space at cr3.
//
// Precondition: the caller holds the domain's MMU lock, and cr3 is a
// validated L4 (a vCPU's CR3), so that the tables walked, and the L1 whose
// entry is found, are validated pagetables.
func L1EntryAddr(ft *mmu.FrameTable, cr3, va uint64) (uint64, error) {
	if !mmu.GuestAddress(va) {
		return 0, errf(xen.EINVAL, cr3>>mmu.PageShift, "address %#x is not a guest address", va)
	}
	table := cr3 >> mmu.PageShift
	for level := mmu.Level(4); level > 1; level-- {
		e := ft.Entry(table, level.Index(va))
		if !e.Present() || e&mmu.PTEPSE != 0 {
			return 0, errf(xen.EINVAL, table, "no L1 table maps %#x (L%d entry %v)", va, level, e)
		}
		table = e.PFN()
	}
	return table<<mmu.PageShift + uint64(mmu.Level(1).Index(va))*8, nil
}

// DecodeUVMF reads update_va_mapping's flags: the flush kind, and its
// target (LOCAL, ALL, or MULTI with a vcpumask pointer in the upper bits).
//
// Precondition: the caller holds the domain's MMU lock, as for every use
// of a Context; c.ReadGuest is set if flags may carry a vcpumask pointer.
func DecodeUVMF(c *Context, flags, va uint64) (Flush, error) {
	f := Flush{VA: va}
	switch flags & xen.UVMFFlushTypeMask {
	case xen.UVMFNone:
		return Flush{}, nil
	case xen.UVMFTLBFlush:
		f.Kind = FlushAll
	case xen.UVMFInvlpg:
		f.Kind = FlushPage
	default:
		return Flush{}, errf(xen.EINVAL, 0, "update_va_mapping: flush type %d", flags&3)
	}
	switch {
	case flags&xen.UVMFAll != 0:
		f.CPUs = c.All
	case flags&^7 != 0:
		m, err := readMask(c, flags&^7)
		if err != nil {
			return Flush{}, err
		}
		f.CPUs = m
	default:
		f.CPUs = 1 << c.VCPU
	}
	return f, nil
}

func readMask(c *Context, va uint64) (VCPUMask, error) {
	var b [8]byte
	if err := c.ReadGuest(va, b[:]); err != nil {
		return 0, errf(xen.EFAULT, 0, "vcpumask at %#x unreadable", va)
	}
	var m uint64
	for i := 7; i >= 0; i-- {
		m = m<<8 | uint64(b[i])
	}
	return VCPUMask(m) & c.All, nil
}

// UpdateVAMapping is update_va_mapping: replace the L1 entry that maps va
// in the caller's address space with val, then flush as flags say.
//
// Precondition: the caller holds the domain's MMU lock; *c.CR3 is the
// caller's current base, a validated L4 (L1EntryAddr); c.FT's Memory shows
// the entry as the guest will see it (UpdateEntry); c.Flush is set, and
// c.ReadGuest too if flags may carry a vcpumask pointer.
func UpdateVAMapping(c *Context, va uint64, val mmu.PTE, flags uint64) error {
	defer flushRetyped(c)
	flush, err := DecodeUVMF(c, flags, va)
	if err != nil {
		return err
	}
	pa, err := L1EntryAddr(c.FT, *c.CR3, va)
	if err != nil {
		return err
	}
	if err := UpdateEntry(c, pa, val, false); err != nil {
		return err
	}
	if flush.Kind != FlushNone {
		c.Flush(flush)
	}
	return nil
}

// ExtOp is one struct mmuext_op.
type ExtOp = xen.MMUExtOp

// MMUExtOp performs one mmuext_op command.
//
// Precondition: the caller holds the domain's MMU lock; c.X is the
// caller's executor and *c.CR3 its current base (NewBasePtr); c.FT's
// Memory shows frames as the guest will see them (mmu.FrameTable.Pin);
// c.Flush is set, and c.ReadGuest too for the MULTI flushes.
func MMUExtOp(c *Context, op ExtOp) error {
	defer flushRetyped(c)
	if typ, ok := ExtOpType(op.Cmd); ok {
		return c.FT.Pin(op.Arg1, typ, c.X)
	}
	switch op.Cmd {
	case xen.MMUExtUnpinTable:
		return c.FT.Unpin(op.Arg1)
	case xen.MMUExtNewBasePtr:
		return NewBasePtr(c, op.Arg1)
	case xen.MMUExtNewUserBasePtr:
		return NewUserBasePtr(c, op.Arg1)
	case xen.MMUExtSetLDT:
		return SetLDT(c, op.Arg1, uint32(op.Arg2))
	case xen.MMUExtTLBFlushLocal:
		c.Flush(Flush{Kind: FlushAll, CPUs: 1 << c.VCPU})
	case xen.MMUExtInvlpgLocal:
		c.Flush(Flush{Kind: FlushPage, VA: op.Arg1, CPUs: 1 << c.VCPU})
	case xen.MMUExtTLBFlushAll:
		c.Flush(Flush{Kind: FlushAll, CPUs: c.All})
	case xen.MMUExtInvlpgAll:
		c.Flush(Flush{Kind: FlushPage, VA: op.Arg1, CPUs: c.All})
	case xen.MMUExtTLBFlushMulti, xen.MMUExtInvlpgMulti:
		m, err := readMask(c, op.Arg2)
		if err != nil {
			return err
		}
		f := Flush{Kind: FlushAll, CPUs: m}
		if op.Cmd == xen.MMUExtInvlpgMulti {
			f.Kind, f.VA = FlushPage, op.Arg1
		}
		c.Flush(f)
	default:
		return errf(xen.ENOSYS, 0, "mmuext_op: command %d not implemented", op.Cmd)
	}
	return nil
}

// NewBasePtr is MMUEXT_NEW_BASEPTR: run the caller on the L4 in frame pfn,
// which takes (and may first validate) an L4 type reference; the old base's
// reference is dropped.
//
// Precondition: the caller holds the domain's MMU lock. c.X is the calling
// vCPU's executor, which loads the new CR3, and *c.CR3 is that vCPU's
// current base, a validated L4 on which it holds the general and L4 type
// references a CR3 holds (taken when the vCPU came up, or by its last
// NEW_BASEPTR): NewBasePtr gives them up, and panics if they are not there.
func NewBasePtr(c *Context, pfn uint64) error {
	if err := c.FT.GetPageAndType(pfn, mmu.TypeL4, c.X); err != nil {
		return fmt.Errorf("new_baseptr: %w", err)
	}
	c.X.LoadCR3(pfn << mmu.PageShift)
	old := *c.CR3 >> mmu.PageShift
	*c.CR3 = pfn << mmu.PageShift
	c.FT.PutPageAndType(old)
	return nil
}

// NewUserBasePtr is MMUEXT_NEW_USER_BASEPTR, as Xen's: the caller's user
// mode is to run on the L4 in frame pfn (0: none), which takes the general
// and L4 type references a base pointer holds; the old user base's are
// dropped. Setting the base it already has changes nothing.
//
// Precondition: the caller holds the domain's MMU lock; *c.UserBase is 0
// or a frame on which the caller holds those references (taken by its
// last NEW_USER_BASEPTR).
func NewUserBasePtr(c *Context, pfn uint64) error {
	old := *c.UserBase
	if pfn == old {
		return nil
	}
	if pfn != 0 {
		if err := c.FT.GetPageAndType(pfn, mmu.TypeL4, c.X); err != nil {
			return fmt.Errorf("new_user_baseptr: %w", err)
		}
	}
	*c.UserBase = pfn
	if old != 0 {
		c.FT.PutPageAndType(old)
	}
	return nil
}

// LDT is a vCPU's local descriptor table: the linear address and entry
// count MMUEXT_SET_LDT gave (Xen's ldt_base, ldt_ents). Xen maps its
// pages into the vCPU's LDT area on the first fault there, validating
// them as descriptor pages then.
type LDT struct {
	Base uint64
	Ents uint32
}

// SetLDT is MMUEXT_SET_LDT: the LDT at linear address base (ignored for
// no entries) with ents entries. Refused with EINVAL, changing nothing:
// a base not page-aligned or not the guest's (Xen's __addr_ok), more than
// 8192 entries.
//
// Precondition: the caller holds the domain's MMU lock; c.LDT is set.
func SetLDT(c *Context, base uint64, ents uint32) error {
	if ents == 0 {
		base = 0
	}
	if base&(mmu.PageSize-1) != 0 || !mmu.GuestAddress(base) || ents > xen.MaxLDTEntries {
		return errf(xen.EINVAL, 0, "mmuext_op: SET_LDT of %d entries at %#x", ents, base)
	}
	*c.LDT = LDT{Base: base, Ents: ents}
	return nil
}

// Errno maps an error from this package, pin or mmu to the code the guest
// sees.
func Errno(err error) xen.Errno {
	var me *mmu.Error
	if errors.As(err, &me) {
		return me.Code
	}
	var e xen.Errno
	if errors.As(err, &e) {
		return e
	}
	return xen.EINVAL
}

// ExtOpType is the pagetable type an MMUEXT_PIN_Ln_TABLE command pins.
func ExtOpType(cmd uint32) (mmu.FrameType, bool) {
	switch cmd {
	case xen.MMUExtPinL1Table:
		return mmu.TypeL1, true
	case xen.MMUExtPinL2Table:
		return mmu.TypeL2, true
	case xen.MMUExtPinL3Table:
		return mmu.TypeL3, true
	case xen.MMUExtPinL4Table:
		return mmu.TypeL4, true
	}
	return mmu.TypeNone, false
}
