package mmu

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/pvsim/pvsim/fingerprint"
	"github.com/pvsim/pvsim/xen"
)

// FrameType is what a frame is validated for: Xen's PGT_* page type.
type FrameType uint8

const (
	TypeNone     FrameType = iota // PGT_none
	TypeL1                        // PGT_l1_page_table
	TypeL2                        // PGT_l2_page_table
	TypeL3                        // PGT_l3_page_table
	TypeL4                        // PGT_l4_page_table
	TypeSegDesc                   // PGT_seg_desc_page: a GDT or LDT frame
	TypeWritable                  // PGT_writable_page
)

func (t FrameType) String() string {
	switch t {
	case TypeNone:
		return "none"
	case TypeL1, TypeL2, TypeL3, TypeL4:
		return fmt.Sprintf("L%d", int(t))
	case TypeSegDesc:
		return "segdesc"
	case TypeWritable:
		return "writable"
	}
	return fmt.Sprintf("type %d", int(t))
}

// IsValidated reports whether frames of type t have their contents
// checked when they take it, and kept valid while they hold it: the
// pagetable types and segment-descriptor pages.
func (t FrameType) IsValidated() bool { return t.IsPagetable() || t == TypeSegDesc }

// IsPagetable reports whether t is one of the L1..L4 types.
func (t FrameType) IsPagetable() bool { return t >= TypeL1 && t <= TypeL4 }

// Level is the pagetable level of an L1..L4 type.
//
// Precondition: t.IsPagetable().
func (t FrameType) Level() Level { return Level(t) }

// PagetableType is the type of a table at level l.
//
// Precondition: l is 1 to 4.
func PagetableType(l Level) FrameType { return FrameType(l) }

// Frame is the hypervisor's record of one guest frame (Xen's struct
// page_info). Every guest frame belongs to the one domain; frames outside
// the domain (the hypervisor's) have no record and may not be mapped.
type Frame struct {
	// Type and TypeCount: the frame is held as Type by TypeCount
	// references (Xen's type_info). A pagetable type with a non-zero count
	// means the frame's contents are validated.
	Type      FrameType
	TypeCount uint32
	// RefCount counts every reference: mappings from validated tables,
	// pins and CR3 loads (Xen's count_info).
	RefCount uint32
	// Pinned is set by MMUEXT_PIN_*, which holds one type reference.
	Pinned bool
	// WritableUntil is the flush (FrameTable.TakeFlush, counted from 1)
	// after which no TLB can hold a writable mapping of the frame: a frame
	// that stops being writable may still have one cached until every
	// vCPU's TLB is flushed. Xen's tlbflush_timestamp, with one clock for
	// all vCPUs.
	WritableUntil uint64
	// Pending is a pvsim extension with no Xen counterpart: the guest
	// announced the frame as becoming a pagetable, or as having just
	// stopped being one (PVSIMOP_pagetable_pending), so a write that faults
	// on it while it is not a validated pagetable is emulated. Its contents
	// hold no references then, so any write is safe.
	Pending bool
}

// Validated reports whether the frame is a pagetable whose entries have
// been validated and are kept valid.
//
// Precondition: for a record of a FrameTable (FrameTable.Frame), the
// caller holds the domain's MMU lock.
func (f *Frame) Validated() bool { return f.Type.IsPagetable() && f.TypeCount > 0 }

// Executor performs writes to guest frames that are, or may become,
// pagetables, in guest context (DESIGN.md §2): the VMM never stores into
// them itself. Operations take effect in order.
type Executor interface {
	// Store writes v at guest-physical address pa.
	//
	// Precondition: pa is 8-byte aligned.
	Store(pa uint64, v PTE)
	// Merge atomically replaces the entry at pa by (old & keep) | set and
	// returns old.
	//
	// Precondition: pa is 8-byte aligned.
	Merge(pa uint64, keep, set PTE) PTE
	// CmpXchg atomically replaces old by new at pa if it is still old, and
	// returns the value it found.
	//
	// Precondition: pa is 8-byte aligned.
	CmpXchg(pa uint64, old, new PTE) PTE
	// InvalidatePage drops the calling vCPU's TLB entry for va.
	InvalidatePage(va uint64)
	// FlushTLB drops the calling vCPU's non-global TLB entries.
	FlushTLB()
	// LoadCR3 switches the calling vCPU to the pagetable at cr3.
	//
	// Precondition: cr3 is a validated L4 on which the caller holds the
	// general and L4 type references a CR3 holds (ptops.NewBasePtr takes
	// them first).
	LoadCR3(cr3 uint64)
}

