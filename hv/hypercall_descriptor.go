package hv

import (
	"encoding/binary"

	"github.com/pvsim/pvsim/hvimage"
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/ptops"
	"github.com/pvsim/pvsim/xen"
)

// The descriptor-table hypercalls of xen.h: set_gdt and
// update_descriptor. ptops validates and installs; the vCPU's GDT (gdt
// below) is mapped in the hypervisor region (hvimage.GDTEntryPA).

// setGDT: HYPERVISOR_set_gdt(frame_list, entries).
func (v *vcpu) setGDT(a *hypercallArgs) uint64 {
	entries := uint32(a[1])
	if entries > xen.FirstReservedGDTByte/8 {
		return xen.EINVAL.Ret()
	}
	var frames [xen.FirstReservedGDTPage]uint64
	n := int((entries + 511) / 512)
	b := v.hc.buf[:n*8]
	if err := v.readGuest(b, a[0]); err != nil {
		return errRet(err)
	}
	for i := range n {
		frames[i] = binary.LittleEndian.Uint64(b[i*8:])
	}
	c := v.lockMMUAs("set_gdt", false)
	err := ptops.SetGDT(c, &v.gdt, gdtMap{v.d.hv, v.id}, frames[:n], entries)
	v.unlockMMU()
	return errRet(err)
}

// updateDescriptor: HYPERVISOR_update_descriptor(ma, desc).
func (v *vcpu) updateDescriptor(a *hypercallArgs) uint64 {
	c := v.lockMMUAs("update_descriptor", false)
	err := ptops.UpdateDescriptor(c, a[0], a[1])
	v.unlockMMU()
	return errRet(err)
}

// gdtMap is vCPU cpu's GDT in the hypervisor region.
type gdtMap struct {
	r   *hvimage.Region
	cpu int
}

func (m gdtMap) EntryPA(i int) uint64         { return m.r.GDTEntryPA(m.cpu, i) }
func (m gdtMap) VA(i int) uint64              { return hvimage.CPUGDTVA(m.cpu) + uint64(i)*mmu.PageSize }
func (m gdtMap) Installed(pfn uint64) mmu.PTE { return hvimage.GDTPageEntry(pfn) }
func (m gdtMap) Empty() mmu.PTE               { return m.r.UnusedGDTPageEntry() }
