// Package builder is pvsim's PV domain builder, the role of Xen's
// libxenguest (xc_dom_*): it reads a kernel's ELF image and Xen notes,
// loads it into a domain's memory, and lays out the start of day as Xen's
// builder does (xen/include/public/xen.h, "start of day memory layout"):
// the frame list, start_info, the shared info page, the bootstrap
// pagetables with the hypervisor region installed, the hypercall page and
// the bootstrap stack. It runs before any vCPU exists and never touches
// KVM.
package builder

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/pvsim/pvsim/gnttab"
	"github.com/pvsim/pvsim/hvimage"
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/physmem"
	"github.com/pvsim/pvsim/xen"
)

// KernelError reports a guest kernel image the domain builder refuses.
type KernelError struct {
	Name   string
	Reason string
}

func (e *KernelError) Error() string { return fmt.Sprintf("kernel %s: %s", e.Name, e.Reason) }

// XenNotes are the Xen ELF notes the builder uses (XEN_ELFNOTE_*).
type XenNotes struct {
	Entry, HypercallPage, VirtBase, PaddrOffset             uint64
	HasEntry, HasHypercallPage, HasVirtBase, HasPaddrOffset bool
	GuestOS, Loader                                         string
	// Features is the FEATURES note, as written ("a|!b|...").
	Features string
}

