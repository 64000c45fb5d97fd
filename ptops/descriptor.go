package ptops

import (
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/xen"
)

// GDT is the guest part of one vCPU's GDT, as set_gdt installed it (Xen's
// arch.pv.gdt_frames and gdt_ents).
type GDT struct {
	Frames  [xen.FirstReservedGDTPage]uint64
	Entries uint32
}

// nrFrames is how many frames hold g's entries.
func (g *GDT) nrFrames() int { return int((g.Entries + 511) / 512) }

// GDTMap is where a vCPU's GDT pages are mapped: the hypervisor's L1
// entries for them, which SetGDT writes through the executor.
type GDTMap interface {
	// EntryPA is the physical address of the L1 entry that maps GDT page
	// i, and VA the page's address.
	EntryPA(i int) uint64
	VA(i int) uint64
	// Installed is the entry that maps guest frame pfn as a GDT page;
	// Empty the entry of a page without one.
	Installed(pfn uint64) mmu.PTE
	Empty() mmu.PTE
}

// SetGDT is set_gdt, as Xen's pv_set_gdt: the caller's GDT becomes the
// first entries descriptors of frames. Each frame must take a
// segment-descriptor type, which validates its descriptors
// (mmu.CheckDescriptor); if one does not, nothing changes and the error is
// EINVAL, as Xen gives for any refused frame. Then the old frames are
// released, the new ones mapped, and the caller's TLB entries for the GDT
// dropped.
//
// Precondition: the caller holds the domain's MMU lock; c.X is the
// caller's executor, g and m its GDT and map; len(frames) is at least
// (entries+511)/512.
func SetGDT(c *Context, g *GDT, m GDTMap, frames []uint64, entries uint32) error {
	if entries > xen.FirstReservedGDTByte/8 {
		return errf(xen.EINVAL, 0, "set_gdt: %d entries, the guest part holds %d", entries, xen.FirstReservedGDTByte/8)
	}
	n := int((entries + 511) / 512)
	for i, pfn := range frames[:n] {
		if err := c.FT.HoldDescriptorPage(pfn, c.X); err != nil {
			for _, p := range frames[:i] {
				c.FT.ReleaseDescriptorPage(p)
			}
			return errf(xen.EINVAL, pfn, "set_gdt: frame %d: %v", i, err)
		}
	}
	DestroyGDT(c, g, m)
	g.Entries = entries
	for i, pfn := range frames[:n] {
		g.Frames[i] = pfn
		c.X.Store(m.EntryPA(i), m.Installed(pfn))
		c.X.InvalidatePage(m.VA(i))
	}
	return nil
}

// DestroyGDT releases the caller's GDT frames and maps the empty page in
// their place, as Xen's pv_destroy_gdt.
//
// Precondition: as for SetGDT.
func DestroyGDT(c *Context, g *GDT, m GDTMap) {
	for i := range g.nrFrames() {
		c.FT.ReleaseDescriptorPage(g.Frames[i])
		g.Frames[i] = 0
		c.X.Store(m.EntryPA(i), m.Empty())
		c.X.InvalidatePage(m.VA(i))
	}
	g.Entries = 0
}

// UpdateDescriptor is update_descriptor, as Xen's do_update_descriptor:
// the descriptor at guest-physical address pa becomes desc, as
// mmu.CheckDescriptor installs it. pa must be 8-byte aligned, desc
// acceptable, and the frame either a descriptor page or one that may be
// writable (not a pagetable); else EINVAL.
//
// Precondition: the caller holds the domain's MMU lock.
func UpdateDescriptor(c *Context, pa, desc uint64) error {
	d, ok := mmu.CheckDescriptor(desc)
	if pa&7 != 0 || !ok {
		return errf(xen.EINVAL, pa>>mmu.PageShift, "update_descriptor: %#x at %#x refused", desc, pa)
	}
	pfn := pa >> mmu.PageShift
	if err := c.FT.GetPage(pfn); err != nil {
		return errf(xen.EINVAL, pfn, "update_descriptor: %v", err)
	}
	defer c.FT.PutPage(pfn)
	typ := mmu.TypeWritable
	if f := c.FT.Frame(pfn); f.Type == mmu.TypeSegDesc && f.TypeCount > 0 {
		typ = mmu.TypeSegDesc
	}
	if err := c.FT.GetPageType(pfn, typ, c.X); err != nil {
		return errf(xen.EINVAL, pfn, "update_descriptor: %v", err)
	}
	c.settle(pa)
	c.X.Store(pa, mmu.PTE(d))
	c.FT.PutPageType(pfn)
	return nil
}
