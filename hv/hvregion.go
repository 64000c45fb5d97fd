package hv

import (
	"encoding/binary"
	"fmt"

	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/xen"
)

// Virtual layout of the hypervisor region. It lives in Xen's reserved range
// (L4 slots 256..271, copied into every guest L4), from slot 257: on
// kvm_pvm, CPL3 accesses to slot 256 fault (a read of RAM there raises #PF
// with the reserved bit set, a store to the doorbell there a not-present
// #PF; measured), and the doorbell must be reachable from CPL3. Xen keeps
// its read-only machine-to-phys table in slot 256; pvsim provides none.
// Every leaf in the region is supervisor-only, except the doorbell.
const (
	hvTextVA     = xen.HypervisorVirtStart + 1<<39 // slot 257: exception entry stubs
	hvIDTVA      = hvTextVA + 0x10000
	hvDoorbellVA = hvTextVA + 0x20000
	hvPerCPUVA   = hvTextVA + 0x100000 // one perCPUSpan per vCPU
	perCPUSpan   = 0x40000

	// Offsets inside one vCPU's area.
	cpuGDTOff     = 0x00000 // 16 pages: 14 guest GDT pages, then Xen's reserved page
	cpuTSSOff     = 0x10000
	cpuStackOff   = 0x20000 // CPL0 stack, TSS.RSP0 points at its top
	cpuStackPages = 8
	cpuISTOff     = 0x30000 // stack for #DF, NMI and #MC (IST1)
	cpuISTPages   = 2

	// hvAliasVA is where the hypervisor maps every guest frame read-write
	// for the executor: Xen's direct map, L4 slot 262.
	hvAliasVA = 0xffff830000000000

	// MaxVCPUs is how many vCPUs a domain may have.
	MaxVCPUs = 8

	// trapPort is the I/O port the exception stubs write to exit to the VMM.
	trapPort = 0xe0

	gdtLimit = xen.FirstReservedGDTByte + mmu.PageSize - 1
	tssLimit = 0x67
)

func cpuAreaVA(cpu int) uint64 { return hvPerCPUVA + uint64(cpu)*perCPUSpan }
func cpuGDTVA(cpu int) uint64  { return cpuAreaVA(cpu) + cpuGDTOff }
func cpuTSSVA(cpu int) uint64  { return cpuAreaVA(cpu) + cpuTSSOff }
func cpuStackTop(cpu int) uint64 {
	return cpuAreaVA(cpu) + cpuStackOff + cpuStackPages*mmu.PageSize
}
func cpuISTTop(cpu int) uint64 { return cpuAreaVA(cpu) + cpuISTOff + cpuISTPages*mmu.PageSize }

// Exception entry stubs. Vector v enters at hvTextVA + v*stubSize; the stub
// pushes a zero error code where the CPU pushes none, then the vector, and
// jumps to the common tail, which exits to the VMM with `out %al, $trapPort`.
// When the VMM resumes the vCPU, the tail drops vector and error code and
// returns with iretq. The VMM finds the frame at RSP:
// vector, error code, RIP, CS, RFLAGS, RSP, SS.
const (
	stubSize      = 16
	nrStubs       = 32
	stubCommonOff = nrStubs * stubSize
)

// vectorHasErrorCode reports whether the CPU pushes an error code for vector.
func vectorHasErrorCode(v int) bool {
	switch v {
	case 8, 10, 11, 12, 13, 14, 17, 21, 29, 30:
		return true
	}
	return false
}

func buildStubs(text []byte) {
	for v := 0; v < nrStubs; v++ {
		s := text[v*stubSize:]
		n := 0
		if !vectorHasErrorCode(v) {
			n += copy(s[n:], []byte{0x6a, 0x00}) // push $0
		}
		n += copy(s[n:], []byte{0x6a, byte(v)}) // push $v
		s[n] = 0xe9                             // jmp rel32 to the common tail
		binary.LittleEndian.PutUint32(s[n+1:], uint32(int32(stubCommonOff-(v*stubSize+n+5))))
	}
	copy(text[stubCommonOff:], []byte{
		0xe6, trapPort, // out %al, $trapPort
		0x48, 0x83, 0xc4, 0x10, // add $16, %rsp
		0x48, 0xcf, // iretq
	})
}

