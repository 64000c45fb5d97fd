// Package mmu is the hypervisor's model of x86-64 guest paging: the PTE
// format, a four-level walker over guest memory, and (with the pagetable
// type system, pinning included) the frame table that says what each guest
// frame may be used for. It reads guest memory through the Memory
// interface and never writes it: writes to live pagetables belong to an
// Executor.
//
// A read never runs guest code. Writes an Executor has queued but not yet
// made are the implementation's to show: the hypervisor's Memory lays the
// lock holder's queued stores over guest memory (hv's mmuMemory), so that
// validation sees what the guest will see, without a round trip into the
// guest. Every FrameTable method that reads or changes frames assumes the
// caller holds the domain's MMU lock; none is safe for concurrent use.
package mmu

import (
	"fmt"
	"strings"

	"github.com/pvsim/pvsim/xen"
)

// PageShift and PageSize describe 4 KiB pages.
const (
	PageShift = 12
	PageSize  = 1 << PageShift
)

// PTE is one x86-64 pagetable entry, at any level.
type PTE uint64

// PTE flag bits.
const (
	PTEPresent  PTE = 1 << 0
	PTEWritable PTE = 1 << 1
	PTEUser     PTE = 1 << 2
	PTEPWT      PTE = 1 << 3
	PTEPCD      PTE = 1 << 4
	PTEAccessed PTE = 1 << 5
	PTEDirty    PTE = 1 << 6
	PTEPSE      PTE = 1 << 7 // large page at L2/L3; PAT at L1
	PTEGlobal   PTE = 1 << 8
	PTENX       PTE = 1 << 63

	// PTEGuestKernel (Xen's _PAGE_GUEST_KERNEL, bit 12 of Xen's flags
	// word, bit 52 of the entry, which the CPU ignores) marks an L1 entry
	// the guest made without _PAGE_USER: AdjustGuestEntry.
	PTEGuestKernel PTE = 1 << 52

	// PTEFrameMask selects the frame address bits (bits 12..51).
	PTEFrameMask PTE = 0x000ffffffffff000
)

// AdjustGuestEntry is Xen's adjust_guest_lNe for a 64-bit PV guest, which
// runs its kernel at CPL3: every present entry becomes user-accessible.
// An L1 entry made without _PAGE_USER (a kernel mapping) is marked
// PTEGuestKernel; one made with it (a user mapping) is made global, as Xen
// does so that user mappings survive the CR3 switch between the guest's
// kernel and user tables. An L4 entry is marked Accessed, as Xen marks it
// since it shadows L4s behind the guest's back. Xen applies it to every
// entry it validates or writes for the guest; so does pvsim (mmu's
// validation, ptops' updates and ptwr).
//
// Xen 3.1, whose pinning the race model follows, had the L1..L3 rules
// already; the L4 Accessed bit came with Xen 4.10's XPTI.
func AdjustGuestEntry(level Level, e PTE) PTE {
	if !e.Present() {
		return e
	}
	switch level {
	case 1:
		if e&PTEUser == 0 {
			e |= PTEGuestKernel | PTEUser
		}
		if e&PTEGuestKernel == 0 {
			e |= PTEGlobal | PTEUser
		}
	case 4:
		e |= PTEAccessed | PTEUser
	default:
		e |= PTEUser
	}
	return e
}

// MakePTE builds an entry that maps frame pfn with the given flags.
//
// Precondition: pfn is below 1<<40 and flags has no bit of PTEFrameMask.
// MakePTE drops pfn's higher bits and ORs flags in unmasked: either way
// the entry would map another frame.
func MakePTE(pfn uint64, flags PTE) PTE { return PTE(pfn<<PageShift)&PTEFrameMask | flags }

// Present reports whether the entry maps anything.
func (p PTE) Present() bool { return p&PTEPresent != 0 }

// PFN is the frame number the entry points at.
func (p PTE) PFN() uint64 { return uint64(p&PTEFrameMask) >> PageShift }

// Flags returns the entry with its frame bits cleared.
func (p PTE) Flags() PTE { return p &^ PTEFrameMask }

// String renders the entry as pfn and flag letters, e.g. "pfn 0x1f3 P W U A D".
func (p PTE) String() string {
	if !p.Present() {
		return fmt.Sprintf("%#x (not present)", uint64(p))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "pfn %#x P", p.PFN())
	for _, f := range []struct {
		bit  PTE
		name string
	}{{PTEWritable, "W"}, {PTEUser, "U"}, {PTEAccessed, "A"}, {PTEDirty, "D"}, {PTEPSE, "PSE"}, {PTEGlobal, "G"}, {PTENX, "NX"}} {
		if p&f.bit != 0 {
			b.WriteString(" " + f.name)
		}
	}
	return b.String()
}

// Level names a pagetable level: L1 holds 4 KiB leaf entries, L4 is the root.
type Level int

// Index returns the entry index for va at this level.
//
// Precondition: l is 1 to 4.
func (l Level) Index(va uint64) int { return int(va>>(PageShift+9*(uint(l)-1))) & 511 }

// Span is how many bytes of virtual space one entry at this level covers.
//
// Precondition: l is 1 to 4.
func (l Level) Span() uint64 { return 1 << (PageShift + 9*(uint(l)-1)) }

// Canonical reports whether va is a canonical 48-bit address.
func Canonical(va uint64) bool {
	top := va >> 47
	return top == 0 || top == 0x1ffff
}

// GuestAddress reports whether va is an address the guest may name for
// itself: canonical and outside the hypervisor's range (Xen's __addr_ok).
func GuestAddress(va uint64) bool {
	return Canonical(va) && (va < xen.HypervisorVirtStart || va >= xen.HypervisorVirtEnd)
}

// GuestRange reports whether the n bytes at va are all guest addresses
// (Xen's access_ok, guest_handle_okay): none wraps, none is non-canonical
// or the hypervisor's.
func GuestRange(va, n uint64) bool {
	if n == 0 {
		return true
	}
	last := va + n - 1
	return last >= va && GuestAddress(va) && GuestAddress(last) &&
		(last < xen.HypervisorVirtStart || va >= xen.HypervisorVirtEnd)
}
