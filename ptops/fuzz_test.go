package ptops

import (
	"testing"

	"github.com/stretchr/testify/require"

	"pvsim/mmu"
	"pvsim/pin"
)

// The fuzzed guest works on a small pool of frames so that random requests
// often meet: the boot tables, would-be tables, and data frames.
var fuzzPool = []uint64{1, 2, 3, 4, 20, 21, 22, 23, 100, 101, 102, 103, hvFrame}

// Entry indexes worth hitting: the boot layout's, a hypervisor slot, edges.
var fuzzIndex = []int{0, 1, 2, 20, 21, 100, 256, 510, 511}

// maxFuzzOps bounds a sequence: every step snapshots the whole domain.
const maxFuzzOps = 64

// FuzzRequests applies a random sequence of pagetable requests, as a guest
// could issue them, and checks after each that a refused request changed
// nothing and that the audit finds every invariant intact.
func FuzzRequests(f *testing.F) {
	f.Add([]byte{6, 4, 0, 0, 5, 4, 8, 3, 2, 4, 0, 3})
	f.Add([]byte{0, 3, 6, 0, 0, 1, 8, 1, 2, 0, 3, 4, 4, 0, 4, 0})
	f.Add([]byte{6, 4, 0, 0, 6, 5, 0, 0, 5, 4, 8, 0x27, 5, 5, 4, 3, 2, 4, 0, 3, 4, 4, 0, 0})
	f.Add([]byte{1, 9, 3, 3, 0, 2, 7, 0x83, 2, 3, 1, 0, 3, 3, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4*maxFuzzOps {
			data = data[:4*maxFuzzOps]
		}
		fx := newFixture(t)
		for len(data) >= 4 {
			op, a, b, c := data[0], data[1], data[2], data[3]
			data = data[4:]
			pfn := fuzzPool[int(a)%len(fuzzPool)]
			target := fuzzPool[int(b)%len(fuzzPool)]
			index := fuzzIndex[int(b>>4)%len(fuzzIndex)]
			val := mmu.MakePTE(target, mmu.PTE(c)&0x87) // P, W, U, PSE
			before := fx.snapshot()
			var err error
			switch op % 7 {
			case 0:
				err = UpdateEntry(fx.c, pfn<<mmu.PageShift+uint64(index)*8, val, c&0x40 != 0)
			case 1:
				err = UpdateVAMapping(fx.c, va(pfn), val, uint64(c>>4)&7)
			case 2:
				err = pin.Pin(fx.ft, pfn, mmu.FrameType(1+b%4), fx.x)
			case 3:
				err = pin.Unpin(fx.ft, pfn)
			case 4:
				err = NewBasePtr(fx.c, pfn)
			case 5:
				// The guest writes a frame it may write: one that is not a
				// pagetable and is mapped writable.
				if fr := fx.ft.Frame(pfn); fr != nil && fr.Type == mmu.TypeWritable {
					fx.put(pfn, index, val)
				}
				continue
			case 6:
				// Map pfn read-only, as before using it as a table.
				err = UpdateVAMapping(fx.c, va(pfn), mmu.MakePTE(pfn, rw&^mmu.PTEWritable), 0)
			}
			if err != nil {
				require.Equal(t, before, fx.snapshot(), "refused request (%v) changed state", err)
			}
			fx.audit(t)
		}
	})
}