// idtGate encodes a 64-bit interrupt gate to handler through __HYPERVISOR_CS.
func idtGate(handler uint64, ist, dpl int) (lo, hi uint64) {
	lo = handler&0xffff | uint64(xen.HypervisorCS)<<16 | uint64(ist)<<32 |
		uint64(0x8e|dpl<<5)<<40 | (handler>>16&0xffff)<<48
	return lo, handler >> 32
}

// Xen's reserved GDT page, as the x86-64 hypervisor lays it out. Accessed
// bits are preset so that the CPU never writes the descriptors.
var reservedGDT = map[int]uint64{
	xen.HypervisorCS:   0x00af9b000000ffff, // ring 0 code, 64-bit
	xen.HypervisorDS32: 0x00cf93000000ffff, // ring 0 data
	xen.FlatRing3CS32:  0x00cffb000000ffff, // ring 3 code, compatibility
	xen.FlatRing3DS32:  0x00cff3000000ffff, // ring 3 data
	xen.FlatRing3CS64:  0x00affb000000ffff, // ring 3 code, 64-bit
	xen.HypervisorCS32: 0x00cf9b000000ffff, // ring 0 code, compatibility
}

// hvRegion is the built hypervisor region of one domain.
type hvRegion struct {
	// template is the hypervisor's L4: its slots 256..271 are copied into
	// every guest L4.
	template *ptBuilder
}

// buildHVRegion lays out the hypervisor region for nvcpus vCPUs in the
// hypervisor frames of mem.
func buildHVRegion(mem *physMem, nvcpus int) (*hvRegion, error) {
	next := mem.hvBase >> mmu.PageShift
	last := (mem.hvBase + uint64(len(mem.hv))) >> mmu.PageShift
	alloc := func() (uint64, error) {
		if next == last {
			return 0, fmt.Errorf("hypervisor region exhausted (%d KiB)", len(mem.hv)>>10)
		}
		next++
		return next - 1, nil
	}
	pt, err := newPTBuilder(mem, mmu.PTEPresent|mmu.PTEWritable|mmu.PTEUser|mmu.PTEAccessed, alloc)
	if err != nil {
		return nil, err
	}
	const (
		ro = mmu.PTEPresent | mmu.PTEAccessed
		rw = ro | mmu.PTEWritable | mmu.PTEDirty | mmu.PTENX
	)
	page := func(va uint64, flags mmu.PTE) ([]byte, error) {
		pfn, err := alloc()
		if err != nil {
			return nil, err
		}
		return mem.frame(pfn), pt.mapPage(va, pfn, flags)
	}

	text, err := page(hvTextVA, ro)
	if err != nil {
		return nil, err
	}
	buildStubs(text)
	copy(text[execCodeOff:], executorCode())
	copy(text[trapCmpXchgOff:], trapCmpXchgCode)
	copy(text[clearFlagsOff:], clearFlagsCode)

	idt, err := page(hvIDTVA, ro|mmu.PTENX)
	if err != nil {
		return nil, err
	}
	for v := 0; v < nrStubs; v++ {
		ist := 0
		if v == 2 || v == 8 || v == 18 {
			ist = 1
		}
		lo, hi := idtGate(hvTextVA+uint64(v*stubSize), ist, 0)
		binary.LittleEndian.PutUint64(idt[v*16:], lo)
		binary.LittleEndian.PutUint64(idt[v*16+8:], hi)
	}
	for _, g := range []struct {
		vector int
		off    uint64
	}{{execVector, execCodeOff}, {clearFlagsVector, clearFlagsOff}} {
		lo, hi := idtGate(hvTextVA+g.off, 0, 0)
		binary.LittleEndian.PutUint64(idt[g.vector*16:], lo)
		binary.LittleEndian.PutUint64(idt[g.vector*16+8:], hi)
	}

	// The executor's alias of every guest frame.
	for pfn := uint64(0); pfn < mem.nrPages(); pfn++ {
		if err := pt.mapPage(hvAliasVA+pfn<<mmu.PageShift, pfn, rw); err != nil {
			return nil, err
		}
	}

	// The doorbell maps an unbacked frame: every store to it is an MMIO exit.
	if err := pt.mapPage(hvDoorbellVA, mem.doorbell>>mmu.PageShift,
		mmu.PTEPresent|mmu.PTEWritable|mmu.PTEUser|mmu.PTENX); err != nil {
		return nil, err
	}

	zero, err := alloc()
	if err != nil {
		return nil, err
	}
	for cpu := 0; cpu < nvcpus; cpu++ {
		// The guest part of the GDT is not supported yet (no set_gdt): it
		// reads as null descriptors.
		for i := 0; i < xen.FirstReservedGDTPage; i++ {
			if err := pt.mapPage(cpuGDTVA(cpu)+uint64(i)*mmu.PageSize, zero, ro|mmu.PTENX); err != nil {
				return nil, err
			}
		}
		gdt, err := page(cpuGDTVA(cpu)+xen.FirstReservedGDTByte, rw)
		if err != nil {
			return nil, err
		}
		for sel, d := range reservedGDT {
			binary.LittleEndian.PutUint64(gdt[sel&^7-xen.FirstReservedGDTByte:], d)
		}
		tss := cpuTSSVA(cpu)
		tssOff := xen.TSSSelector - xen.FirstReservedGDTByte
		binary.LittleEndian.PutUint64(gdt[tssOff:], tssLimit|(tss&0xffffff)<<16|0x8b<<40|(tss>>24&0xff)<<56)
		binary.LittleEndian.PutUint64(gdt[tssOff+8:], tss>>32)
		// Per-CPU entry: a present, empty data segment whose limit is the CPU number.
		binary.LittleEndian.PutUint64(gdt[xen.PerCPUSelector-xen.FirstReservedGDTByte:], 0x0000910000000000|uint64(cpu))

		t, err := page(tss, rw)
		if err != nil {
			return nil, err
		}
		binary.LittleEndian.PutUint64(t[4:], cpuStackTop(cpu)) // RSP0
		binary.LittleEndian.PutUint64(t[36:], cpuISTTop(cpu))  // IST1
		binary.LittleEndian.PutUint16(t[102:], tssLimit+1)     // no I/O bitmap
		for i := 0; i < cpuStackPages; i++ {
			if _, err := page(cpuAreaVA(cpu)+cpuStackOff+uint64(i)*mmu.PageSize, rw); err != nil {
				return nil, err
			}
		}
		for i := 0; i < cpuISTPages; i++ {
			if _, err := page(cpuAreaVA(cpu)+cpuISTOff+uint64(i)*mmu.PageSize, rw); err != nil {
				return nil, err
			}
		}
		if _, err := page(cpuAreaVA(cpu)+cmdBlockOff, rw); err != nil {
			return nil, err
		}
	}
	return &hvRegion{template: pt}, nil
}