// ParseXenNotes reads the "Xen" notes from the PT_NOTE segments, or from
// SHT_NOTE sections when there are none, as Xen's libelf does.
func ParseXenNotes(f *elf.File) (XenNotes, error) {
	var n XenNotes
	var blobs [][]byte
	for _, p := range f.Progs {
		if p.Type == elf.PT_NOTE {
			b, err := io.ReadAll(p.Open())
			if err != nil {
				return n, fmt.Errorf("reading PT_NOTE: %v", err)
			}
			blobs = append(blobs, b)
		}
	}
	if len(blobs) == 0 {
		for _, s := range f.Sections {
			if s.Type == elf.SHT_NOTE {
				b, err := s.Data()
				if err != nil {
					return n, fmt.Errorf("reading %s: %v", s.Name, err)
				}
				blobs = append(blobs, b)
			}
		}
	}
	for _, b := range blobs {
		err := walkNotes(b, func(name string, typ uint32, desc []byte) error {
			if name != "Xen" {
				return nil
			}
			num := func() (uint64, error) {
				switch len(desc) {
				case 4:
					return uint64(binary.LittleEndian.Uint32(desc)), nil
				case 8:
					return binary.LittleEndian.Uint64(desc), nil
				}
				return 0, fmt.Errorf("Xen note %d: numeric value of %d bytes", typ, len(desc))
			}
			var err error
			switch typ {
			case xen.ElfNoteEntry:
				n.Entry, err = num()
				n.HasEntry = true
			case xen.ElfNoteHypercallPage:
				n.HypercallPage, err = num()
				n.HasHypercallPage = true
			case xen.ElfNoteVirtBase:
				n.VirtBase, err = num()
				n.HasVirtBase = true
			case xen.ElfNotePaddrOffset:
				n.PaddrOffset, err = num()
				n.HasPaddrOffset = true
			case xen.ElfNoteGuestOS:
				n.GuestOS = string(bytes.TrimRight(desc, "\x00"))
			case xen.ElfNoteLoader:
				n.Loader = string(bytes.TrimRight(desc, "\x00"))
			case xen.ElfNoteFeatures:
				n.Features = string(bytes.TrimRight(desc, "\x00"))
			}
			return err
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// walkNotes calls fn for each ELF note in b.
func walkNotes(b []byte, fn func(name string, typ uint32, desc []byte) error) error {
	align4 := func(x uint64) uint64 { return (x + 3) &^ 3 }
	for len(b) > 0 {
		if len(b) < 12 {
			return errors.New("truncated note header")
		}
		namesz := uint64(binary.LittleEndian.Uint32(b))
		descsz := uint64(binary.LittleEndian.Uint32(b[4:]))
		typ := binary.LittleEndian.Uint32(b[8:])
		b = b[12:]
		if align4(namesz) > uint64(len(b)) || align4(namesz)+align4(descsz) > uint64(len(b)) {
			return errors.New("note extends past its segment")
		}
		name := string(bytes.TrimRight(b[:namesz], "\x00"))
		desc := b[align4(namesz) : align4(namesz)+descsz]
		if err := fn(name, typ, desc); err != nil {
			return err
		}
		b = b[align4(namesz)+align4(descsz):]
	}
	return nil
}

// Boot is what the builder hands to the domain: the registers vCPU0
// starts with and the facts later hypercalls check against.
type Boot struct {
	// Entry, StackTop and StartInfoVA are vCPU0's RIP, RSP and RSI.
	Entry, StackTop, StartInfoVA uint64
	// L4 is the pfn of the initial L4, and PTFrames every frame of the
	// bootstrap pagetables, L4 first.
	L4       uint64
	PTFrames []uint64
	// SharedInfo is the pfn of the shared info page: the first frame
	// after the domain's RAM. Xen keeps it in its heap, outside the
	// domain's RAM and its M2P, and so does pvsim; unlike Xen's builder,
	// pvsim's maps it, after RAM, at virt_base + pfn*4096.
	SharedInfo uint64
	// Store and Console are the pfns of the xenstore and PV console rings
	// (start_info's store_mfn and console.domU.mfn), whose event channels
	// are StorePort and ConsolePort.
	Store, Console uint64
	// NrPages is the domain's RAM in frames (start_info's nr_pages).
	NrPages uint64
	// GrantFrames are the pfns of the grant table's frames, the
	// gnttab.MaxFrames frames after the shared info page. Xen keeps them
	// in its heap, outside the domain's RAM, as they are here; they are
	// not in the M2P (INVALID_M2P_ENTRY), and the hypervisor holds them
	// writable for good.
	GrantFrames []uint64
}

// TestGuestOS is the GUEST_OS of pvsim's own test kernels: the builder
// maps all of their RAM at virt_base (Build).
const TestGuestOS = "pvsim-test"

// ExtraFrames is the frames a domain's memory has beyond its RAM: the
// shared info page and the grant table's (Xen's heap pages shared with
// the guest).
const ExtraFrames = 1 + gnttab.MaxFrames

// StorePort and ConsolePort are the event channels start_info names for
// the xenstore and console rings: those a toolstack allocates first for a
// new domain (xl: the store's, then the console's).
const (
	StorePort   = 1
	ConsolePort = 2
)

// Build loads kernel into mem and builds the initial address space the
// way Xen's PV domain builder does (xen/include/public/xen.h, "start of day
// memory layout"): the kernel image, the initial RAM disk if there is one
// (start_info's mod_start, a virtual address, and mod_len), the frame
// list, start_info, the xenstore and console rings, the bootstrap
// pagetables and the bootstrap stack, packed page after page from the
// image's base. RAM is mem but for
// its last ExtraFrames frames, the shared info page and the grant table's,
// which Xen keeps in its heap. The bootstrap region (for pvsim's own test
// kernels, every frame of RAM and the shared info page) is mapped at
// virt_base + pfn*4096, writable except the pagetable frames.
//
// Precondition: no vCPU runs on mem; hv is built in it.
func Build(mem *physmem.Memory, hv *hvimage.Region, name string, kernel, initrd []byte, cmdline string) (*Boot, error) {
	bad := func(format string, a ...any) error {
		return &KernelError{Name: name, Reason: fmt.Sprintf(format, a...)}
	}
	if !bytes.HasPrefix(kernel, []byte(elf.ELFMAG)) {
		return nil, bad("not an ELF file (no ELF magic in its first bytes)")
	}
	if len(kernel) > elf.EI_CLASS && elf.Class(kernel[elf.EI_CLASS]) != elf.ELFCLASS64 {
		return nil, bad("not an x86-64 ELF64 image (%v)", elf.Class(kernel[elf.EI_CLASS]))
	}
	f, err := elf.NewFile(bytes.NewReader(kernel))
	if err != nil {
		return nil, bad("malformed ELF: %v", err)
	}
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 || f.Data != elf.ELFDATA2LSB {
		return nil, bad("not an x86-64 ELF64 image (%v, %v)", f.Class, f.Machine)
	}
	if f.Type != elf.ET_EXEC {
		return nil, bad("ELF type %v, want a static executable (ET_EXEC)", f.Type)
	}
	notes, err := ParseXenNotes(f)
	if err != nil {
		return nil, bad("%v", err)
	}
	if err := checkFeatures(notes.Features); err != nil {
		return nil, bad("%v", err)
	}
	if len(cmdline) >= xen.MaxGuestCmdline {
		return nil, bad("command line is %d bytes, the limit is %d", len(cmdline), xen.MaxGuestCmdline-1)
	}
	if mem.NrPages() <= ExtraFrames {
		return nil, bad("%d frames of memory cannot hold the shared info page and the grant table", mem.NrPages())
	}
	// The domain's RAM; the shared info page and the grant table's
	// frames follow it.
	nrPages := mem.NrPages() - ExtraFrames
	sharedInfo := nrPages
	virtBase := notes.VirtBase
	paddrOffset := virtBase
	if notes.HasPaddrOffset {
		paddrOffset = notes.PaddrOffset
	}
	span := nrPages << mmu.PageShift
	if !mmu.Canonical(virtBase) || !mmu.Canonical(virtBase+span-1) || virtBase+span-1 < virtBase ||
		(virtBase < xen.HypervisorVirtEnd && virtBase+span > xen.HypervisorVirtStart) {
		return nil, bad("virt_base %#x cannot map %d MiB of memory outside the hypervisor's range", virtBase, span>>20)
	}

	// Load the PT_LOAD segments.
	imageEnd := uint64(0)
	loaded := 0
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD || p.Memsz == 0 {
			continue
		}
		// By p_paddr, as Xen's libelf (elf_load_binary) places segments;
		// p_vaddr is not read: Linux's per-CPU segment has p_vaddr 0.
		va := p.Paddr + virtBase - paddrOffset
		if p.Filesz > p.Memsz || va < virtBase || va-virtBase+p.Memsz > span || va+p.Memsz < va {
			return nil, bad("segment with p_paddr %#x (%#x bytes) does not fit in %d MiB of guest memory at %#x", p.Paddr, p.Memsz, span>>20, va)
		}
		dst := mem.Bytes(va-virtBase, p.Memsz)
		if _, err := io.ReadFull(p.Open(), dst[:p.Filesz]); err != nil {
			return nil, bad("segment at %#x: %v", va, err)
		}
		clear(dst[p.Filesz:])
		imageEnd = max(imageEnd, va-virtBase+p.Memsz)
		loaded++
	}
	if loaded == 0 {
		return nil, bad("no loadable segment")
	}
	entry := f.Entry
	if notes.HasEntry {
		entry = notes.Entry
	}
	if entry < virtBase || entry-virtBase >= imageEnd {
		return nil, bad("entry point %#x is outside the loaded image", entry)
	}

	// Bootstrap elements, each page-aligned, after the image.
	pageUp := func(x uint64) uint64 { return (x + mmu.PageSize - 1) &^ (mmu.PageSize - 1) }
	next := pageUp(imageEnd) >> mmu.PageShift
	take := func(pages uint64) (uint64, error) {
		if next+pages > nrPages {
			return 0, bad("image and bootstrap structures need more than %d MiB of memory", span>>20)
		}
		next += pages
		return next - pages, nil
	}
	ramdisk := uint64(0)
	if len(initrd) > 0 {
		if ramdisk, err = take(pageUp(uint64(len(initrd))) >> mmu.PageShift); err != nil {
			return nil, bad("the kernel and a %d-byte initial RAM disk need more than %d MiB of memory", len(initrd), span>>20)
		}
		copy(mem.Bytes(ramdisk<<mmu.PageShift, uint64(len(initrd))), initrd)
	}
	mfnList, err := take(pageUp(nrPages*8) >> mmu.PageShift)
	if err != nil {
		return nil, err
	}
	startInfo, err := take(1)
	if err != nil {
		return nil, err
	}
	// The xenstore and console rings, as the toolstack's builder places
	// them after start_info (libxc's alloc_magic_pages).
	store, err := take(1)
	if err != nil {
		return nil, err
	}
	console, err := take(1)
	if err != nil {
		return nil, err
	}
	pt, err := physmem.NewTables(mem, mmu.PTEPresent|mmu.PTEWritable|mmu.PTEUser|mmu.PTEAccessed, func() (uint64, error) { return take(1) })
	if err != nil {
		return nil, err
	}
	const rw = mmu.PTEPresent | mmu.PTEWritable | mmu.PTEUser | mmu.PTEAccessed | mmu.PTEDirty
	const stackPages = 4
	// What the bootstrap pagetables map at virt_base. For pvsim's own
	// test kernels, all of RAM and the shared info page after it (see
	// Boot.SharedInfo). For any other kernel, as Xen's builder, only the
	// bootstrap region: up to the bootstrap stack and at least 512 KiB
	// past it, rounded up to 4 MiB (libxenguest's count_pgtables),
	// counting the pagetables that map it; a stock Linux maps the rest of
	// RAM itself (mapped writable and executable by the builder, all of
	// it would be W+X to Linux's CONFIG_DEBUG_WX check).
	mapPages := sharedInfo + 1
	if notes.GuestOS != TestGuestOS {
		const fourMiB = (4 << 20) >> mmu.PageShift
		need := next + stackPages + (512<<10)>>mmu.PageShift
		need += need/512 + 8
		mapPages = min((need+fourMiB-1)/fourMiB*fourMiB, nrPages)
	}
	for pfn := range mapPages {
		if err := pt.Map(virtBase+pfn<<mmu.PageShift, pfn, rw); err != nil {
			return nil, err
		}
	}
	for _, pfn := range pt.Frames {
		if pfn >= mapPages {
			return nil, bad("the bootstrap pagetables end past the %d MiB they map", mapPages>>(20-mmu.PageShift))
		}
		if err := pt.SetFlags(virtBase+pfn<<mmu.PageShift, rw&^(mmu.PTEWritable|mmu.PTEDirty)); err != nil {
			return nil, err
		}
	}
	hv.InstallInto(pt)
	stack, err := take(stackPages)
	if err != nil {
		return nil, err
	}
	if nrPages-next < (512<<10)>>mmu.PageShift {
		return nil, bad("less than 512 KiB of memory left after the bootstrap structures")
	}
	if next > mapPages {
		return nil, bad("the bootstrap stack ends past the %d MiB the bootstrap pagetables map", mapPages>>(20-mmu.PageShift))
	}

	// Frame list: pseudo-physical = machine, one unsigned long per frame.
	list := mem.Bytes(mfnList<<mmu.PageShift, nrPages*8)
	for pfn := uint64(0); pfn < nrPages; pfn++ {
		binary.LittleEndian.PutUint64(list[pfn*8:], pfn)
	}

	si := mem.Frame(startInfo)
	copy(si[xen.StartInfoMagicOff:], xen.StartInfoMagic)
	put := func(off int, v uint64) { binary.LittleEndian.PutUint64(si[off:], v) }
	put(xen.StartInfoNrPages, nrPages)
	put(xen.StartInfoSharedInfo, sharedInfo<<mmu.PageShift)
	put(xen.StartInfoStoreMFN, store)
	put(xen.StartInfoStoreEvtchn, StorePort)
	put(xen.StartInfoConsoleMFN, console)
	put(xen.StartInfoConsoleEvtchn, ConsolePort)
	put(xen.StartInfoPtBase, virtBase+pt.Root<<mmu.PageShift)
	put(xen.StartInfoNrPtFrames, uint64(len(pt.Frames)))
	put(xen.StartInfoMFNList, virtBase+mfnList<<mmu.PageShift)
	copy(si[xen.StartInfoCmdLine:xen.StartInfoCmdLine+xen.MaxGuestCmdline-1], cmdline)
	if len(initrd) > 0 {
		put(xen.StartInfoModStart, virtBase+ramdisk<<mmu.PageShift)
		put(xen.StartInfoModLen, uint64(len(initrd)))
	}

	if notes.HasHypercallPage {
		hp := notes.HypercallPage
		if hp&(mmu.PageSize-1) != 0 || hp < virtBase || hp-virtBase+mmu.PageSize > imageEnd {
			return nil, bad("hypercall page %#x is not a page inside the image", hp)
		}
		hvimage.FillHypercallPage(mem.Bytes(hp-virtBase, mmu.PageSize))
	}

	grantFrames := make([]uint64, gnttab.MaxFrames)
	for i := range grantFrames {
		grantFrames[i] = sharedInfo + 1 + uint64(i)
	}

	return &Boot{
		Entry:       entry,
		StackTop:    virtBase + (stack+stackPages)<<mmu.PageShift,
		StartInfoVA: virtBase + startInfo<<mmu.PageShift,
		L4:          pt.Root,
		PTFrames:    pt.Frames,
		SharedInfo:  sharedInfo,
		Store:       store,
		Console:     console,
		NrPages:     nrPages,
		GrantFrames: grantFrames,
	}, nil
}

// Validate puts the bootstrap pagetables under the frame table's type
// system, as Xen's builder does: the L4 is validated and pinned, vCPU0's
// CR3 holds a type reference on it, and the shared info page and the
// xenstore and console rings are held writable for good. The host makes any store validation needs
// (physmem.BootExecutor); the builder installed the hypervisor's slots
// already, so it makes none.
//
// Precondition: no vCPU has run; ft is the domain's, over mem, with its
// reserved L4 entries set.
func (b *Boot) Validate(ft *mmu.FrameTable, mem *physmem.Memory) error {
	x := physmem.BootExecutor{Mem: mem}
	if err := ft.Pin(b.L4, mmu.TypeL4, x); err != nil {
		return fmt.Errorf("validating the boot pagetables: %w", err)
	}
	if err := ft.GetPageAndType(b.L4, mmu.TypeL4, x); err != nil {
		return err
	}
	for _, pfn := range append([]uint64{b.SharedInfo, b.Store, b.Console}, b.GrantFrames...) {
		// The hypervisor writes these pages itself (the rings as their
		// backends would): they must never become pagetables.
		if err := ft.HoldWritable(pfn); err != nil {
			return fmt.Errorf("holding frame %#x (shared info, a ring or the grant table): %w", pfn, err)
		}
	}
	if v := ft.Audit([]uint64{b.L4 << mmu.PageShift}, 1); len(v) > 0 {
		return fmt.Errorf("boot pagetables fail the audit: %v", v[0])
	}
	return nil
}
