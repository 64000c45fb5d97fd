package ptops

import (
	"fmt"

	"github.com/pvsim/pvsim/biglock"
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/xen"
)

// pvsim's extension operations (xen.PVSimOp*): Xen has no counterpart.

// ClearsOnlyAD reports whether clearing mask in an entry can change
// nothing but its Accessed and Dirty bits, so no reference moves.
func ClearsOnlyAD(mask uint64) bool {
	return mask&^uint64(mmu.PTEAccessed|mmu.PTEDirty) == 0
}

// CheckTestAndClear checks PVSIMOP_test_and_clear_pte_flags' target: the
// entry at guest-physical address ptr must be 8-byte aligned in a frame of
// the domain that is an L1 in use, or no pagetable at all (then the
// operation is an atomic AND the guest could have done itself). It reports
// whether the frame is a validated L1.
//
// Precondition: the caller holds the domain's MMU lock, as for every use
// of a Context.
func CheckTestAndClear(c *Context, ptr uint64) (l1 bool, err error) {
	pfn := ptr >> mmu.PageShift
	f := c.FT.Frame(pfn)
	switch {
	case f == nil:
		return false, errf(xen.EPERM, pfn, "test_and_clear_pte_flags: not a frame of the domain")
	case ptr&7 != 0:
		return false, errf(xen.EINVAL, pfn, "test_and_clear_pte_flags: entry address %#x not 8-byte aligned", ptr)
	case f.Validated() && f.Type != mmu.TypeL1:
		return false, errf(xen.EINVAL, pfn, "test_and_clear_pte_flags: frame is an %v pagetable", f.Type)
	case !f.Validated() && f.TypeCount > 0 && f.Type != mmu.TypeWritable:
		return false, errf(xen.EINVAL, pfn, "test_and_clear_pte_flags: frame is in use as %v", f.Type)
	}
	return f.Validated(), nil
}

// TestAndClearPTEFlags is PVSIMOP_test_and_clear_pte_flags: atomically,
// against the MMU setting Accessed and Dirty, clear mask in the entry at
// guest-physical address ptr and return the bits of mask it held. In an L1
// in use, clearing Present or RW moves references as mmu_update would; the
// new entry only ever grants less, so validation cannot refuse it.
//
// Precondition: the caller holds the domain's MMU lock; c.X is the
// caller's executor; and c.FT's Memory shows the entry as the guest will
// see it (mmu.NewFrameTable), or every compare-and-exchange fails and the
// operation ends in EAGAIN.
func TestAndClearPTEFlags(c *Context, ptr, mask uint64) (uint64, error) {
	l1, err := CheckTestAndClear(c, ptr)
	if err != nil {
		return 0, err
	}
	if !l1 || ClearsOnlyAD(mask) {
		c.settle(ptr)
		return uint64(c.X.Merge(ptr, mmu.PTE(^mask), 0)) & mask, nil
	}
	c.settle(biglock.Everything)
	pfn, index := ptr>>mmu.PageShift, int(ptr&(mmu.PageSize-1))/8
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		old := c.FT.Entry(pfn, index)
		nw := mmu.AdjustGuestEntry(1, old&^mmu.PTE(mask))
		if nw.Present() {
			if err := c.FT.GetEntryRefs(1, nw, c.X); err != nil {
				return 0, fmt.Errorf("test_and_clear_pte_flags of L1 %#x[%d] to %v: %w", pfn, index, nw, err)
			}
		}
		if found := c.X.CmpXchg(ptr, old, nw); found != old {
			if nw.Present() {
				c.FT.PutEntryRefs(1, nw)
			}
			continue
		}
		if old.Present() {
			c.FT.PutEntryRefs(1, old)
		}
		return uint64(old) & mask, nil
	}
	return 0, errf(xen.EAGAIN, pfn, "test_and_clear_pte_flags: entry %d kept changing", index)
}

// SetPending is PVSIMOP_pagetable_pending: mark (on) or unmark the frames
// as becoming pagetables. Every frame is checked before any is marked.
//
// Precondition: the caller holds the domain's MMU lock.
func SetPending(c *Context, pfns []uint64, on bool) error {
	for _, pfn := range pfns {
		if c.FT.Frame(pfn) == nil {
			return errf(xen.EINVAL, pfn, "pagetable_pending: not a frame of the domain")
		}
	}
	for _, pfn := range pfns {
		c.FT.Frame(pfn).Pending = on
	}
	return nil
}
