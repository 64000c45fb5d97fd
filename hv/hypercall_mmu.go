package hv

import (
	"encoding/binary"
	"fmt"

	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/ptops"
	"github.com/pvsim/pvsim/xen"
)

// The pagetable hypercalls of xen.h: mmu_update, update_va_mapping and
// mmuext_op. Each decodes its guest records, takes the MMU lock, and has
// ptops validate and apply them against the frame table.

func mmuErr(err error) uint64 {
	if err == nil {
		return 0
	}
	return ptops.Errno(err).Ret()
}

// batch runs op on each of count records of size bytes at guest address
// base, under the MMU lock, stopping at the first refusal, and reports the
// number done through pdone as mmu_update and mmuext_op do.
func (v *vcpu) batch(name string, base, count, size, pdone, dom uint64, op func(v *vcpu, c *ptops.Context, rec []byte) error) uint64 {
	if dom != xen.DomIDSelf {
		return xen.ESRCH.Ret()
	}
	c := v.lockMMU(name)
	var err error
	done := uint64(0)
	for ; done < count; done++ {
		rec := v.hc.buf[:size]
		if err = v.readGuest(rec, base+done*size); err != nil {
			break
		}
		if err = op(v, c, rec); err != nil {
			break
		}
	}
	v.unlockMMU()
	if pdone != 0 {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(done))
		if werr := v.writeGuest(pdone, b[:]); werr != nil && err == nil {
			return xen.EFAULT.Ret()
		}
	}
	return mmuErr(err)
}

// mmuUpdate: HYPERVISOR_mmu_update(req, count, success_count, domid).
func (v *vcpu) mmuUpdate(a *hypercallArgs) uint64 {
	return v.batch("mmu_update", a[0], a[1], xen.MMUUpdateSize, a[2], a[3], (*vcpu).mmuUpdateOp)
}

func (v *vcpu) mmuUpdateOp(c *ptops.Context, rec []byte) error {
	u := xen.DecodeMMUUpdate(rec)
	switch u.Type() {
	case xen.MMUNormalPTUpdate:
		return ptops.UpdateEntry(c, u.Addr(), mmu.PTE(u.Val), false)
	case xen.MMUPTUpdatePreserveAD:
		return ptops.UpdateEntry(c, u.Addr(), mmu.PTE(u.Val), true)
	}
	return fmt.Errorf("mmu_update: request type %d: %w", u.Type(), xen.ENOSYS)
}

// updateVAMapping: HYPERVISOR_update_va_mapping(va, val, flags).
func (v *vcpu) updateVAMapping(a *hypercallArgs) uint64 {
	c := v.lockMMU("update_va_mapping")
	err := ptops.UpdateVAMapping(c, a[0], mmu.PTE(a[1]), a[2])
	v.unlockMMU()
	return mmuErr(err)
}

// mmuextOp: HYPERVISOR_mmuext_op(op, count, success_count, domid).
func (v *vcpu) mmuextOp(a *hypercallArgs) uint64 {
	return v.batch("mmuext_op", a[0], a[1], xen.MMUExtOpSize, a[2], a[3], (*vcpu).mmuextOpRec)
}

func (v *vcpu) mmuextOpRec(c *ptops.Context, rec []byte) error {
	return ptops.MMUExtOp(c, xen.DecodeMMUExtOp(rec))
}
