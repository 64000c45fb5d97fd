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

// batch runs op on each of the count records of size bytes at guest
// address base, under the MMU lock, stopping at the first refusal, and adds
// the number done to *pdone, as Xen's do_mmu_update and do_mmuext_op do.
// count is 32 bits; MMU_UPDATE_PREEMPTED in it marks a continuation, whose
// earlier slices' count *pdone holds already. After hypercallSlice records
// (or when the domain is stopping) the call continues later at the next
// record.
func (v *vcpu) batch(name string, base, count, size, pdone, dom uint64, op func(v *vcpu, c *ptops.Context, rec []byte) error) uint64 {
	if dom != xen.DomIDSelf {
		return xen.ESRCH.Ret()
	}
	count = uint64(uint32(count))
	var b [4]byte
	done := uint32(0)
	if count&xen.MMUUpdatePreempted != 0 {
		count &^= xen.MMUUpdatePreempted
		if pdone != 0 && v.readGuest(b[:], pdone) == nil {
			done = binary.LittleEndian.Uint32(b[:])
		}
	}
	c := v.lockMMU(name)
	var err error
	preempted := false
	i := uint64(0)
	for ; i < count; i++ {
		if i > 0 && (i%hypercallSlice == 0 || v.d.stopping.Load()) {
			preempted = true
			break
		}
		rec := v.hc.buf[:size]
		if err = v.readGuest(rec, base+i*size); err != nil {
			break
		}
		if err = op(v, c, rec); err != nil {
			break
		}
	}
	if pdone != 0 { // under the lock still: no second round for the copy
		binary.LittleEndian.PutUint32(b[:], done+uint32(i))
		if werr := v.writeGuest(pdone, b[:]); werr != nil && err == nil {
			err = xen.EFAULT
		}
	}
	v.unlockMMU()
	if preempted && err == nil {
		return v.continueWith(base+i*size, (count-i)|xen.MMUUpdatePreempted, pdone, dom)
	}
	return errRet(err)
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
	return errRet(err)
}

// mmuextOp: HYPERVISOR_mmuext_op(op, count, success_count, domid).
func (v *vcpu) mmuextOp(a *hypercallArgs) uint64 {
	return v.batch("mmuext_op", a[0], a[1], xen.MMUExtOpSize, a[2], a[3], (*vcpu).mmuextOpRec)
}

func (v *vcpu) mmuextOpRec(c *ptops.Context, rec []byte) error {
	op := xen.DecodeMMUExtOp(rec)
	err := ptops.MMUExtOp(c, op)
	switch {
	case err != nil:
	case op.Cmd <= xen.MMUExtPinL4Table:
		v.stats.Pins[op.Cmd]++
	case op.Cmd == xen.MMUExtUnpinTable:
		v.stats.Unpins++
	case op.Cmd == xen.MMUExtSetLDT:
		v.ldtChanged(c)
	}
	return err
}
