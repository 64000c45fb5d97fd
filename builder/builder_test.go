package builder

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/gnttab"
	"github.com/pvsim/pvsim/hvimage"
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/physmem"
	"github.com/pvsim/pvsim/xen"
)

// testELF describes a synthetic kernel image for the builder tests.
type testELF struct {
	class, machine, typ byte
	vaddr, paddr        uint64
	code                []byte
	memsz               uint64 // 0: len(code)
	entry               uint64
	notes               map[uint32]uint64 // Xen note type -> 8-byte value
	guestOS             string            // XEN_ELFNOTE_GUEST_OS, if not empty
}

const testBase = 0xffffffff80000000

func goodELF() testELF {
	return testELF{
		class: 2, machine: 62, typ: 2, vaddr: testBase, paddr: 0,
		code: make([]byte, 3*mmu.PageSize), entry: testBase + 0x10,
		notes: map[uint32]uint64{
			xen.ElfNoteEntry: testBase + 0x10, xen.ElfNoteHypercallPage: testBase + mmu.PageSize,
			xen.ElfNoteVirtBase: testBase, xen.ElfNotePaddrOffset: 0,
		},
		guestOS: TestGuestOS,
	}
}

// bytes lays out an ELF64 file: header, two program headers (PT_LOAD,
// PT_NOTE), the notes, then the loadable code at offset 0x1000.
func (e testELF) bytes() []byte {
	var notes bytes.Buffer
	for typ := uint32(0); typ < 16; typ++ {
		v, ok := e.notes[typ]
		if !ok {
			continue
		}
		binary.Write(&notes, binary.LittleEndian, []uint32{4, 8, typ})
		notes.WriteString("Xen\x00")
		binary.Write(&notes, binary.LittleEndian, v)
	}
	if e.guestOS != "" {
		desc := []byte(e.guestOS + "\x00")
		for len(desc)%4 != 0 {
			desc = append(desc, 0)
		}
		binary.Write(&notes, binary.LittleEndian, []uint32{4, uint32(len(desc)), xen.ElfNoteGuestOS})
		notes.WriteString("Xen\x00")
		notes.Write(desc)
	}
	memsz := e.memsz
	if memsz == 0 {
		memsz = uint64(len(e.code))
	}
	f := make([]byte, 0x1000+len(e.code))
	copy(f, "\x7fELF")
	f[4], f[5], f[6] = e.class, 1, 1
	le := binary.LittleEndian
	le.PutUint16(f[16:], uint16(e.typ))
	le.PutUint16(f[18:], uint16(e.machine))
	le.PutUint32(f[20:], 1)
	le.PutUint64(f[24:], e.entry)
	le.PutUint64(f[32:], 64) // phoff
	le.PutUint16(f[52:], 64) // ehsize
	le.PutUint16(f[54:], 56) // phentsize
	le.PutUint16(f[56:], 2)  // phnum
	ph := func(i int, typ uint32, off, va, pa, filesz, memsz uint64) {
		p := f[64+56*i:]
		le.PutUint32(p[0:], typ)
		le.PutUint32(p[4:], 7)
		le.PutUint64(p[8:], off)
		le.PutUint64(p[16:], va)
		le.PutUint64(p[24:], pa)
		le.PutUint64(p[32:], filesz)
		le.PutUint64(p[40:], memsz)
		le.PutUint64(p[48:], 4)
	}
	ph(0, 1, 0x1000, e.vaddr, e.paddr, uint64(len(e.code)), memsz)
	ph(1, 4, 0x200, 0, 0, uint64(notes.Len()), uint64(notes.Len()))
	copy(f[0x200:], notes.Bytes())
	copy(f[0x1000:], e.code)
	return f
}

func build(t *testing.T, image []byte, cmdline string) (*physmem.Memory, *Boot, error) {
	t.Helper()
	mem, err := physmem.New(16 << 20)
	require.NoError(t, err)
	t.Cleanup(mem.Free)
	hv, err := hvimage.Build(mem, 2)
	require.NoError(t, err)
	b, err := Build(mem, hv, "test", image, nil, cmdline)
	return mem, b, err
}

// Segments go where p_paddr says, as Xen's libelf places them; p_vaddr is
// not read (Linux's per-CPU segment has p_vaddr 0).
func TestBuildPlacesSegmentsByPaddr(t *testing.T) {
	e := goodELF()
	e.vaddr, e.paddr = 0, 2*mmu.PageSize
	copy(e.code, "by p_paddr")
	e.notes[xen.ElfNoteEntry] = testBase + 2*mmu.PageSize + 0x10
	e.notes[xen.ElfNoteHypercallPage] = testBase + 3*mmu.PageSize
	mem, b, err := build(t, e.bytes(), "")
	require.NoError(t, err)
	assert.Equal(t, []byte("by p_paddr"), mem.Bytes(2*mmu.PageSize, 10))
	assert.Equal(t, uint64(testBase+2*mmu.PageSize+0x10), b.Entry)
}