// Error is a refused pagetable operation. Code is the Xen error code the
// guest sees.
type Error struct {
	PFN    uint64
	Reason string
	Code   xen.Errno
}

func (e *Error) Error() string {
	return fmt.Sprintf("frame %#x: %s (%v)", e.PFN, e.Reason, e.Code)
}

func refuse(code xen.Errno, pfn uint64, format string, a ...any) error {
	return &Error{PFN: pfn, Code: code, Reason: fmt.Sprintf(format, a...)}
}

// FrameTable holds the Frame of every guest frame and enforces Xen's
// pagetable type rules on them: a frame is a pagetable only while no
// writable mapping of it exists anywhere, and every entry of a validated
// pagetable maps a frame of the domain with the type its level demands.
//
// Policies: superpages (PSE in an L2 or L3 entry) are refused, and so are
// linear (recursive) pagetables, which fall out of the type rules: an entry
// may not give a frame a second, different pagetable type. L4 slots
// 256..271 belong to the hypervisor: validation ignores what the guest put
// there and installs ReservedL4.
//
// A FrameTable is not safe for concurrent use: callers hold the domain's
// MMU lock. Until the domain's vCPUs start, its builder has the table to
// itself, and the methods' precondition that the caller holds the lock is
// met without taking it.
type FrameTable struct {
	mem    Memory
	frames []Frame
	// ReservedL4 are the hypervisor's entries for L4 slots
	// xen.FirstReservedL4Slot.. in every validated L4.
	ReservedL4 [xen.LastReservedL4Slot - xen.FirstReservedL4Slot + 1]PTE
	// held are the frames the hypervisor holds as writable pages, and
	// descs those vCPUs hold as descriptor pages (set_gdt), once per
	// holding.
	held, descs []uint64
	// grants are the frames grant device mappings hold (GrantHold), once
	// per mapping.
	grants []GrantHold
	// flush: a frame became a pagetable with a stale writable mapping
	// (TakeFlush); flushes counts the flushes TakeFlush asked for.
	flush   bool
	flushes uint64
	// touched, once Track is called, marks the frames whose records were
	// handed out (Frame) since the last TakeTouched.
	touched fingerprint.Bitmap
}

// Publisher is a Memory that shows stores the lock holder's Executor has
// queued but not yet made (NewFrameTable). Publish makes them now.
//
// The table counts a queued store at once, but the guest does not see it
// until it is made: until then another vCPU can still write through a
// writable mapping the store removes. The table publishes before it
// validates a frame, since validation rests on there being no writable
// mapping of the frame in memory (GetPageType).
type Publisher interface {
	Publish()
}

// NewFrameTable makes the table for frames [0, nrFrames) of mem.
//
// Precondition: mem backs every frame in [0, nrFrames), and shows every
// store the table counts, including those the lock holder's Executor has
// queued but not yet made (hv's mmuMemory lays them over guest memory):
// validation and release read the entries through it. If it shows queued
// stores, it is a Publisher.
func NewFrameTable(mem Memory, nrFrames uint64) *FrameTable {
	return &FrameTable{mem: mem, frames: make([]Frame, nrFrames)}
}

// NrFrames is the number of guest frames.
func (t *FrameTable) NrFrames() uint64 { return uint64(len(t.frames)) }

