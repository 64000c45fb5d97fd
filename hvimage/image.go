package hvimage

import (
	"encoding/binary"
	"fmt"

	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/physmem"
	"github.com/pvsim/pvsim/x86"
	"github.com/pvsim/pvsim/xen"
)

// ReservedGDT is Xen's reserved GDT page, as the x86-64 hypervisor lays it
// out, by selector.
var ReservedGDT = map[int]x86.Descriptor{
	xen.HypervisorCS:   x86.Code64(0),
	xen.HypervisorDS32: x86.Data(0),
	xen.FlatRing3CS32:  x86.Code32(3),
	xen.FlatRing3DS32:  x86.Data(3),
	xen.FlatRing3CS64:  x86.Code64(3),
	xen.HypervisorCS32: x86.Code32(0),
}

// Region is the built hypervisor region of one domain.
type Region struct {
	// template is the hypervisor's L4: its slots 256..271 are copied into
	// every guest L4.
	template *physmem.Tables
	// gdtEntries is, by vCPU, the physical address of the L1 entry that
	// maps the first page of its GDT; the others follow it.
	gdtEntries []uint64
	// ldtEntries is, by vCPU, the physical address of the L1 entry that
	// maps the first page of its LDT area.
	ldtEntries []uint64
	zeroPFN    uint64
	// m2p is the host view of the read-only M2P's pages (M2PVA).
	m2p [][]byte
}

// SetM2P fills the read-only M2P: frames below ram map to themselves
// (pvsim's pseudo-physical frames are the machine's), the others, the
// pages Xen keeps in its heap, to INVALID_M2P_ENTRY. It returns the
// table's extent, for XENMEM_machphys_mapping.
//
// Precondition: no vCPU runs.
func (r *Region) SetM2P(ram uint64) (vStart, vEnd, maxMFN uint64) {
	n := uint64(0)
	for _, b := range r.m2p {
		for off := 0; off < len(b); off += 8 {
			v := n
			if n >= ram {
				v = xen.InvalidM2PEntry
			}
			binary.LittleEndian.PutUint64(b[off:], v)
			n++
		}
	}
	return M2PVA, M2PVA + n*8, n - 1
}

// Build lays out the hypervisor region for nvcpus vCPUs (at most MaxVCPUs)
// in the hypervisor frames of mem.
//
// Precondition: no vCPU runs on mem.
func Build(mem *physmem.Memory, nvcpus int) (*Region, error) {
	next := mem.HVBase >> mmu.PageShift
	last := (mem.HVBase + uint64(len(mem.HV))) >> mmu.PageShift
	alloc := func() (uint64, error) {
		if next == last {
			return 0, fmt.Errorf("hypervisor region exhausted (%d KiB)", len(mem.HV)>>10)
		}
		next++
		return next - 1, nil
	}
	pt, err := physmem.NewTables(mem, mmu.PTEPresent|mmu.PTEWritable|mmu.PTEUser|mmu.PTEAccessed, alloc)
	if err != nil {
		return nil, err
	}
	const (
		ro = mmu.PTEPresent | mmu.PTEAccessed
		rw = ro | mmu.PTEWritable | mmu.PTEDirty | mmu.PTENX
	)
	r := &Region{}
	page := func(va uint64, flags mmu.PTE) ([]byte, error) {
		pfn, err := alloc()
		if err != nil {
			return nil, err
		}
		return mem.Frame(pfn), pt.Map(va, pfn, flags)
	}

	text, err := page(TextVA, ro)
	if err != nil {
		return nil, err
	}
	buildStubs(text)
	copy(text[execCodeOff:], executorCode())
	copy(text[trapCmpXchgOff:], trapCmpXchgCode)
	copy(text[trapCASIretOff:], trapCASIretCode)
	copy(text[clearFlagsOff:], clearFlagsCode)

	idt, err := page(IDTVA, ro|mmu.PTENX)
	if err != nil {
		return nil, err
	}
	gate := func(v int, g x86.Gate) {
		binary.LittleEndian.PutUint64(idt[v*16:], g.Lo)
		binary.LittleEndian.PutUint64(idt[v*16+8:], g.Hi)
	}
	for v := x86.Vector(0); v < NrStubs; v++ {
		ist := 0
		if v.UsesIST() {
			ist = 1
		}
		gate(int(v), x86.InterruptGate(TextVA+uint64(v)*stubSize, xen.HypervisorCS, ist, 0))
	}
	gate(ExecVector, x86.InterruptGate(TextVA+execCodeOff, xen.HypervisorCS, 0, 0))
	gate(ClearFlagsVector, x86.InterruptGate(TextVA+clearFlagsOff, xen.HypervisorCS, 0, 0))

	// The executor's alias of every guest frame.
	for pfn := uint64(0); pfn < mem.NrPages(); pfn++ {
		if err := pt.Map(AliasVA+pfn<<mmu.PageShift, pfn, rw); err != nil {
			return nil, err
		}
	}

	// The read-only M2P, one entry per frame of memory, readable by the
	// guest; SetM2P fills it.
	for off := uint64(0); off < mem.NrPages()*8; off += mmu.PageSize {
		b, err := page(M2PVA+off, ro|mmu.PTEUser|mmu.PTENX)
		if err != nil {
			return nil, err
		}
		r.m2p = append(r.m2p, b)
	}

	// The syscall transport's entry, the one code page the guest runs.
	sys, err := page(SyscallEntryVA, ro|mmu.PTEUser)
	if err != nil {
		return nil, err
	}
	copy(sys, SyscallEntryCode)

	// The doorbell maps an unbacked frame: every store to it is an MMIO exit.
	if err := pt.Map(DoorbellVA, mem.Doorbell>>mmu.PageShift,
		mmu.PTEPresent|mmu.PTEWritable|mmu.PTEUser|mmu.PTENX); err != nil {
		return nil, err
	}

	zero, err := alloc()
	if err != nil {
		return nil, err
	}
	r.template, r.zeroPFN = pt, zero
	for cpu := 0; cpu < nvcpus; cpu++ {
		if err := buildCPU(cpu, pt, page, zero); err != nil {
			return nil, err
		}
		// set_gdt maps the guest's frames into the GDT at run time, through
		// the executor: it reaches the L1 that maps them in the alias.
		pa, err := pt.EntryPA(CPUGDTVA(cpu))
		if err != nil {
			return nil, err
		}
		if err := r.aliasTable(pt, pa); err != nil {
			return nil, err
		}
		r.gdtEntries = append(r.gdtEntries, pa)

		// The LDT area starts unmapped: the first access to each page
		// faults, and the VMM maps the guest's LDT frame there (Xen's
		// shadow LDT). The executor reaches its L1 through the alias.
		for i := 0; i < LDTPages; i++ {
			if err := pt.Map(CPULDTVA(cpu)+uint64(i)*mmu.PageSize, zero, mmu.PTENX); err != nil {
				return nil, err
			}
		}
		pa, err = pt.EntryPA(CPULDTVA(cpu))
		if err != nil {
			return nil, err
		}
		if err := r.aliasTable(pt, pa); err != nil {
			return nil, err
		}
		r.ldtEntries = append(r.ldtEntries, pa)
	}
	return r, nil
}