func TestBuildDomainRejects(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(e *testELF)
		image  []byte
		want   string
	}{
		{name: "empty file", image: []byte{}, want: "not an ELF file"},
		{name: "text file", image: []byte("#!/bin/sh\necho hi\n"), want: "not an ELF file"},
		{name: "truncated", image: goodELF().bytes()[:70], want: "malformed ELF"},
		{name: "32-bit", mutate: func(e *testELF) { e.class = 1 }, want: "not an x86-64 ELF64 image (ELFCLASS32)"},
		{name: "arm64", mutate: func(e *testELF) { e.machine = 183 }, want: "not an x86-64 ELF64 image"},
		{name: "shared object", mutate: func(e *testELF) { e.typ = 3 }, want: "want a static executable"},
		{name: "segment beyond memory", mutate: func(e *testELF) { e.memsz = 64 << 20 }, want: "does not fit"},
		{name: "segment below virt_base", mutate: func(e *testELF) { e.vaddr, e.paddr = testBase-0x1000, 0; e.notes[xen.ElfNotePaddrOffset] = 0x1000 }, want: "does not fit"},
		{name: "entry outside image", mutate: func(e *testELF) { e.notes[xen.ElfNoteEntry] = testBase + 64<<20 }, want: "entry point"},
		{name: "hypercall page unaligned", mutate: func(e *testELF) { e.notes[xen.ElfNoteHypercallPage] = testBase + 8 }, want: "hypercall page"},
		{name: "hypercall page outside image", mutate: func(e *testELF) { e.notes[xen.ElfNoteHypercallPage] = testBase + 8<<20 }, want: "hypercall page"},
		{name: "virt_base in hypervisor range", mutate: func(e *testELF) { e.notes[xen.ElfNoteVirtBase] = xen.HypervisorVirtStart }, want: "virt_base"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := tt.image
			if img == nil {
				e := goodELF()
				tt.mutate(&e)
				img = e.bytes()
			}
			_, _, err := build(t, img, "")
			var ke *KernelError
			require.True(t, errors.As(err, &ke), "want a KernelError, got %v", err)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "kernel test: "), err.Error())
		})
	}
	_, _, err := build(t, goodELF().bytes(), strings.Repeat("x", xen.MaxGuestCmdline))
	assert.ErrorContains(t, err, "command line is 1024 bytes")
}

// A kernel not pvsim's own gets Xen's initial mapping: the bootstrap
// region only, to the bootstrap stack and 512 KiB past it, in whole 4 MiB.
func TestBuildMapsTheBootstrapRegion(t *testing.T) {
	e := goodELF()
	e.guestOS = "linux"
	mem, b, err := build(t, e.bytes(), "")
	require.NoError(t, err)
	cr3 := b.L4 << mmu.PageShift
	mapped := func(pfn uint64) bool { return mmu.Translate(mem, cr3, testBase+pfn<<mmu.PageShift, mmu.AccessUser).OK }
	stackEnd := (b.StackTop - testBase) >> mmu.PageShift
	end := uint64(0)
	for mapped(end) {
		end++
	}
	assert.Zero(t, end%((4<<20)>>mmu.PageShift), "whole 4 MiB: %d pages", end)
	assert.GreaterOrEqual(t, end, stackEnd+(512<<10)>>mmu.PageShift, "512 KiB past the bootstrap stack")
	assert.Less(t, end, b.NrPages, "not all of RAM")
	for pfn := end; pfn <= b.SharedInfo; pfn++ {
		require.False(t, mapped(pfn), "frame %#x past the bootstrap region is mapped", pfn)
	}
}

