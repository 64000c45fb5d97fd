package mmu

import "github.com/pvsim/pvsim/x86"

// Memory is guest-physical memory as the hypervisor reads it, including
// the writes its Executor has queued. Read64 must not run the guest.
type Memory interface {
	// Read64 returns the little-endian quadword at physical address pa, or
	// false when pa is not backed by memory.
	Read64(pa uint64) (uint64, bool)
}

// Access is the kind of access a translation is checked for.
type Access uint8

const (
	AccessRead  Access = 0
	AccessWrite Access = 1 << 0
	AccessUser  Access = 1 << 1 // done at CPL3
	AccessFetch Access = 1 << 2
)

// Walk is the result of a four-level walk for one virtual address: each
// entry on the way down (Entries[4] is the L4 entry), the level where the
// walk stopped, and whether and why the access is refused.
type Walk struct {
	VA      uint64
	Entries [5]PTE
	// Level is the level of the leaf (1, or 2/3 for a large page), or the
	// level whose entry was not present.
	Level Level
	// PA is the translated physical address when OK.
	PA uint64
	OK bool
	// ErrorCode is the #PF error code the access would raise when !OK.
	ErrorCode uint32
}

// Translate walks the pagetables rooted at cr3 for va and checks acc against
// the combined permissions, as the MMU would with CR0.WP=1 and EFER.NXE=1.
// It allocates nothing.
//
// Precondition: the vCPU whose access is checked runs with CR0.WP and
// EFER.NXE set, as every pvsim vCPU does; otherwise the CPU's verdict may
// differ.
func Translate(m Memory, cr3, va uint64, acc Access) Walk {
	w := Walk{VA: va}
	code := uint32(0)
	if acc&AccessWrite != 0 {
		code |= x86.PFWrite
	}
	if acc&AccessUser != 0 {
		code |= x86.PFUser
	}
	if acc&AccessFetch != 0 {
		code |= x86.PFFetch
	}
	if !Canonical(va) {
		w.ErrorCode = code
		w.Level = 4
		return w
	}
	table := cr3 & uint64(PTEFrameMask)
	writable, user, exec := true, true, true
	for level := Level(4); level >= 1; level-- {
		raw, ok := m.Read64(table + uint64(level.Index(va))*8)
		e := PTE(raw)
		w.Entries[level] = e
		w.Level = level
		if !ok || !e.Present() {
			w.ErrorCode = code
			return w
		}
		writable = writable && e&PTEWritable != 0
		user = user && e&PTEUser != 0
		exec = exec && e&PTENX == 0
		if level == 1 || (level <= 3 && e&PTEPSE != 0) {
			span := level.Span()
			w.PA = uint64(e&PTEFrameMask)&^(span-1) | va&(span-1)
			break
		}
		table = uint64(e & PTEFrameMask)
	}
	code |= x86.PFPresent
	switch {
	case acc&AccessUser != 0 && !user,
		acc&AccessWrite != 0 && !writable,
		acc&AccessFetch != 0 && !exec:
		w.ErrorCode = code
		return w
	}
	w.OK = true
	return w
}
