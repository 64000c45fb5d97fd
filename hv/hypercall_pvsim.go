package hv

import (
	"encoding/binary"

	"github.com/pvsim/pvsim/ptops"
	"github.com/pvsim/pvsim/xen"
)

// pvsim_op, pvsim's extension hypercall (xen.PVSimOp*): what the race's fix
// strategies and the tools need from a hypervisor and Xen does not offer.

// pvsimFeatures are the bits XENVER_get_features answers for submap
// xen.PVSimFeaturesSubmap.
const pvsimFeatures = 1<<xen.PVSimFeatTestAndClearPTEFlags | 1<<xen.PVSimFeatPagetablePending |
	1<<xen.PVSimFeatTraceMark | 1<<xen.PVSimFeatExitCounters

// features are the pvsim feature bits of this domain.
func (d *Domain) features() uint32 {
	if d.det != nil {
		return pvsimFeatures | 1<<xen.PVSimFeatDeterministic
	}
	return pvsimFeatures
}

// pvsimOp: HYPERVISOR_pvsim_op(cmd, a1, a2, a3).
func (v *vcpu) pvsimOp(a *hypercallArgs) uint64 {
	switch a[0] {
	case xen.PVSimOpTestAndClearPTEFlags:
		return v.testAndClearPTEFlags(a[1], a[2])
	case xen.PVSimOpPagetablePending:
		return v.pagetablePending(a[1], a[2], a[3])
	case xen.PVSimOpTraceMark:
		return v.traceMark(a[1], a[2])
	case xen.PVSimOpRegisterExitCounters:
		return v.registerExitCounters(a[1])
	case xen.PVSimOpSchedPoint:
		// The scheduler has been asked already, as the exit arrived; the
		// label names the point in the trace.
		s, err := v.label(a[1])
		if err != nil {
			return errRet(err)
		}
		v.trace.Label(s)
		return 0
	case xen.PVSimOpSnapshotPoint:
		return v.snapshotPoint()
	}
	return xen.ENOSYS.Ret()
}

// testAndClearPTEFlags clears mask in the entry at machine address ptr.
// Clearing Accessed and Dirty moves no reference, so it runs after the
// lock, on the executor's short path on the way back to the guest, which
// leaves the old bits in RAX: one exit in all. Anything else, or a call
// inside a multicall (whose result goes to memory), runs at once under
// the lock.
func (v *vcpu) testAndClearPTEFlags(ptr, mask uint64) uint64 {
	c := v.lockMMUAs("pvsim_op test_and_clear_pte_flags", true)
	if !v.mm.inMulticall && ptops.ClearsOnlyAD(mask) {
		_, err := ptops.CheckTestAndClear(c, ptr)
		c.Settle(ptr)
		v.unlockMMU()
		if err != nil {
			return errRet(err)
		}
		if v.exec.Queued() == 0 && !v.exec.Parked() {
			v.exec.ClearFlags(ptr, mask)
			return 0 // replaced by the bits cleared
		}
		c = v.lockMMU("pvsim_op test_and_clear_pte_flags")
	}
	old, err := ptops.TestAndClearPTEFlags(c, ptr, mask)
	v.unlockMMU()
	if err != nil {
		return errRet(err)
	}
	return old
}

// pagetablePending marks or unmarks count frames, listed as mfns at guest
// address list, as becoming pagetables.
func (v *vcpu) pagetablePending(list, count, on uint64) uint64 {
	if count > xen.PVSimMaxPending || on > 1 {
		return xen.EINVAL.Ret()
	}
	b := v.hc.buf[:count*8]
	if err := v.readGuest(b, list); err != nil {
		return errRet(err)
	}
	pfns := v.hc.pendingPFNs[:count]
	for i := range pfns {
		pfns[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	c := v.lockMMU("pvsim_op pagetable_pending")
	err := ptops.SetPending(c, pfns, on == 1)
	v.unlockMMU()
	return errRet(err)
}

// traceMark records a guest mark in the exit trace.
func (v *vcpu) traceMark(label, arg uint64) uint64 {
	s, err := v.label(label)
	if err != nil {
		return errRet(err)
	}
	v.trace.Mark(s, arg)
	return 0
}

// label reads the NUL-terminated label at guest address va, of at most
// xen.PVSimMaxLabel bytes: EFAULT for NULL or an unreadable address, EINVAL
// for an empty label or no NUL within the bound.
func (v *vcpu) label(va uint64) (string, error) {
	if s, ok := v.hc.labels.Get(va); ok {
		return s, nil
	}
	b := v.hc.buf[:xen.PVSimMaxLabel+1]
	n, err := v.d.mem.CopyStringFromGuest(v.run.Sregs.CR3, va, b)
	if err != nil {
		return "", err
	}
	if n == 0 {
		return "", xen.EINVAL
	}
	s := string(b[:n])
	v.hc.labels.Add(va, s)
	return s, nil
}

// registerExitCounters gives the hypervisor frame mfn for good: from now
// on it holds each vCPU's exit count.
func (v *vcpu) registerExitCounters(mfn uint64) uint64 {
	d := v.d
	c := v.lockMMU("pvsim_op register_exit_counters")
	defer v.unlockMMU()
	page := d.mem.Frame(mfn)
	if _, set := d.exitCounters.PFN(); set {
		return xen.EEXIST.Ret()
	}
	if page == nil {
		return xen.EINVAL.Ret()
	}
	if err := c.FT.HoldWritable(mfn); err != nil {
		return errRet(err)
	}
	d.exitCounters.Set(page, mfn) // under the lock: the check above still holds
	return 0
}

// countExit counts one exit of v and, once the guest registered a page
// for it, publishes the count there.
func (v *vcpu) countExit() {
	v.exits++
	v.d.exitCounters.Publish(v.id, v.exits)
}