// Frame returns the record of pfn, or nil outside the domain.
//
// Precondition: the caller holds the domain's MMU lock, and uses the
// record only while it does.
func (t *FrameTable) Frame(pfn uint64) *Frame {
	if pfn >= uint64(len(t.frames)) {
		return nil
	}
	if t.touched != nil {
		t.touched.Mark(pfn, pfn)
	}
	return &t.frames[pfn]
}

// IsReservedSlot reports whether an entry of a table of type typ at index
// belongs to the hypervisor.
func IsReservedSlot(typ FrameType, index int) bool {
	return typ == TypeL4 && index >= xen.FirstReservedL4Slot && index <= xen.LastReservedL4Slot
}

// Entry reads entry index of the table in frame pfn.
//
// Precondition: the caller holds the domain's MMU lock; pfn is a frame of
// the domain and index is 0 to 511 (outside them, Entry reads zero or
// another frame's entry).
func (t *FrameTable) Entry(pfn uint64, index int) PTE {
	v, _ := t.mem.Read64(pfn<<PageShift + uint64(index)*8)
	return PTE(v)
}

// GetPage takes a general reference on pfn (Xen's get_page).
//
// Precondition: the caller holds the domain's MMU lock.
func (t *FrameTable) GetPage(pfn uint64) error {
	f := t.Frame(pfn)
	if f == nil {
		return refuse(xen.EPERM, pfn, "not a frame of the domain")
	}
	f.RefCount++
	return nil
}

// PutPage drops a general reference (Xen's put_page).
//
// Precondition: the caller holds the domain's MMU lock and a general
// reference on pfn, which it gives up; PutPage panics on a frame with
// none.
func (t *FrameTable) PutPage(pfn uint64) {
	f := t.Frame(pfn)
	if f == nil || f.RefCount == 0 {
		panic(fmt.Sprintf("mmu: put_page on frame %#x with no reference", pfn))
	}
	f.RefCount--
}

// GetPageType takes a reference on pfn as typ (Xen's get_page_type). The
// first reference to a pagetable type validates the frame's entries,
// taking the references they imply; an L4 also gets the hypervisor's slots,
// written through x. Before it validates, it makes the stores the table's
// Memory shows but memory lacks (Publisher): one of them may remove the
// last writable mapping of the frame, through which another vCPU could
// otherwise still change the entries after validation read them, unseen
// by the counts. Xen, whose stores are in memory at once, flushes the TLBs
// that may still hold such a mapping here, for the same reason. On
// failure nothing has changed.
//
// Precondition: the caller holds the domain's MMU lock; typ is not
// TypeNone; x is the caller's Executor, not nil when typ is TypeL4 or
// TypeSegDesc (with x nil, a table's entries are validated as they are,
// without AdjustGuestEntry: for tests of the type rules alone); and the
// table's Memory shows the frame as the guest will see it
// (NewFrameTable).
func (t *FrameTable) GetPageType(pfn uint64, typ FrameType, x Executor) error {
	f := t.Frame(pfn)
	if f == nil {
		return refuse(xen.EPERM, pfn, "not a frame of the domain")
	}
	if f.TypeCount > 0 {
		if f.Type != typ {
			return refuse(xen.EINVAL, pfn, "is in use as %v, cannot be %v", f.Type, typ)
		}
		f.TypeCount++
		return nil
	}
	if p, ok := t.mem.(Publisher); ok && typ.IsValidated() {
		p.Publish()
	}
	// Claim the type before validating, so that an entry pointing back at
	// this frame sees it and is refused.
	f.Type, f.TypeCount = typ, 1
	if typ.IsValidated() {
		if f.WritableUntil > t.flushes {
			// A writable mapping of the frame may linger in a TLB, through
			// which the guest could write the validated table: every TLB
			// is to be flushed (TakeFlush) before the guest runs again.
			t.flush = true
		}
		validate := t.validate
		if typ == TypeSegDesc {
			validate = func(pfn uint64, _ FrameType, x Executor) error { return t.validateSegDesc(pfn, x) }
		}
		if err := validate(pfn, typ, x); err != nil {
			f.Type, f.TypeCount = TypeNone, 0
			return err
		}
	}
	return nil
}