// installInto copies the reserved L4 slots into a guest L4 being built.
func (r *hvRegion) installInto(guest *ptBuilder) {
	for slot := xen.FirstReservedL4Slot; slot <= xen.LastReservedL4Slot; slot++ {
		guest.setL4Entry(slot, r.template.l4Entry(slot))
	}
}

// hvSymbol names an address inside the hypervisor region, for reports.
func hvSymbol(va uint64) (string, bool) {
	switch {
	case va >= hvTextVA && va < hvTextVA+stubCommonOff:
		v := int(va-hvTextVA) / stubSize
		return fmt.Sprintf("hv_entry_%s+%#x", vectorMnemonic(v), (va-hvTextVA)%stubSize), true
	case va >= hvTextVA+clearFlagsOff && va < hvTextVA+clearFlagsOff+uint64(len(clearFlagsCode)):
		return fmt.Sprintf("hv_clear_pte_flags+%#x", va-hvTextVA-clearFlagsOff), true
	case va >= hvTextVA+trapCmpXchgOff && va < hvTextVA+trapCmpXchgOff+uint64(len(trapCmpXchgCode)):
		return fmt.Sprintf("hv_trap_cmpxchg+%#x", va-hvTextVA-trapCmpXchgOff), true
	case va >= hvTextVA+stubCommonOff && va < hvTextVA+execCodeOff:
		return fmt.Sprintf("hv_entry_common+%#x", va-hvTextVA-stubCommonOff), true
	case va >= hvTextVA+execCodeOff && va < hvTextVA+mmu.PageSize:
		return fmt.Sprintf("hv_executor+%#x", va-hvTextVA-execCodeOff), true
	case va >= xen.HypervisorVirtStart && va < xen.HypervisorVirtEnd:
		return fmt.Sprintf("hypervisor+%#x", va-xen.HypervisorVirtStart), true
	}
	return "", false
}
