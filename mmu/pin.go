package mmu

import "github.com/pvsim/pvsim/xen"

// Pinning (MMUEXT_PIN_L1_TABLE..MMUEXT_PIN_L4_TABLE) and unpinning
// (MMUEXT_UNPIN_TABLE), next to the type references they take and drop,
// as Xen keeps them beside get_page_type: a pin validates the whole tree
// below a table once and holds a type reference on it, so that it stays
// valid while the guest edits it through hypercalls, however often it is
// loaded and unloaded as CR3.

// Pin validates the table in frame pfn as typ (an L1..L4 type) and pins it.
// Pinning a pinned frame is refused with EINVAL, as Xen does. On failure
// nothing has changed.
//
// Precondition: the caller holds the domain's MMU lock; x is the caller's
// Executor, not nil when typ is TypeL4; and the table's Memory shows the
// frame as the guest will see it (NewFrameTable).
func (ft *FrameTable) Pin(pfn uint64, typ FrameType, x Executor) error {
	f := ft.Frame(pfn)
	switch {
	case f == nil:
		return &Error{PFN: pfn, Code: xen.EPERM, Reason: "pin: not a frame of the domain"}
	case !typ.IsPagetable():
		return &Error{PFN: pfn, Code: xen.EINVAL, Reason: "pin: " + typ.String() + " is not a pagetable type"}
	case f.Pinned:
		return &Error{PFN: pfn, Code: xen.EINVAL, Reason: "pin: already pinned as " + f.Type.String()}
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
//
// Precondition: the caller holds the domain's MMU lock, and the table's
// Memory shows the entries the table counts (NewFrameTable), since the
// last reference releases them.
func (ft *FrameTable) Unpin(pfn uint64) error {
	f := ft.Frame(pfn)
	switch {
	case f == nil:
		return &Error{PFN: pfn, Code: xen.EPERM, Reason: "unpin: not a frame of the domain"}
	case !f.Pinned:
		return &Error{PFN: pfn, Code: xen.EINVAL, Reason: "unpin: not pinned"}
	}
	f.Pinned = false
	ft.PutPageAndType(pfn)
	return nil
}
