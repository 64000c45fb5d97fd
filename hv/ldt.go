package hv

import (
	"github.com/pvsim/pvsim/hvimage"
	"github.com/pvsim/pvsim/internal/kvm"
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/ptops"
	"github.com/pvsim/pvsim/x86"
	"github.com/pvsim/pvsim/xen"
)

// The guest's LDT, as Xen maps it (pv/descriptor-tables.c and
// pv/mm.c's pv_map_ldt_shadow_page): MMUEXT_SET_LDT names the LDT's
// linear address and size; the vCPU's LDTR points at its LDT area in the
// hypervisor region (hvimage.CPULDTVA), whose pages start unmapped. The
// first access to each page (a descriptor load through an LDT selector)
// faults there; the VMM finds the guest's frame at the LDT's address in
// the kernel's tables, takes it as a descriptor page (validated by
// check_descriptor, and never writable to the guest while it is one), maps
// it into the area and retries the instruction. A new SET_LDT unmaps the
// area and releases its frames.

// ldtState is the vCPU's LDT shadow: the guest frame mapped at each page
// of its LDT area, 0 for none. Only the vCPU's thread touches it, under
// the MMU lock.
type ldtState struct {
	shadow [hvimage.LDTPages]uint64
}

// ldtSegment is the LDTR for an LDT of ents entries in vCPU cpu's area;
// none for an empty one.
func ldtSegment(cpu int, ents uint32) kvm.Segment {
	if ents == 0 {
		return kvm.Segment{Unusable: 1}
	}
	return kvm.Segment{Base: hvimage.CPULDTVA(cpu), Limit: ents*8 - 1, Selector: xen.LDTSelector, Typ: x86.TypeLDT, Present: 1}
}

// ldtChanged follows an MMUEXT_SET_LDT of v (c is its MMU context): the
// frames mapped for the old LDT are unmapped and released, and the LDTR
// loaded for the new one (Xen's invalidate_shadow_ldt and load_LDT).
//
// Precondition: v holds the MMU lock through c.
func (v *vcpu) ldtChanged(c *ptops.Context) {
	v.releaseLDT(c)
	v.run.Sregs.LDT = ldtSegment(v.id, v.start.ldt.Ents)
	v.sregsChanged()
}

// releaseLDT unmaps every frame mapped in v's LDT area.
func (v *vcpu) releaseLDT(c *ptops.Context) {
	for i, pfn := range v.ldt.shadow {
		if pfn == 0 {
			continue
		}
		c.X.Store(v.d.hv.LDTEntryPA(v.id, i), v.d.hv.NoLDTPageEntry())
		c.X.InvalidatePage(hvimage.CPULDTVA(v.id) + uint64(i)*mmu.PageSize)
		c.FT.ReleaseDescriptorPage(pfn)
		v.ldt.shadow[i] = 0
	}
}

// ldtFault serves #PF x if it is the first access to a page of v's LDT
// area: it maps the guest's LDT frame there and reports true, the
// instruction to be retried. An access past the LDT's frames that can be
// mapped (not present in the kernel's tables, or refused as a descriptor
// page) becomes the #GP Xen injects for it, with the selector's error
// code; x is changed so, and ldtFault reports false.
func (v *vcpu) ldtFault(x *x86.Exception) bool {
	area := hvimage.CPULDTVA(v.id)
	off := x.CR2 - area
	page := int(off >> mmu.PageShift)
	ldt := v.start.ldt
	c := v.lockMMUAs("ldt fault", true)
	defer v.unlockMMU()
	if off < uint64(ldt.Ents)*8 && v.ldt.shadow[page] == 0 {
		// The LDT's address is the kernel's: walk its tables, as Xen's
		// guest_get_eff_kern_l1e.
		w := mmu.Translate(v.d.tables, v.start.cr3, ldt.Base+uint64(page)*mmu.PageSize, mmu.AccessUser)
		if w.OK && c.FT.HoldDescriptorPage(w.PA>>mmu.PageShift, c.X) == nil {
			pfn := w.PA >> mmu.PageShift
			c.X.Store(v.d.hv.LDTEntryPA(v.id, page), hvimage.LDTPageEntry(pfn))
			c.X.InvalidatePage(area + uint64(page)*mmu.PageSize)
			v.ldt.shadow[page] = pfn
			v.stats.LDTFaults++
			return true
		}
	}
	x.Vector, x.ErrorCode = x86.VectorGP, off&^7|x86.SelectorTI
	return false
}