func TestBuildDomainLayout(t *testing.T) {
	mem, b, err := build(t, goodELF().bytes(), "strategy=none")
	require.NoError(t, err)
	cr3 := b.L4 << mmu.PageShift
	read := func(va uint64, acc mmu.Access) mmu.Walk { return mmu.Translate(mem, cr3, va, acc) }

	// start_info, as the guest sees it through its own mapping.
	si := read(b.StartInfoVA, mmu.AccessUser|mmu.AccessWrite)
	require.True(t, si.OK)
	page := mem.Bytes(si.PA, mmu.PageSize)
	assert.Equal(t, xen.StartInfoMagic, string(bytes.TrimRight(page[:32], "\x00")))
	u64 := func(off int) uint64 { return binary.LittleEndian.Uint64(page[off:]) }
	// RAM is memory but for the shared info page and the grant frames
	// at its end, Xen's pages: the shared info page mapped after RAM,
	// the grant frames not.
	assert.Equal(t, mem.NrPages()-ExtraFrames, u64(xen.StartInfoNrPages))
	assert.Equal(t, b.NrPages, u64(xen.StartInfoNrPages))
	assert.Equal(t, b.NrPages, b.SharedInfo)
	assert.Equal(t, b.SharedInfo<<mmu.PageShift, u64(xen.StartInfoSharedInfo))
	assert.True(t, read(testBase+b.SharedInfo<<mmu.PageShift, mmu.AccessUser|mmu.AccessWrite).OK, "shared info mapped writable")
	require.Len(t, b.GrantFrames, gnttab.MaxFrames)
	for i, pfn := range b.GrantFrames {
		assert.Equal(t, b.SharedInfo+1+uint64(i), pfn, "grant frame %d", i)
		assert.False(t, read(testBase+pfn<<mmu.PageShift, mmu.AccessUser).OK, "grant frame %#x is not RAM: not mapped", pfn)
	}
	assert.Equal(t, testBase+cr3, u64(xen.StartInfoPtBase))
	assert.Equal(t, uint64(len(b.PTFrames)), u64(xen.StartInfoNrPtFrames))
	assert.Equal(t, "strategy=none", string(bytes.TrimRight(page[xen.StartInfoCmdLine:xen.StartInfoCmdLine+64], "\x00")))

	// The frame list is the identity.
	list := u64(xen.StartInfoMFNList)
	for _, pfn := range []uint64{0, 1, 100, b.NrPages - 1} {
		w := read(list+pfn*8, mmu.AccessUser)
		require.True(t, w.OK)
		v, _ := mem.Read64(w.PA)
		assert.Equal(t, pfn, v)
	}

	// Every frame of RAM is mapped at virt_base + pfn*4096; pagetable
	// frames read-only.
	pt := map[uint64]bool{}
	for _, f := range b.PTFrames {
		pt[f] = true
	}
	for pfn := uint64(0); pfn < b.NrPages; pfn++ {
		w := read(testBase+pfn<<mmu.PageShift, mmu.AccessUser|mmu.AccessWrite)
		if pt[pfn] {
			assert.False(t, w.OK, "pagetable frame %#x is writable", pfn)
			assert.True(t, read(testBase+pfn<<mmu.PageShift, mmu.AccessUser).OK)
		} else {
			require.True(t, w.OK, "frame %#x not mapped writable", pfn)
			assert.Equal(t, pfn<<mmu.PageShift, w.PA)
		}
	}
	assert.Equal(t, b.L4, b.PTFrames[0])

	// The hypervisor region is there but closed to CPL3, except the doorbell.
	assert.True(t, read(hvimage.IDTVA, mmu.AccessRead).OK)
	assert.False(t, read(hvimage.IDTVA, mmu.AccessUser).OK)
	assert.False(t, read(hvimage.CPUStackTop(0)-8, mmu.AccessUser).OK)
	assert.True(t, read(hvimage.CPUStackTop(1)-8, mmu.AccessWrite).OK)
	db := read(hvimage.DoorbellVA, mmu.AccessUser|mmu.AccessWrite)
	require.True(t, db.OK)
	assert.Equal(t, mem.Doorbell, db.PA)
	assert.Nil(t, mem.Bytes(mem.Doorbell, 4), "the doorbell must be unbacked")

	// The hypercall page was filled.
	hp := read(testBase+mmu.PageSize, mmu.AccessUser)
	require.True(t, hp.OK)
	assert.Equal(t, byte(0xb8), mem.Bytes(hp.PA, 1)[0])
	assert.Equal(t, uint64(testBase+0x10), b.Entry)
}

// TestBuildInitrd: the initial RAM disk is loaded right after the kernel
// image, page-aligned, mapped, and named by start_info's mod_start (a
// virtual address, SIF_MOD_START_PFN not set) and mod_len; the frame list
// follows it.
func TestBuildInitrd(t *testing.T) {
	initrd := bytes.Repeat([]byte("initramfs"), 1000) // 9000 bytes: three pages
	mem, err := physmem.New(16 << 20)
	require.NoError(t, err)
	t.Cleanup(mem.Free)
	hv, err := hvimage.Build(mem, 2)
	require.NoError(t, err)
	b, err := Build(mem, hv, "test", goodELF().bytes(), initrd, "")
	require.NoError(t, err)
	cr3 := b.L4 << mmu.PageShift
	si := mmu.Translate(mem, cr3, b.StartInfoVA, mmu.AccessUser)
	require.True(t, si.OK)
	page := mem.Bytes(si.PA, mmu.PageSize)
	start := binary.LittleEndian.Uint64(page[xen.StartInfoModStart:])
	assert.Equal(t, uint64(len(initrd)), binary.LittleEndian.Uint64(page[xen.StartInfoModLen:]))
	assert.Zero(t, start%mmu.PageSize)
	got := make([]byte, len(initrd))
	for off := 0; off < len(initrd); off += mmu.PageSize {
		w := mmu.Translate(mem, cr3, start+uint64(off), mmu.AccessUser)
		require.True(t, w.OK, "mod_start+%d mapped", off)
		copy(got[off:], mem.Bytes(w.PA, uint64(min(mmu.PageSize, len(initrd)-off))))
	}
	assert.Equal(t, initrd, got)
	assert.Equal(t, start+3*mmu.PageSize, binary.LittleEndian.Uint64(page[xen.StartInfoMFNList:]), "the frame list follows it")

	_, err = Build(mem, hv, "test", goodELF().bytes(), make([]byte, 32<<20), "")
	assert.ErrorContains(t, err, "initial RAM disk need more than")
}
