package mmu

import (
	"fmt"
	"slices"

	"github.com/pvsim/pvsim/xen"
)

// Violation is one broken invariant found by Audit.
type Violation struct {
	PFN    uint64
	Reason string
}

func (v Violation) String() string { return fmt.Sprintf("frame %#x: %s", v.PFN, v.Reason) }

// refSource says where a type reference comes from, formatted only for a
// report: an entry of table pfn (level 1 for a writable mapping), a
// vCPU's CR3, or what alone.
type refSource struct {
	what  string
	level Level // for an entry
	pfn   uint64
	index int // entry index, or vCPU
}

func (r refSource) String() string {
	switch {
	case r.level == 1:
		return fmt.Sprintf("writable mapping from L1 %#x[%d]", r.pfn, r.index)
	case r.level > 1:
		return fmt.Sprintf("L%d %#x[%d]", r.level, r.pfn, r.index)
	case r.what == "":
		return fmt.Sprintf("CR3 of vCPU %d", r.index)
	}
	return r.what
}

// Audit recounts every reference from guest memory and checks the
// invariants of the type system (DESIGN.md §3.3):
//   - a frame with a pagetable type has no writable mapping anywhere;
//   - type and reference counts equal a recount from the validated tables,
//     the pins, the CR3s, the frames the hypervisor holds and the
//     descriptor pages the vCPUs hold;
//   - every descriptor of a descriptor page is one CheckDescriptor
//     accepts unchanged;
//   - no entry of a validated table maps a frame outside the domain, and
//     every L4 holds the hypervisor's slots;
//   - every CR3 is a validated L4.
//
// cr3s are the pagetable bases the vCPUs run on. It returns the violations
// found, at most max of them (0: no limit). Audit is Snapshot, then Check.
//
// Precondition: as Snapshot's.
func (t *FrameTable) Audit(cr3s []uint64, max int) []Violation {
	var c AuditCopy
	t.Snapshot(&c, cr3s)
	return c.Check(max)
}

// AuditCopy is what Audit recounts: the frame records, the entries of
// every validated pagetable, the frames the hypervisor holds and the
// CR3s, copied under the MMU lock so that the recount needs no lock. Its
// buffers are reused from one Snapshot to the next.
type AuditCopy struct {
	frames     []Frame
	entries    []PTE   // the validated tables' entries, 512 each
	at         []int32 // at[pfn]: the first of pfn's entries, or -1
	held, cr3s []uint64
	descs      []uint64
	grants     []GrantHold
	reservedL4 [xen.LastReservedL4Slot - xen.FirstReservedL4Slot + 1]PTE
	// The recount's scratch space.
	typeRefs, refs []uint32
	wantType       []FrameType
}

// Snapshot copies into c what Check recounts, with cr3s the pagetable
// bases the vCPUs run on. It copies n frame records and 4 KiB per
// validated table, so it holds the lock for much less than the recount.
//
// Precondition: the caller holds the domain's MMU lock; the table's Memory
// shows every store the table counts (NewFrameTable); and cr3s holds the
// CR3 of every vCPU that holds one, once each, since the recount gives
// each a reference.
func (t *FrameTable) Snapshot(c *AuditCopy, cr3s []uint64) {
	n := len(t.frames)
	c.frames = append(c.frames[:0], t.frames...)
	c.at = slices.Grow(c.at[:0], n)[:n]
	c.entries = c.entries[:0]
	for pfn := range t.frames {
		c.at[pfn] = -1
		if f := &t.frames[pfn]; !f.Validated() && !(f.Type == TypeSegDesc && f.TypeCount > 0) {
			continue
		}
		c.at[pfn] = int32(len(c.entries))
		for i := 0; i < 512; i++ {
			c.entries = append(c.entries, t.Entry(uint64(pfn), i))
		}
	}
	c.held = append(c.held[:0], t.held...)
	c.descs = append(c.descs[:0], t.descs...)
	c.grants = append(c.grants[:0], t.grants...)
	c.cr3s = append(c.cr3s[:0], cr3s...)
	c.reservedL4 = t.ReservedL4
}

