package mmu

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Xen's adjust_guest_lNe for a 64-bit PV guest, entry by entry.
func TestAdjustGuestEntry(t *testing.T) {
	const p, w, u, a = PTEPresent, PTEWritable, PTEUser, PTEAccessed
	for _, tt := range []struct {
		name  string
		level Level
		in    PTE
		want  PTE
	}{
		{"not present: untouched", 1, MakePTE(5, w|u), MakePTE(5, w|u)},
		{"L1 kernel mapping: user, marked kernel", 1, MakePTE(5, p|w), MakePTE(5, p|w|u|PTEGuestKernel)},
		{"L1 user mapping: made global", 1, MakePTE(5, p|u), MakePTE(5, p|u|PTEGlobal)},
		{"L1 already adjusted kernel mapping: unchanged", 1, MakePTE(5, p|u|PTEGuestKernel), MakePTE(5, p|u|PTEGuestKernel)},
		{"L1 already adjusted user mapping: unchanged", 1, MakePTE(5, p|u|PTEGlobal), MakePTE(5, p|u|PTEGlobal)},
		{"L2: user", 2, MakePTE(5, p|w), MakePTE(5, p|w|u)},
		{"L3: user", 3, MakePTE(5, p), MakePTE(5, p|u)},
		{"L4: user and accessed", 4, MakePTE(5, p|w), MakePTE(5, p|w|u|a)},
		{"L2 not present: untouched", 2, MakePTE(5, w), MakePTE(5, w)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := AdjustGuestEntry(tt.level, tt.in)
			assert.Equal(t, tt.want, got, "got %v", got)
			assert.Equal(t, got, AdjustGuestEntry(tt.level, got), "adjusting twice changes nothing")
		})
	}
}

// Xen's check_descriptor for a 64-bit PV guest.
func TestCheckDescriptor(t *testing.T) {
	const (
		code64DPL0 = 0x00af9a000000ffff // present, S, code, L, DPL 0
		code64DPL3 = 0x00affa000000ffff
		data32DPL1 = 0x00cfb2000000ffff // DPL 1
		data32DPL3 = 0x00cff2000000ffff
		ldt        = 0x0000820000000000 // present system descriptor, type 2 (LDT)
		tss        = 0x0000890000000000 // available 64-bit TSS
		gateHigh   = 0x00000000ffffffff // upper half of a 64-bit gate: type 0
	)
	gate := func(sel uint16, dpl uint64, reserved uint64) uint64 {
		// 64-bit call gate: offset 15:0 in bits 0..15, selector in 16..31,
		// type 0xc, P, DPL.
		return 0x1234 | uint64(sel)<<16 | 0xc<<40 | 1<<47 | dpl<<45 | reserved<<32
	}
	for _, tt := range []struct {
		name string
		in   uint64
		want uint64
		ok   bool
	}{
		{"not present: anything goes", 0x0000_1234_5678_9abc &^ (1 << 47), 0x0000_1234_5678_9abc &^ (1 << 47), true},
		{"64-bit code at DPL 0 is raised to DPL 3", code64DPL0, code64DPL3, true},
		{"data at DPL 1 is raised to DPL 3", data32DPL1, data32DPL3, true},
		{"data at DPL 3 is kept", data32DPL3, data32DPL3, true},
		{"an LDT descriptor is refused", ldt, 0, false},
		{"a TSS is refused", tss, 0, false},
		{"type 0 (a gate's upper half) passes as it is", gateHigh | 1<<47, gateHigh | 1<<47, true},
		{"a call gate to a guest selector: DPL into RPL", gate(0x10, 3, 0), gate(0x13, 0, 0), true},
		{"a call gate to FLAT_KERNEL_CS", gate(0xe033, 3, 0), gate(0xe033, 0, 0), true},
		{"a call gate to an LDT selector", gate(0xe00c, 3, 0), gate(0xe00f, 0, 0), true},
		{"a call gate to a hypervisor selector is refused", gate(0xe008, 3, 0), 0, false},
		{"a call gate with reserved bits set is refused", gate(0x10, 3, 1), 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := CheckDescriptor(tt.in)
			assert.Equal(t, tt.ok, ok)
			if ok {
				assert.Equal(t, tt.want, got, "got %#016x", got)
				again, ok := CheckDescriptor(got)
				assert.True(t, ok)
				assert.Equal(t, got, again, "an installed descriptor passes unchanged")
			}
		})
	}
}

// FuzzCheckDescriptor: whatever CheckDescriptor installs it accepts again
// unchanged, and it never grants a DPL below 3 or a usable call gate.
func FuzzCheckDescriptor(f *testing.F) {
	for _, d := range []uint64{0, 0x00af9a000000ffff, 0x00cf92000000ffff, 0x0000890000000000, 0x00008c0000101234, 0x0000ec00e0331234} {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, d uint64) {
		got, ok := CheckDescriptor(d)
		if !ok {
			return
		}
		again, ok := CheckDescriptor(got)
		if !ok || again != got {
			t.Fatalf("%#x installed as %#x, which is then %#x (%v)", d, got, again, ok)
		}
		b := uint32(got >> 32)
		if b&segPresent != 0 && b&segS != 0 && b>>13&3 != 3 {
			t.Fatalf("%#x installed as %#x: a segment below DPL 3", d, got)
		}
		if b&segPresent != 0 && b&segS == 0 && b&segType == segCallGate64 && b&segDPL != 0 {
			t.Fatalf("%#x installed as %#x: a call gate usable without emulation", d, got)
		}
	})
}