// GetPageAndType takes a general and a type reference on pfn, or neither
// (Xen's get_page_and_type): what a pin or a CR3 holds.
//
// Precondition: as for GetPageType.
func (t *FrameTable) GetPageAndType(pfn uint64, typ FrameType, x Executor) error {
	if err := t.GetPage(pfn); err != nil {
		return err
	}
	if err := t.GetPageType(pfn, typ, x); err != nil {
		t.PutPage(pfn)
		return err
	}
	return nil
}

// HoldWritable makes pfn a page the hypervisor writes itself, as Xen
// shares its shared-info page with a guest: the hypervisor keeps a general
// and a writable type reference on it for good, so it never becomes a
// pagetable.
//
// Precondition: the caller holds the domain's MMU lock.
func (t *FrameTable) HoldWritable(pfn uint64) error {
	if err := t.GetPageAndType(pfn, TypeWritable, nil); err != nil {
		return err
	}
	t.held = append(t.held, pfn)
	return nil
}

// HoldDescriptorPage takes a general and a segment-descriptor type
// reference on pfn, validating its descriptors if it was not one yet, for
// a vCPU that installs it in its GDT (Xen's pv_set_gdt).
//
// Precondition: the caller holds the domain's MMU lock; x is its Executor.
// At most 14 frames per vCPU are held so (the guest part of a GDT).
func (t *FrameTable) HoldDescriptorPage(pfn uint64, x Executor) error {
	if err := t.GetPageAndType(pfn, TypeSegDesc, x); err != nil {
		return err
	}
	t.descs = append(t.descs, pfn)
	return nil
}

// ReleaseDescriptorPage drops one holding HoldDescriptorPage took.
//
// Precondition: the caller holds the domain's MMU lock and such a holding
// of pfn, which it gives up; ReleaseDescriptorPage panics without one.
func (t *FrameTable) ReleaseDescriptorPage(pfn uint64) {
	i := slices.Index(t.descs, pfn)
	if i < 0 {
		panic(fmt.Sprintf("mmu: frame %#x is not held as a descriptor page", pfn))
	}
	t.descs = slices.Delete(t.descs, i, i+1)
	t.PutPageAndType(pfn)
}

// GrantHold is what a grant's device mapping holds on a frame: a general
// reference, and a writable type reference if the mapping is writable
// (Xen's map_grant_ref for GNTMAP_device_map).
type GrantHold struct {
	PFN      uint64
	Writable bool
}

// HoldGrant takes the references of a grant device mapping of h.PFN.
//
// Precondition: the caller holds the domain's MMU lock. The grant table
// bounds the mappings, and so the holdings.
func (t *FrameTable) HoldGrant(h GrantHold) error {
	if err := t.GetPage(h.PFN); err != nil {
		return err
	}
	if h.Writable {
		if err := t.GetPageType(h.PFN, TypeWritable, nil); err != nil {
			t.PutPage(h.PFN)
			return err
		}
	}
	t.grants = append(t.grants, h)
	return nil
}

// ReleaseGrant drops one holding HoldGrant took.
//
// Precondition: the caller holds the domain's MMU lock and such a holding,
// which it gives up; ReleaseGrant panics without one.
func (t *FrameTable) ReleaseGrant(h GrantHold) {
	i := slices.Index(t.grants, h)
	if i < 0 {
		panic(fmt.Sprintf("mmu: frame %#x is not held by a grant", h.PFN))
	}
	t.grants = slices.Delete(t.grants, i, i+1)
	if h.Writable {
		t.PutPageType(h.PFN)
	}
	t.PutPage(h.PFN)
}

// PutPageAndType drops what GetPageAndType took.
//
// Precondition: as for PutPageType and PutPage: the caller gives up a
// general and a type reference it holds on pfn.
func (t *FrameTable) PutPageAndType(pfn uint64) {
	t.PutPageType(pfn)
	t.PutPage(pfn)
}