// aliasTable maps the hypervisor frame that holds the entry at pa into
// the executor's alias. Mapping a frame again (vCPUs whose entries share
// an L1) writes the same entry.
func (r *Region) aliasTable(pt *physmem.Tables, pa uint64) error {
	return pt.Map(AliasVA+pa&^(mmu.PageSize-1), pa>>mmu.PageShift, mmu.PTEPresent|mmu.PTEAccessed|mmu.PTEWritable|mmu.PTEDirty|mmu.PTENX)
}

// LDTEntryPA is the physical address of the L1 entry that maps page i
// (0..LDTPages-1) of vCPU cpu's LDT area: what an LDT fault writes
// through the executor.
func (r *Region) LDTEntryPA(cpu, i int) uint64 { return r.ldtEntries[cpu] + uint64(i)*8 }

// LDTPageEntry is the L1 entry that maps guest frame pfn as an LDT page:
// read-write for the CPU, which sets descriptors' Accessed bits, and
// supervisor-only, as Xen maps a PV guest's LDT frames in its shadow
// area.
func LDTPageEntry(pfn uint64) mmu.PTE { return GDTPageEntry(pfn) }

// NoLDTPageEntry is the L1 entry of an LDT page not mapped yet.
func (r *Region) NoLDTPageEntry() mmu.PTE { return mmu.MakePTE(r.zeroPFN, mmu.PTENX) }

// GDTEntryPA is the physical address of the L1 entry that maps page i
// (0..xen.FirstReservedGDTPage-1) of vCPU cpu's GDT: what set_gdt writes
// through the executor.
func (r *Region) GDTEntryPA(cpu, i int) uint64 { return r.gdtEntries[cpu] + uint64(i)*8 }

// GDTPageEntry is the L1 entry that maps guest frame pfn as a GDT page:
// read-write for the CPU, which sets descriptors' Accessed bits, and
// supervisor-only, as Xen maps a PV guest's GDT frames in its own range.
func GDTPageEntry(pfn uint64) mmu.PTE {
	return mmu.MakePTE(pfn, mmu.PTEPresent|mmu.PTEAccessed|mmu.PTEWritable|mmu.PTEDirty|mmu.PTENX)
}

