package ptops

import (
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/xen"
)

// The pagetable half of grant mappings for a 64-bit PV guest, as Xen's
// create_grant_pv_mapping and replace_grant_pv_mapping
// (arch/x86/pv/grant_table.c): the grant table (package gnttab) pins the
// grant, these write the PTE.
//
// The references the mapping holds on the granted frame are the PTE's own
// (GetEntryRefs), as for any L1 entry. Xen takes the same references in
// map_grant_ref (get_page, and get_page_type(PGT_writable_page) for a
// writable host mapping of the domain's own frame) and drops them at
// unmap; since every grant here is a self-grant, the counts are the same
// at every point, and an entry the guest overwrites without unmapping
// drops them as Xen's put_page_from_l1e does.

// pteAvail is the PTE's bits 9-11, which the hardware ignores and a guest
// may use (_PAGE_AVAIL).
const pteAvail mmu.PTE = 7 << 9

// GrantPTE is the PTE a grant mapping of frame with flags writes, before
// AdjustGuestEntry (Xen's grant_to_pte_flags): Present, Accessed, Dirty
// and NX, Writable unless GNTMAP_readonly, User for
// GNTMAP_application_map, and the flags' guest-available bits
// (GNTMAP_guest_avail0 up) in the PTE's bits 9-11
// (XENFEAT_gnttab_map_avail_bits).
func GrantPTE(frame uint64, flags xen.GrantMapFlags) mmu.PTE {
	e := mmu.PTE(frame<<mmu.PageShift) | mmu.PTEPresent | mmu.PTEAccessed | mmu.PTEDirty | mmu.PTENX
	if flags&xen.GNTMAPApplicationMap != 0 {
		e |= mmu.PTEUser
	}
	if flags&xen.GNTMAPReadonly == 0 {
		e |= mmu.PTEWritable
	}
	e |= mmu.PTE(flags>>xen.GNTMAPGuestAvailShift) << 9 & pteAvail
	return e
}

// grantL1Entry is the guest-physical address of the L1 entry a grant
// operation's addr names: with GNTMAP_contains_pte the entry's own
// address, 8-byte aligned, else the entry that maps linear address addr
// in the caller's address space. Its frame must be an L1 pagetable.
func grantL1Entry(c *Context, addr uint64, flags xen.GrantMapFlags) (uint64, bool) {
	pa := addr
	if flags&xen.GNTMAPContainsPTE != 0 {
		if addr&7 != 0 {
			return 0, false // would write across two entries: XSA-227
		}
	} else {
		var err error
		if pa, err = L1EntryAddr(c.FT, *c.CR3, addr); err != nil {
			return 0, false
		}
	}
	f := c.FT.Frame(pa >> mmu.PageShift)
	if f == nil || f.Type != mmu.TypeL1 || !f.Validated() {
		return 0, false
	}
	return pa, true
}

// MapGrant writes the PTE of a grant mapping of frame with flags at the
// L1 entry addr names (create_grant_pv_mapping). The entry's old contents
// are replaced, and their references dropped. It refuses, changing
// nothing, with GNTST_general_error when addr names no L1 entry, or the
// frame cannot be mapped so (a writable mapping of a pagetable).
//
// Precondition: the caller holds the domain's MMU lock; *c.CR3 is the
// caller's base (L1EntryAddr); frame is a frame of the domain, pinned in
// the grant table for this mapping.
func MapGrant(c *Context, addr, frame uint64, flags xen.GrantMapFlags) xen.GrantStatus {
	pa, ok := grantL1Entry(c, addr, flags)
	if !ok {
		return xen.GNTSTGeneralError
	}
	c.settle(pa)
	defer flushRetyped(c)
	val := mmu.AdjustGuestEntry(1, GrantPTE(frame, flags))
	if err := c.FT.GetEntryRefs(1, val, c.X); err != nil {
		return xen.GNTSTGeneralError
	}
	old := c.FT.Entry(pa>>mmu.PageShift, int(pa&(mmu.PageSize-1))/8)
	c.X.Store(pa, val)
	if old.Present() {
		c.FT.PutEntryRefs(1, old)
	}
	return xen.GNTSTOkay
}

// UnmapGrant clears the PTE of a grant mapping of frame made with flags
// at the L1 entry addr names (replace_grant_pv_mapping with no
// replacement). It refuses, changing nothing, with GNTST_general_error
// when addr names no L1 entry or the entry no longer maps frame with the
// mapping's Present and Writable bits.
//
// The caller flushes every vCPU's TLB before the hypercall returns (Xen
// flushes the domain's once after a batch of unmaps).
//
// Precondition: as MapGrant's.
func UnmapGrant(c *Context, addr, frame uint64, flags xen.GrantMapFlags) xen.GrantStatus {
	return ReplaceGrant(c, addr, frame, flags, 0)
}

// ReplaceGrant is UnmapGrant that, with newAddr not 0, puts in place of
// the grant's PTE the entry that maps linear address newAddr, which is
// cleared (GNTTABOP_unmap_and_replace; replace_grant_pv_mapping with a
// new_addr). Refused with GNTST_general_error: a replacement for a
// mapping made by PTE address, newAddr mapped by no L1 entry, and what
// UnmapGrant refuses; once newAddr's entry is taken it stays cleared and
// its references are dropped, even if the grant's PTE is then refused, as
// in Xen.
//
// Precondition: as UnmapGrant's.
func ReplaceGrant(c *Context, addr, frame uint64, flags xen.GrantMapFlags, newAddr uint64) xen.GrantStatus {
	var stolen mmu.PTE
	if newAddr != 0 {
		if flags&xen.GNTMAPContainsPTE != 0 {
			return xen.GNTSTGeneralError
		}
		npa, ok := grantL1Entry(c, newAddr, 0)
		if !ok {
			return xen.GNTSTGeneralError
		}
		c.settle(npa)
		stolen = c.FT.Entry(npa>>mmu.PageShift, int(npa&(mmu.PageSize-1))/8)
		c.X.Store(npa, 0)
	}
	st := replaceGrant(c, addr, frame, flags, stolen)
	if st != xen.GNTSTOkay && stolen.Present() {
		c.FT.PutEntryRefs(1, stolen)
	}
	return st
}

func replaceGrant(c *Context, addr, frame uint64, flags xen.GrantMapFlags, with mmu.PTE) xen.GrantStatus {
	pa, ok := grantL1Entry(c, addr, flags)
	if !ok {
		return xen.GNTSTGeneralError
	}
	c.settle(pa)
	old := c.FT.Entry(pa>>mmu.PageShift, int(pa&(mmu.PageSize-1))/8)
	want := GrantPTE(frame, flags)
	if old.PFN() != frame || (old^want)&(mmu.PTEPresent|mmu.PTEWritable) != 0 {
		return xen.GNTSTGeneralError
	}
	c.X.Store(pa, with)
	c.FT.PutEntryRefs(1, old)
	return xen.GNTSTOkay
}