// Check recounts the copy and checks the invariants Audit lists. It
// returns the violations found, at most max of them (0: no limit). It
// needs no lock: the copy is the caller's.
func (c *AuditCopy) Check(max int) []Violation {
	var out []Violation
	add := func(pfn uint64, format string, a ...any) {
		if max == 0 || len(out) < max {
			out = append(out, Violation{pfn, fmt.Sprintf(format, a...)})
		}
	}
	n := uint64(len(c.frames))
	c.typeRefs = zeroed(c.typeRefs, n)
	c.refs = zeroed(c.refs, n)
	c.wantType = zeroed(c.wantType, n)
	typeRefs, refs, wantType := c.typeRefs, c.refs, c.wantType
	claim := func(pfn uint64, typ FrameType, from refSource) {
		if wantType[pfn] != TypeNone && wantType[pfn] != typ {
			add(pfn, "referenced as %v and as %v (%v)", wantType[pfn], typ, from)
		}
		wantType[pfn] = typ
		typeRefs[pfn]++
	}
	for pfn := uint64(0); pfn < n; pfn++ {
		f := &c.frames[pfn]
		if f.Pinned {
			if !f.Validated() {
				add(pfn, "pinned but not a validated pagetable (%v, count %d)", f.Type, f.TypeCount)
			} else {
				claim(pfn, f.Type, refSource{what: "pin"})
			}
			refs[pfn]++
		}
		if f.Type == TypeSegDesc && c.at[pfn] >= 0 {
			for i, e := range c.entries[c.at[pfn]:][:512] {
				if d, ok := CheckDescriptor(uint64(e)); !ok || d != uint64(e) {
					add(pfn, "descriptor page entry %d (%#016x) is not one Xen would install", i, uint64(e))
				}
			}
		}
		if !f.Validated() {
			continue
		}
		level := f.Type.Level()
		for i, e := range c.entries[c.at[pfn]:][:512] {
			if IsReservedSlot(f.Type, i) {
				if want := c.reservedL4[i-xen.FirstReservedL4Slot]; e != want {
					add(pfn, "L4 slot %d is %v, the hypervisor's entry is %v", i, e, want)
				}
				continue
			}
			if !e.Present() {
				continue
			}
			target := e.PFN()
			if target >= n {
				add(pfn, "%v entry %d maps frame %#x outside the domain", f.Type, i, target)
				continue
			}
			if err := CheckEntry(level, e); err != nil {
				add(pfn, "%v entry %d: %v", f.Type, i, err)
			}
			refs[target]++
			switch {
			case level == 1 && e&PTEWritable != 0:
				claim(target, TypeWritable, refSource{level: 1, pfn: pfn, index: i})
			case level > 1:
				claim(target, PagetableType(level-1), refSource{level: level, pfn: pfn, index: i})
			}
		}
	}
	for _, pfn := range c.held {
		claim(pfn, TypeWritable, refSource{what: "held by the hypervisor"})
		refs[pfn]++
	}
	for _, pfn := range c.descs {
		claim(pfn, TypeSegDesc, refSource{what: "a vCPU's GDT"})
		refs[pfn]++
	}
	for _, g := range c.grants {
		if g.Writable {
			claim(g.PFN, TypeWritable, refSource{what: "a grant's device mapping"})
		}
		refs[g.PFN]++
	}
	for i, cr3 := range c.cr3s {
		pfn := cr3 >> PageShift
		if pfn >= n || c.frames[pfn].Type != TypeL4 || !c.frames[pfn].Validated() {
			add(pfn, "CR3 of vCPU %d is not a validated L4", i)
			continue
		}
		claim(pfn, TypeL4, refSource{index: i})
		refs[pfn]++
	}
	for pfn := uint64(0); pfn < n; pfn++ {
		f := &c.frames[pfn]
		if f.TypeCount != typeRefs[pfn] || (typeRefs[pfn] > 0 && f.Type != wantType[pfn]) {
			add(pfn, "type %v count %d, recount finds %v count %d", f.Type, f.TypeCount, wantType[pfn], typeRefs[pfn])
		}
		if f.RefCount != refs[pfn] {
			add(pfn, "reference count %d, recount finds %d", f.RefCount, refs[pfn])
		}
	}
	return out
}

// zeroed returns s resized to n elements, all zero, reusing its array.
func zeroed[T any](s []T, n uint64) []T {
	s = slices.Grow(s[:0], int(n))[:n]
	clear(s)
	return s
}
