package physmem

import (
	"fmt"

	"github.com/pvsim/pvsim/mmu"
)

// Tables writes a fresh four-level pagetable into Memory from the host.
// The domain builder uses it for the guest's initial pagetables, and the
// hypervisor image for the hypervisor region's.
//
// Precondition: no vCPU runs yet; Tables is never used on live
// pagetables.
type Tables struct {
	mem   *Memory
	alloc func() (uint64, error)
	// inner is the flags of non-leaf entries it creates.
	inner mmu.PTE
	// Root is the pfn of the L4.
	Root uint64
	// Frames lists every pagetable frame allocated, Root first.
	Frames []uint64
}

// NewTables starts an empty L4 in a frame from alloc, which Tables calls
// for every table it needs. Inner entries get the flags inner.
func NewTables(mem *Memory, inner mmu.PTE, alloc func() (uint64, error)) (*Tables, error) {
	t := &Tables{mem: mem, alloc: alloc, inner: inner}
	root, err := t.newTable()
	if err != nil {
		return nil, err
	}
	t.Root = root
	return t, nil
}

func (t *Tables) newTable() (uint64, error) {
	pfn, err := t.alloc()
	if err != nil {
		return 0, err
	}
	clear(t.mem.Frame(pfn))
	t.Frames = append(t.Frames, pfn)
	return pfn, nil
}

// entryAddr returns the physical address of the entry for va at level,
// creating the tables above it as needed.
func (t *Tables) entryAddr(va uint64, level mmu.Level) (uint64, error) {
	table := t.Root
	for l := mmu.Level(4); ; l-- {
		pa := table<<mmu.PageShift + uint64(l.Index(va))*8
		if l == level {
			return pa, nil
		}
		raw, _ := t.mem.Read64(pa)
		e := mmu.PTE(raw)
		if !e.Present() {
			n, err := t.newTable()
			if err != nil {
				return 0, err
			}
			e = mmu.MakePTE(n, t.inner)
			t.mem.Write64(pa, uint64(e))
		}
		table = e.PFN()
	}
}

// EntryPA returns the physical address of the L1 entry for va, creating
// the tables above it as needed.
func (t *Tables) EntryPA(va uint64) (uint64, error) { return t.entryAddr(va, 1) }

// Map maps the 4 KiB page at va to frame pfn with flags.
func (t *Tables) Map(va, pfn uint64, flags mmu.PTE) error {
	if va&(mmu.PageSize-1) != 0 || !mmu.Canonical(va) {
		return fmt.Errorf("mapping %#x: not a canonical page address", va)
	}
	pa, err := t.entryAddr(va, 1)
	if err != nil {
		return err
	}
	t.mem.Write64(pa, uint64(mmu.MakePTE(pfn, flags)))
	return nil
}

// SetFlags rewrites the flags of the existing L1 entry for va.
func (t *Tables) SetFlags(va uint64, flags mmu.PTE) error {
	pa, err := t.entryAddr(va, 1)
	if err != nil {
		return err
	}
	raw, _ := t.mem.Read64(pa)
	if !mmu.PTE(raw).Present() {
		return fmt.Errorf("no mapping at %#x", va)
	}
	t.mem.Write64(pa, uint64(mmu.MakePTE(mmu.PTE(raw).PFN(), flags)))
	return nil
}

// L4Entry returns the root's entry at slot.
func (t *Tables) L4Entry(slot int) mmu.PTE {
	raw, _ := t.mem.Read64(t.Root<<mmu.PageShift + uint64(slot)*8)
	return mmu.PTE(raw)
}

// SetL4Entry sets the root's entry at slot.
func (t *Tables) SetL4Entry(slot int, e mmu.PTE) {
	t.mem.Write64(t.Root<<mmu.PageShift+uint64(slot)*8, uint64(e))
}
