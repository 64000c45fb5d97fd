package ptops

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/xen"
)

// queuingExecutor queues its stores, as hv's executor does, until a
// compare-and-exchange, a merge or Run makes them. Its TLB operations do
// nothing.
type queuingExecutor struct {
	mem   mmu.SliceMemory
	queue []queuedStore
}

type queuedStore struct {
	pa uint64
	v  mmu.PTE
}

// Run makes the queued stores: a round, or the final batch.
func (x *queuingExecutor) Run() {
	for _, s := range x.queue {
		binary.LittleEndian.PutUint64(x.mem[s.pa:], uint64(s.v))
	}
	x.queue = x.queue[:0]
}

func (x *queuingExecutor) Store(pa uint64, v mmu.PTE) { x.queue = append(x.queue, queuedStore{pa, v}) }

func (x *queuingExecutor) Merge(pa uint64, keep, set mmu.PTE) mmu.PTE {
	x.Run()
	old := mmu.PTE(binary.LittleEndian.Uint64(x.mem[pa:]))
	binary.LittleEndian.PutUint64(x.mem[pa:], uint64(old&keep|set))
	return old
}

func (x *queuingExecutor) CmpXchg(pa uint64, old, new mmu.PTE) mmu.PTE {
	x.Run()
	cur := mmu.PTE(binary.LittleEndian.Uint64(x.mem[pa:]))
	if cur == old {
		binary.LittleEndian.PutUint64(x.mem[pa:], uint64(new))
	}
	return cur
}

func (x *queuingExecutor) InvalidatePage(uint64) {}
func (x *queuingExecutor) FlushTLB()             {}
func (x *queuingExecutor) LoadCR3(uint64)        {}

// queuedMemory is memory as the frame table reads it in hv (mmuMemory):
// the lock holder's queued stores laid over memory.
type queuedMemory struct{ x *queuingExecutor }

func (m queuedMemory) Read64(pa uint64) (uint64, bool) {
	for i := len(m.x.queue) - 1; i >= 0; i-- {
		if m.x.queue[i].pa == pa&^7 {
			return uint64(m.x.queue[i].v), true
		}
	}
	return m.x.mem.Read64(pa)
}

// Publish implements mmu.Publisher.
func (m queuedMemory) Publish() { m.x.Run() }

// TestPinWithQueuedReadOnlyRemap is the pin of hv-pin-aware's batch on
// vCPU 0 against reclaim's pte clear on vCPU 1. vCPU 0's read-only remap
// of a would-be L1 is still queued when the pin (the next entry of the
// batch) validates the L1 and counts the writable mapping of a data page
// its entry holds. vCPU 1's xchg that clears the entry must then fault and
// be emulated, putting that reference: if the remap were not yet in
// memory, the xchg would go through the old writable alias unseen, and the
// data page would keep a writable type reference no entry holds. Once
// reclaim freed it and a fork took it for a pagetable, the pin would be
// refused ("in use as writable").
func TestPinWithQueuedReadOnlyRemap(t *testing.T) {
	f := newFixture(t)
	const l1 = 200
	data := adjusted(mmu.MakePTE(dataPFN, rw)) // as Xen wrote it
	x0 := &queuingExecutor{mem: f.mem}
	f.ft = f.ft.Clone(queuedMemory{x0})
	f.c.FT, f.c.X = f.ft, x0

	// vCPU 0, fork: the child's pte page, written through its writable
	// alias; then the pin's batch, an entry at a time.
	clear(f.mem[l1<<mmu.PageShift : (l1+1)<<mmu.PageShift])
	f.put(l1, 0, data)
	require.NoError(t, SetPending(f.c, []uint64{l1}, true))
	require.NoError(t, UpdateVAMapping(f.c, va(l1), mmu.MakePTE(l1, rw&^mmu.PTEWritable), 0))
	require.NoError(t, MMUExtOp(f.c, ExtOp{Cmd: xen.MMUExtPinL1Table, Arg1: l1}))
	assert.Equal(t, mmu.Frame{Type: mmu.TypeWritable, TypeCount: 2, RefCount: 2}, refCounts(f.ft.Frame(dataPFN)),
		"the linear map and the pinned entry")

	// vCPU 1, reclaim: xchg of the entry with zero (ptep_get_and_clear),
	// through the L1's alias, as memory maps it now.
	if mmu.Translate(f.mem, f.cr3, va(l1), mmu.AccessWrite|mmu.AccessUser).OK {
		f.put(l1, 0, 0) // no fault: the hypervisor never sees it
	} else {
		x0.Run() // vCPU 1 waits for vCPU 0's queued stores under the lock (biglock)
		c1 := *f.c
		c1.VCPU, c1.X = 1, f.x
		regs := Regs{RIP: ripAt, RFLAGS: 0x202}
		regs.GPR[rdi] = va(l1)
		w, err := EmulatePTWrite(&c1, &regs, va(l1), PTWriteError, []byte{0x48, 0x87, 0x37}) // xchg [rdi], rsi
		require.NoError(t, err)
		assert.False(t, w.Pending, "a pinned L1")
		assert.Equal(t, uint64(data), regs.GPR[rsi])
	}
	x0.Run() // vCPU 0's final batch

	assert.Equal(t, mmu.PTE(0), f.entry(l1, 0))
	assert.Equal(t, mmu.Frame{Type: mmu.TypeWritable, TypeCount: 1, RefCount: 1}, refCounts(f.ft.Frame(dataPFN)),
		"the linear map only")
	f.audit(t)
}

// refCounts is a frame's type and counts.
func refCounts(f *mmu.Frame) mmu.Frame {
	return mmu.Frame{Type: f.Type, TypeCount: f.TypeCount, RefCount: f.RefCount}
}
