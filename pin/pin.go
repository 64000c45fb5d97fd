// Package pin implements pinning (MMUEXT_PIN_L1_TABLE..MMUEXT_PIN_L4_TABLE)
// and unpinning (MMUEXT_UNPIN_TABLE) of guest pagetables: a pin validates
// the whole tree below a table once and holds a type reference on it, so
// that it stays valid while the guest edits it through hypercalls, however
// often it is loaded and unloaded as CR3.
package pin

import (
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/xen"
)

// Pin validates the table in frame pfn as typ (an L1..L4 type) and pins it.
// Pinning a pinned frame is refused with EINVAL, as Xen does. On failure
// nothing has changed.
func Pin(ft *mmu.FrameTable, pfn uint64, typ mmu.FrameType, x mmu.Executor) error {
	f := ft.Frame(pfn)
	switch {
	case f == nil:
		return &mmu.Error{PFN: pfn, Code: xen.EPERM, Reason: "pin: not a frame of the domain"}
	case !typ.IsPagetable():
		return &mmu.Error{PFN: pfn, Code: xen.EINVAL, Reason: "pin: " + typ.String() + " is not a pagetable type"}
	case f.Pinned:
		return &mmu.Error{PFN: pfn, Code: xen.EINVAL, Reason: "pin: already pinned as " + f.Type.String()}
	}
	if err := ft.GetPageAndType(pfn, typ, x); err != nil {
		return err
	}
	f.Pinned = true
	return nil
}

// Unpin drops the pin on pfn. The table stays validated while other
// references (a CR3, an upper table) hold it; the last reference releases
// the tree below it.
func Unpin(ft *mmu.FrameTable, pfn uint64) error {
	f := ft.Frame(pfn)
	switch {
	case f == nil:
		return &mmu.Error{PFN: pfn, Code: xen.EPERM, Reason: "unpin: not a frame of the domain"}
	case !f.Pinned:
		return &mmu.Error{PFN: pfn, Code: xen.EINVAL, Reason: "unpin: not pinned"}
	}
	f.Pinned = false
	ft.PutPageAndType(pfn)
	return nil
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