// PutPageType drops a type reference (Xen's put_page_type); the last one
// of a pagetable type releases what its entries hold.
//
// Precondition: the caller holds the domain's MMU lock and a type
// reference on pfn, which it gives up; PutPageType panics on a frame with
// none. The table's Memory shows the frame's entries as the table counts
// them (NewFrameTable), since the last reference releases those it reads.
func (t *FrameTable) PutPageType(pfn uint64) {
	f := t.Frame(pfn)
	if f == nil || f.TypeCount == 0 {
		panic(fmt.Sprintf("mmu: put_page_type on frame %#x with no type reference", pfn))
	}
	f.TypeCount--
	if f.TypeCount > 0 {
		return
	}
	if f.Type.IsPagetable() {
		t.releaseEntries(pfn, f.Type, 512)
	}
	if f.Type == TypeWritable {
		f.WritableUntil = t.flushes + 1
	}
	f.Type = TypeNone
}

// TakeFlush reports whether a frame became a pagetable while a writable
// mapping of it may linger in a TLB, since the last call: the caller is to
// flush every vCPU's TLB before the guest runs again (Xen flushes in
// get_page_type).
//
// Precondition: the caller holds the domain's MMU lock.
func (t *FrameTable) TakeFlush() bool {
	if !t.flush {
		return false
	}
	t.flush = false
	t.flushes++
	return true
}

// releaseEntries drops the references held by the first n entries of the
// table in pfn.
func (t *FrameTable) releaseEntries(pfn uint64, typ FrameType, n int) {
	for i := 0; i < n; i++ {
		if IsReservedSlot(typ, i) {
			continue
		}
		if e := t.Entry(pfn, i); e.Present() {
			t.PutEntryRefs(typ.Level(), e)
		}
	}
}

// validate takes the references implied by every present entry of pfn as a
// table of type typ, or none if one entry is refused.
func (t *FrameTable) validate(pfn uint64, typ FrameType, x Executor) error {
	level := typ.Level()
	for i := 0; i < 512; i++ {
		if IsReservedSlot(typ, i) {
			continue
		}
		e := t.Entry(pfn, i)
		if !e.Present() {
			continue
		}
		if err := t.GetEntryRefs(level, e, x); err != nil {
			t.releaseEntries(pfn, typ, i)
			return fmt.Errorf("%v entry %d (%v): %w", typ, i, e, err)
		}
	}
	if x != nil {
		// As Xen's alloc_lN_table, which rewrites each entry with
		// adjust_guest_lNe as it validates it.
		for i := 0; i < 512; i++ {
			e := t.Entry(pfn, i)
			if a := AdjustGuestEntry(level, e); a != e && !IsReservedSlot(typ, i) {
				x.Store(pfn<<PageShift+uint64(i)*8, a)
			}
		}
	}
	if typ == TypeL4 {
		for i, e := range t.ReservedL4 {
			pa := pfn<<PageShift + uint64(xen.FirstReservedL4Slot+i)*8
			if v, _ := t.mem.Read64(pa); PTE(v) != e {
				x.Store(pa, e)
			}
		}
	}
	return nil
}

// CheckEntry refuses an entry that no table at level may hold, whatever
// the frame it maps: today, superpages.
func CheckEntry(level Level, e PTE) error {
	if e.Present() && level > 1 && e&PTEPSE != 0 {
		return refuse(xen.EINVAL, e.PFN(), "superpage entry at L%d: pvsim maps 4 KiB pages only", level)
	}
	return nil
}

// GetEntryRefs takes the references a present entry at level holds on the
// frame it maps (Xen's get_page_from_lNe): a general reference, and a type
// reference as a writable page (L1, RW) or as the next table down, which
// x's caller may have to validate (GetPageType).
//
// Precondition: the caller holds the domain's MMU lock; e is present and
// level is 1 to 4; x as for GetPageType.
func (t *FrameTable) GetEntryRefs(level Level, e PTE, x Executor) error {
	if err := CheckEntry(level, e); err != nil {
		return err
	}
	target := e.PFN()
	if err := t.GetPage(target); err != nil {
		return err
	}
	var err error
	switch {
	case level == 1 && e&PTEWritable != 0:
		err = t.GetPageType(target, TypeWritable, nil)
	case level > 1:
		err = t.GetPageType(target, PagetableType(level-1), x)
	}
	if err != nil {
		t.PutPage(target)
	}
	return err
}

