package physmem

import "github.com/pvsim/pvsim/mmu"

// BootExecutor is an mmu.Executor that stores into guest memory from the
// host. It is what the domain's boot-time validation uses: before any vCPU
// has run, no pagetable is live, so a host store is seen like any other
// and there is no TLB to flush.
//
// Precondition: no vCPU of the domain has entered the guest. Once one has,
// writes to frames that may be pagetables go through the executor
// (DESIGN.md §2).
type BootExecutor struct{ Mem *Memory }

func (x BootExecutor) load(pa uint64) mmu.PTE {
	v, ok := x.Mem.Read64(pa)
	if !ok {
		panic("physmem: boot executor access outside guest memory")
	}
	return mmu.PTE(v)
}

// Store implements mmu.Executor.
func (x BootExecutor) Store(pa uint64, v mmu.PTE) { x.load(pa); x.Mem.Write64(pa, uint64(v)) }

// Merge implements mmu.Executor.
func (x BootExecutor) Merge(pa uint64, keep, set mmu.PTE) mmu.PTE {
	old := x.load(pa)
	x.Mem.Write64(pa, uint64(old&keep|set))
	return old
}

// CmpXchg implements mmu.Executor.
func (x BootExecutor) CmpXchg(pa uint64, old, new mmu.PTE) mmu.PTE {
	cur := x.load(pa)
	if cur == old {
		x.Mem.Write64(pa, uint64(new))
	}
	return cur
}

// InvalidatePage implements mmu.Executor: no vCPU has a TLB yet.
func (BootExecutor) InvalidatePage(uint64) {}

// FlushTLB implements mmu.Executor: no vCPU has a TLB yet.
func (BootExecutor) FlushTLB() {}

// LoadCR3 implements mmu.Executor: no vCPU runs yet.
func (BootExecutor) LoadCR3(uint64) {}
