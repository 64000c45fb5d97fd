package ptops

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/x86"
	"github.com/pvsim/pvsim/xen"
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
	f.Add([]byte{10, 8, 8, 0xb0, 11, 8, 8, 0xb0, 10, 0, 100, 0x05})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4*maxFuzzOps {
			data = data[:4*maxFuzzOps]
		}
		fx := newFixture(t)
		var gdt GDT
		var user uint64
		fx.c.UserBase = &user
		var ldt LDT
		fx.c.LDT = &ldt
		for len(data) >= 4 {
			op, a, b, c := data[0], data[1], data[2], data[3]
			data = data[4:]
			pfn := fuzzPool[int(a)%len(fuzzPool)]
			target := fuzzPool[int(b)%len(fuzzPool)]
			index := fuzzIndex[int(b>>4)%len(fuzzIndex)]
			val := mmu.MakePTE(target, mmu.PTE(c)&0x87) // P, W, U, PSE
			before := fx.snapshot()
			var err error
			// A refused unmap_and_replace keeps the entry it took (Xen's
			// replace_grant_pv_mapping): the one refusal that changes state.
			stealing := false
			switch op % 13 {
			case 0:
				err = UpdateEntry(fx.c, pfn<<mmu.PageShift+uint64(index)*8, val, c&0x40 != 0)
			case 1:
				err = UpdateVAMapping(fx.c, va(pfn), val, uint64(c>>4)&7)
			case 2:
				err = fx.ft.Pin(pfn, mmu.FrameType(1+b%4), fx.x)
			case 3:
				err = fx.ft.Unpin(pfn)
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
			case 7:
				var frames [xen.FirstReservedGDTPage]uint64
				for i := range frames {
					frames[i] = fuzzPool[(int(a)+i*int(b|1))%len(fuzzPool)]
				}
				err = SetGDT(fx.c, &gdt, testGDTMap{}, frames[:], uint32(c)*9%1100)
			case 8:
				// A descriptor from val's bits and c: present or not, any
				// type and DPL.
				err = UpdateDescriptor(fx.c, pfn<<mmu.PageShift+uint64(index)*8+uint64(c&8), uint64(val)|uint64(c)<<40)
			case 9:
				err = NewUserBasePtr(fx.c, pfn)
			case 12:
				err = SetLDT(fx.c, va(pfn)+uint64(c&8)<<8, uint32(b)<<6|uint32(c))
			case 10, 11:
				// A grant mapping of target (the grant table's part
				// assumed done): by PTE address, perhaps misaligned, or by
				// the linear address of pfn; map or unmap.
				flags := xen.GNTMAPHostMap | xen.GrantMapFlags(c)&(xen.GNTMAPReadonly|xen.GNTMAPApplicationMap) |
					xen.GrantMapFlags(c>>5)<<xen.GNTMAPGuestAvailShift
				addr := va(pfn)
				if c&0x10 != 0 {
					flags |= xen.GNTMAPContainsPTE
					addr = pfn<<mmu.PageShift + uint64(index)*8 + uint64(c&1)*2
				}
				unmap := op%13 == 11
				st := xen.GNTSTOkay
				if unmap {
					// Perhaps replacing it by the entry of another frame's
					// linear address.
					var newAddr uint64
					if c&0x08 != 0 {
						newAddr = va(fuzzPool[int(b)%len(fuzzPool)])
						stealing = flags&xen.GNTMAPContainsPTE == 0
					}
					st = ReplaceGrant(fx.c, addr, target, flags, newAddr)
				} else {
					st = MapGrant(fx.c, addr, target, flags)
				}
				if st != xen.GNTSTOkay {
					err = fmt.Errorf("grant: %v", st)
				}
			}
			if err != nil && !stealing {
				require.Equal(t, before, fx.snapshot(), "refused request (%v) changed state", err)
			}
			fx.audit(t)
		}
	})
}

// FuzzPTWrite feeds random instruction bytes, register values and entry
// values to the writable-pagetable emulator on the boot L1, and checks
// that it never panics, never leaves an entry the audit refuses, and
// changes nothing, registers included, when it declines.
func FuzzPTWrite(f *testing.F) {
	f.Add([]byte{0xf0, 0x48, 0x0f, 0xba, 0x37, 0x05}, uint64(0x27), uint16(100), uint8(0))
	f.Add([]byte{0x48, 0x87, 0x37}, uint64(0x25), uint16(20), uint8(2))
	f.Add([]byte{0xf0, 0x48, 0x0f, 0xb1, 0x37}, uint64(0x67), uint16(101), uint8(1))
	f.Add([]byte{0xf0, 0x0f, 0xba, 0x6f, 0x04, 0x1f}, uint64(0), uint16(3), uint8(4))
	f.Add([]byte{0x48, 0x89, 0x0f}, uint64(0x8000000000000027), uint16(4), uint8(0))
	f.Add([]byte{0xf0, 0x48, 0x31, 0x17}, uint64(0x602), uint16(100), uint8(0))
	f.Fuzz(func(t *testing.T, code []byte, val uint64, index uint16, sel uint8) {
		fx := newFixture(t)
		entry := uint64(base + bootL1<<mmu.PageShift + uint64(index%512)*8)
		cur := fx.entry(bootL1, int(index%512))
		var regs Regs
		for i := range regs.GPR {
			regs.GPR[i] = val + uint64(i)
		}
		// Values worth writing: a pool frame with val's flags, val itself,
		// and the current entry for CMPXCHG to match.
		regs.GPR[rsi] = uint64(mmu.MakePTE(fuzzPool[int(val>>12)%len(fuzzPool)], mmu.PTE(val)&0x8000000000000fff))
		regs.GPR[rcx] = val
		if sel&1 != 0 {
			regs.GPR[rax] = uint64(cur)
		}
		regs.GPR[rdi] = entry
		regs.RIP, regs.RFLAGS, regs.FSBase = ripAt, 0x202|uint64(sel)&0xd5, entry
		cr2 := entry + uint64(sel>>1&1)*4
		errorCode := uint64(PTWriteError | x86.PFUser)
		if sel&0x80 != 0 {
			errorCode = uint64(sel>>3) & 0x1f
		}
		before, regsBefore := fx.snapshot(), regs
		w, err := EmulatePTWrite(fx.c, &regs, cr2, errorCode, code)
		if err != nil {
			require.Equal(t, before, fx.snapshot(), "declined write (%v) changed state", err)
			require.Equal(t, regsBefore, regs, "declined write (%v) changed registers", err)
			return
		}
		require.Greater(t, regs.RIP, uint64(ripAt), "rip did not advance")
		require.Equal(t, w.New, fx.entry(bootL1, int(cr2-base-bootL1<<mmu.PageShift)/8))
		fx.audit(t)
	})
}