// PutEntryRefs drops what GetEntryRefs took (Xen's put_page_from_lNe).
//
// Precondition: the caller holds the domain's MMU lock; e is a present
// entry at level whose references GetEntryRefs took (an entry of a
// validated table at that level, or one GetEntryRefs accepted), and the
// caller gives them up. PutEntryRefs panics when they are not there.
func (t *FrameTable) PutEntryRefs(level Level, e PTE) {
	target := e.PFN()
	if level > 1 || e&PTEWritable != 0 {
		t.PutPageType(target)
	}
	t.PutPage(target)
}

// Clone returns a copy of the table that reads mem.
//
// Precondition: nothing changes t meanwhile: the caller holds the domain's
// MMU lock, or the domain's other vCPUs are down, as at a snapshot point.
// mem shows the guest memory t counts (as NewFrameTable's does), or is nil
// if the copy is only ever cloned again, as a snapshot's is.
func (t *FrameTable) Clone(mem Memory) *FrameTable {
	c := *t
	c.mem = mem
	c.frames = append([]Frame(nil), t.frames...)
	c.held = append([]uint64(nil), t.held...)
	c.descs = append([]uint64(nil), t.descs...)
	c.grants = append([]GrantHold(nil), t.grants...)
	c.touched = nil
	return &c
}

// Fingerprints. A search names the table's state by a digest of every
// frame's record, kept current by redigesting the records handed out
// since it last looked (Track, TakeTouched), and a digest of the rest
// (Fingerprint).

// Track starts marking the frames whose records Frame hands out (every
// change to a record goes through Frame).
func (t *FrameTable) Track() {
	if t.touched == nil {
		t.touched = fingerprint.NewBitmap(uint64(len(t.frames)))
	}
}

// TakeTouched calls fn for each frame whose record was handed out since
// Track or the last call, and forgets them.
//
// Precondition: Track was called; the caller holds the MMU lock, or no
// one can take it (at a scheduling point of a deterministic domain, the
// other vCPUs parked).
func (t *FrameTable) TakeTouched(fn func(pfn uint64)) { t.touched.Take(fn) }

// RecordDigest is the digest of pfn's record, mixed with pfn.
//
// Precondition: pfn < NrFrames; the caller holds the MMU lock, or no one
// can take it.
func (t *FrameTable) RecordDigest(pfn uint64) fingerprint.Digest {
	f := &t.frames[pfn]
	var b [24]byte
	b[0] = byte(f.Type)
	if f.Pinned {
		b[1] = 1
	}
	if f.Pending {
		b[2] = 1
	}
	binary.LittleEndian.PutUint32(b[4:], f.TypeCount)
	binary.LittleEndian.PutUint32(b[8:], f.RefCount)
	binary.LittleEndian.PutUint64(b[16:], f.WritableUntil)
	return fingerprint.Bytes(b[:]).At(pfn)
}

// Fingerprint adds to h what the table holds besides the frames' records:
// the reserved L4 entries, the frames held writable, as descriptor pages
// and by grants, and the TLB flush clock.
//
// Precondition: the caller holds the MMU lock, or no one can take it.
func (t *FrameTable) Fingerprint(h *fingerprint.Hash) {
	for _, e := range t.ReservedL4 {
		h.Uint64(uint64(e))
	}
	for _, l := range [][]uint64{t.held, t.descs} {
		h.Uint64(uint64(len(l)))
		for _, pfn := range l {
			h.Uint64(pfn)
		}
	}
	h.Uint64(uint64(len(t.grants)))
	for _, g := range t.grants {
		h.Uint64(g.PFN)
		h.Bool(g.Writable)
	}
	h.Bool(t.flush)
	h.Uint64(t.flushes)
}
