package hv

import (
	"fmt"

	"github.com/pvsim/pvsim/mmu"
)

// ptBuilder writes a fresh four-level pagetable into physMem. The domain
// builder uses it for the guest's initial pagetables and for the hypervisor
// region, before any vCPU runs; it is never used on live pagetables.
type ptBuilder struct {
	mem   *physMem
	root  uint64 // pfn of the L4
	alloc func() (uint64, error)
	// inner is the flags of non-leaf entries it creates.
	inner mmu.PTE
	// frames lists every pagetable frame it allocated, root first.
	frames []uint64
}

func newPTBuilder(mem *physMem, inner mmu.PTE, alloc func() (uint64, error)) (*ptBuilder, error) {
	b := &ptBuilder{mem: mem, alloc: alloc, inner: inner}
	root, err := b.newTable()
	if err != nil {
		return nil, err
	}
	b.root = root
	return b, nil
}

func (b *ptBuilder) newTable() (uint64, error) {
	pfn, err := b.alloc()
	if err != nil {
		return 0, err
	}
	clear(b.mem.frame(pfn))
	b.frames = append(b.frames, pfn)
	return pfn, nil
}

// entryAddr returns the physical address of the entry for va at level,
// creating the tables above it as needed.
func (b *ptBuilder) entryAddr(va uint64, level mmu.Level) (uint64, error) {
	table := b.root
	for l := mmu.Level(4); ; l-- {
		pa := table<<mmu.PageShift + uint64(l.Index(va))*8
		if l == level {
			return pa, nil
		}
		raw, _ := b.mem.Read64(pa)
		e := mmu.PTE(raw)
		if !e.Present() {
			t, err := b.newTable()
			if err != nil {
				return 0, err
			}
			e = mmu.MakePTE(t, b.inner)
			b.mem.write64(pa, uint64(e))
		}
		table = e.PFN()
	}
}

// mapPage maps the 4 KiB page at va to frame pfn.
func (b *ptBuilder) mapPage(va, pfn uint64, flags mmu.PTE) error {
	if va&(mmu.PageSize-1) != 0 || !mmu.Canonical(va) {
		return fmt.Errorf("mapping %#x: not a canonical page address", va)
	}
	pa, err := b.entryAddr(va, 1)
	if err != nil {
		return err
	}
	b.mem.write64(pa, uint64(mmu.MakePTE(pfn, flags)))
	return nil
}

// setFlags rewrites the flags of the existing L1 entry for va.
func (b *ptBuilder) setFlags(va uint64, flags mmu.PTE) error {
	pa, err := b.entryAddr(va, 1)
	if err != nil {
		return err
	}
	raw, _ := b.mem.Read64(pa)
	if !mmu.PTE(raw).Present() {
		return fmt.Errorf("no mapping at %#x", va)
	}
	b.mem.write64(pa, uint64(mmu.MakePTE(mmu.PTE(raw).PFN(), flags)))
	return nil
}

// l4Entry returns the root's entry at slot.
func (b *ptBuilder) l4Entry(slot int) mmu.PTE {
	raw, _ := b.mem.Read64(b.root<<mmu.PageShift + uint64(slot)*8)
	return mmu.PTE(raw)
}

func (b *ptBuilder) setL4Entry(slot int, e mmu.PTE) {
	b.mem.write64(b.root<<mmu.PageShift+uint64(slot)*8, uint64(e))
}
