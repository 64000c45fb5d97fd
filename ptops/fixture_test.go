package ptops

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/mmu/mmutest"
	"github.com/pvsim/pvsim/xen"
)

// The fixture is a domain of nrFrames frames laid out like the builder's:
// frames 1..4 are the boot L4, L3, L2 and L1, and the L1 maps every frame at
// base + pfn*4096, writable except the pagetable frames.
const (
	nrFrames = 512
	base     = 0xffffffff80000000
	bootL4   = 1
	bootL1   = 4
	hvFrame  = 0x10000 // a frame outside the domain
)

type fixture struct {
	mem     mmu.SliceMemory
	ft      *mmu.FrameTable
	x       *mmutest.RecordingExecutor
	cr3     uint64
	c       *Context
	flushes []Flush
}

func (f *fixture) put(pfn uint64, index int, e mmu.PTE) {
	binary.LittleEndian.PutUint64(f.mem[pfn<<mmu.PageShift+uint64(index)*8:], uint64(e))
}

func (f *fixture) entry(pfn uint64, index int) mmu.PTE { return f.ft.Entry(pfn, index) }

const rw = mmu.PTEPresent | mmu.PTEWritable | mmu.PTEUser | mmu.PTEAccessed

func newFixture(t testing.TB) *fixture {
	f := &fixture{mem: make(mmu.SliceMemory, nrFrames*mmu.PageSize)}
	f.ft = mmu.NewFrameTable(f.mem, nrFrames)
	f.x = &mmutest.RecordingExecutor{Mem: f.mem}
	for i := range f.ft.ReservedL4 {
		f.ft.ReservedL4[i] = mmu.MakePTE(hvFrame+uint64(i), rw)
	}
	f.put(1, mmu.Level(4).Index(base), mmu.MakePTE(2, rw))
	f.put(2, mmu.Level(3).Index(base), mmu.MakePTE(3, rw))
	f.put(3, mmu.Level(2).Index(base), mmu.MakePTE(4, rw))
	for pfn := uint64(0); pfn < nrFrames; pfn++ {
		flags := rw | mmu.PTEGlobal // as the builder's validation leaves a user mapping
		if pfn >= 1 && pfn <= 4 {
			flags &^= mmu.PTEWritable
		}
		f.put(bootL1, int(pfn), mmu.MakePTE(pfn, flags))
	}
	require.NoError(t, f.ft.Pin(bootL4, mmu.TypeL4, f.x))
	require.NoError(t, f.ft.GetPage(bootL4))
	require.NoError(t, f.ft.GetPageType(bootL4, mmu.TypeL4, f.x))
	f.cr3 = bootL4 << mmu.PageShift
	f.c = &Context{
		FT: f.ft, X: f.x, VCPU: 0, CR3: &f.cr3, All: 3,
		ReadGuest: func(va uint64, b []byte) error {
			w := mmu.Translate(f.mem, f.cr3, va, mmu.AccessUser)
			if !w.OK {
				return xen.EFAULT
			}
			copy(b, f.mem[w.PA:])
			return nil
		},
		Flush: func(fl Flush) { f.flushes = append(f.flushes, fl) },
	}
	f.audit(t)
	return f
}

func (f *fixture) audit(t testing.TB) {
	t.Helper()
	bases := []uint64{f.cr3}
	if f.c.UserBase != nil && *f.c.UserBase != 0 {
		bases = append(bases, *f.c.UserBase<<mmu.PageShift) // holds what a CR3 holds
	}
	v := f.ft.Audit(bases, 5)
	require.Empty(t, v, "audit")
}

// adjusted is what Xen makes of L1 entry e when it writes it for a 64-bit
// PV guest (mmu.AdjustGuestEntry).
func adjusted(e mmu.PTE) mmu.PTE { return mmu.AdjustGuestEntry(1, e) }

// va is where the boot address space maps pfn.
func va(pfn uint64) uint64 { return base + pfn<<mmu.PageShift }

// l1e is the address of the boot L1 entry that maps pfn.
func l1e(pfn uint64) uint64 { return bootL1<<mmu.PageShift + pfn*8 }

// state is a snapshot of everything an operation may change.
type state struct {
	frames []mmu.Frame
	mem    []byte
	cr3    uint64
}

func (f *fixture) snapshot() state {
	s := state{mem: append([]byte(nil), f.mem...), cr3: f.cr3}
	for pfn := uint64(0); pfn < nrFrames; pfn++ {
		fr := *f.ft.Frame(pfn)
		fr.WritableUntil = 0 // the TLB-flush clock records history, not state
		s.frames = append(s.frames, fr)
	}
	return s
}

// makeTable turns free frame pfn into a would-be pagetable: zeroed and
// mapped read-only, as a guest does before pinning.
func (f *fixture) makeTable(t testing.TB, pfn uint64) {
	t.Helper()
	clear(f.mem[pfn<<mmu.PageShift : (pfn+1)<<mmu.PageShift])
	require.NoError(t, UpdateVAMapping(f.c, va(pfn), mmu.MakePTE(pfn, rw&^mmu.PTEWritable), xen.UVMFInvlpg))
}