// UnusedGDTPageEntry is the L1 entry of a GDT page the guest gave no
// frame for: the zero page, read-only, so its selectors are not present.
func (r *Region) UnusedGDTPageEntry() mmu.PTE {
	return mmu.MakePTE(r.zeroPFN, mmu.PTEPresent|mmu.PTEAccessed|mmu.PTENX)
}

// buildCPU lays out vCPU cpu's area: GDT, TSS, CPL0 and IST stacks, and
// the executor's command block.
func buildCPU(cpu int, pt *physmem.Tables, page func(uint64, mmu.PTE) ([]byte, error), zero uint64) error {
	const (
		ro = mmu.PTEPresent | mmu.PTEAccessed
		rw = ro | mmu.PTEWritable | mmu.PTEDirty | mmu.PTENX
	)
	// The guest part of the GDT reads as null descriptors until set_gdt
	// maps the guest's frames there.
	for i := 0; i < xen.FirstReservedGDTPage; i++ {
		if err := pt.Map(CPUGDTVA(cpu)+uint64(i)*mmu.PageSize, zero, ro|mmu.PTENX); err != nil {
			return err
		}
	}
	gdt, err := page(CPUGDTVA(cpu)+xen.FirstReservedGDTByte, rw)
	if err != nil {
		return err
	}
	put := func(sel int, d x86.Descriptor) {
		binary.LittleEndian.PutUint64(gdt[sel&^7-xen.FirstReservedGDTByte:], uint64(d))
	}
	for sel, d := range ReservedGDT {
		put(sel, d)
	}
	tss := CPUTSSVA(cpu)
	lo, hi := x86.TSS64(tss, TSSLimit)
	put(xen.TSSSelector, lo)
	put(xen.TSSSelector+8, hi)
	put(xen.PerCPUSelector, x86.ReadOnlyData(0, uint32(cpu)))

	t, err := page(tss, rw)
	if err != nil {
		return err
	}
	binary.LittleEndian.PutUint64(t[4:], CPUStackTop(cpu)) // RSP0
	binary.LittleEndian.PutUint64(t[36:], cpuISTTop(cpu))  // IST1
	binary.LittleEndian.PutUint16(t[102:], TSSLimit+1)     // no I/O bitmap
	for i := 0; i < CPUStackPages; i++ {
		if _, err := page(CPUStackVA(cpu)+uint64(i)*mmu.PageSize, rw); err != nil {
			return err
		}
	}
	for i := 0; i < cpuISTPages; i++ {
		if _, err := page(CPUAreaVA(cpu)+cpuISTOff+uint64(i)*mmu.PageSize, rw); err != nil {
			return err
		}
	}
	_, err = page(CPUCmdBlockVA(cpu), rw)
	return err
}

// InstallInto copies the reserved L4 slots into a guest L4 being built.
func (r *Region) InstallInto(guest *physmem.Tables) {
	for slot := xen.FirstReservedL4Slot; slot <= xen.LastReservedL4Slot; slot++ {
		guest.SetL4Entry(slot, r.template.L4Entry(slot))
	}
}

// L4Entry is the entry every guest L4 has at reserved slot slot.
func (r *Region) L4Entry(slot int) mmu.PTE { return r.template.L4Entry(slot) }

// Symbol names an address inside the hypervisor region, for reports.
func Symbol(va uint64) (string, bool) {
	switch {
	case va >= TextVA && va < TextVA+stubCommonOff:
		v := x86.Vector((va - TextVA) / stubSize)
		return fmt.Sprintf("hv_entry_%s+%#x", v.Mnemonic(), (va-TextVA)%stubSize), true
	case va >= TextVA+clearFlagsOff && va < TextVA+clearFlagsOff+uint64(len(clearFlagsCode)):
		return fmt.Sprintf("hv_clear_pte_flags+%#x", va-TextVA-clearFlagsOff), true
	case va >= TextVA+trapCASIretOff && va < TextVA+trapCASIretOff+uint64(len(trapCASIretCode)):
		return fmt.Sprintf("hv_trap_cas_iret+%#x", va-TextVA-trapCASIretOff), true
	case va >= TextVA+trapCmpXchgOff && va < TextVA+trapCmpXchgOff+uint64(len(trapCmpXchgCode)):
		return fmt.Sprintf("hv_trap_cmpxchg+%#x", va-TextVA-trapCmpXchgOff), true
	case va >= TextVA+stubCommonOff && va < TextVA+execCodeOff:
		return fmt.Sprintf("hv_entry_common+%#x", va-TextVA-stubCommonOff), true
	case va >= TextVA+execCodeOff && va < TextVA+mmu.PageSize:
		return fmt.Sprintf("hv_executor+%#x", va-TextVA-execCodeOff), true
	case va >= xen.HypervisorVirtStart && va < xen.HypervisorVirtEnd:
		return fmt.Sprintf("hypervisor+%#x", va-xen.HypervisorVirtStart), true
	}
	return "", false
}
