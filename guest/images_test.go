package guest

import (
	"bytes"
	"cmp"
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/guestsym"
)

const virtBase = 0xffffffff80000000

// Xen ELF note types.
const (
	xenEntry         = 1
	xenHypercallPage = 2
	xenVirtBase      = 3
	xenPaddrOffset   = 4
	xenXenVersion    = 5
	xenGuestOS       = 6
	xenLoader        = 8
)

// Every kernel, with the functions the host's tests name in their reports.
var kernelTests = []struct {
	name    string
	symbols []string
}{
	{"bad-args", []string{"kernel_main"}},
	{"bench-hypercall", nil},
	{"bench-pin", nil},
	{"bench-ptwr", nil},
	{"copy-race", []string{"secondary_main", "kernel_main"}},
	{"dax-pmd-pte", []string{"kernel_main", "secondary_main"}},
	{"dax-unmap-range", []string{"kernel_main", "secondary_main"}},
	{"dax-write-fault", []string{"kernel_main", "secondary_main"}},
	{"events", []string{"kernel_main", "secondary_main"}},
	{"flush-deadlock", []string{"secondary_main"}},
	{"hang", []string{"spin_forever"}},
	{"hcall-fuzz", []string{"kernel_main", "secondary_main"}},
	{"hello", []string{"secondary_startup_64", "start_secondary"}},
	{"hugetlb-truncate", []string{"kernel_main", "secondary_main"}},
	{"ldt", []string{"kernel_main", "ldt_trap"}},
	{"mmu-basic", nil},
	{"mmu-forbidden", nil},
	{"mmu-preempt", []string{"kernel_main"}},
	{"multicall-interleave", []string{"secondary_main", "kernel_main"}},
	{"privop", []string{"native_load_idt"}},
	{"ptwr", []string{"ptep_test_and_clear_young"}},
	{"ptwr-contend", []string{"contend", "secondary_main"}},
	{"ptwr-oops", []string{"ptep_test_and_clear_young", "kernel_main", "page_fault_oops"}},
	{"pv-abi", []string{"kernel_main", "expect"}},
	{"race", []string{"ptep_test_and_clear_young", "try_to_unmap_one", "try_to_free_pages",
		"ptep_get_and_clear", "xen_pgd_pin", "xen_pgd_unpin", "kswapd", "secondary_main"}},
	{"shutdown", nil},
	{"tlb-shootdown", []string{"secondary_main"}},
	{"traps", []string{"handle_exception", "exc_common", "xen_iret",
		"xen_asm_exc_invalid_op", "xen_asm_exc_general_protection",
		"xen_asm_exc_page_fault", "xen_asm_exc_divide_error"}},
	{"triple-fault", []string{"do_null_write"}},
	{"usermode", []string{"kernel_main", "do_user_syscall", "user_main"}},
}

func TestKernelList(t *testing.T) {
	var got, want []string
	for _, k := range Kernels() {
		got = append(got, k.Name)
	}
	for _, tt := range kernelTests {
		want = append(want, tt.name)
	}
	assert.Equal(t, want, got, "Kernels(), sorted: add new kernels to kernelTests")
	_, ok := Lookup("no-such-kernel")
	assert.False(t, ok, `Lookup("no-such-kernel") succeeded`)
}

func TestImages(t *testing.T) {
	for _, tt := range kernelTests {
		t.Run(tt.name, func(t *testing.T) {
			k, ok := Lookup(tt.name)
			require.True(t, ok, "no image %q", tt.name)
			checkImage(t, k, tt.symbols)
		})
	}
}

func checkImage(t *testing.T, k Kernel, funcs []string) {
	f, err := elf.NewFile(bytes.NewReader(k.ELF))
	require.NoError(t, err)
	require.True(t, f.Class == elf.ELFCLASS64 && f.Data == elf.ELFDATA2LSB &&
		f.Machine == elf.EM_X86_64 && f.Type == elf.ET_EXEC,
		"not a little-endian ELF64 x86-64 executable: %v %v %v %v", f.Class, f.Data, f.Machine, f.Type)

	assert.True(t, k.Description != "" && !strings.ContainsAny(k.Description, "\n\x00"),
		"description %q is not one non-empty line", k.Description)

	notes, err := readNotes(f, k.ELF)
	require.NoError(t, err)
	xen := map[uint32][]byte{}
	for _, n := range notes {
		if n.name == "Xen" {
			xen[n.typ] = n.desc
		}
	}
	addr := func(typ uint32) uint64 {
		if !assert.Len(t, xen[typ], 8, "Xen note %d", typ) {
			return 0
		}
		return binary.LittleEndian.Uint64(xen[typ])
	}
	for typ, want := range map[uint32]string{
		xenXenVersion: "xen-3.0",
		xenGuestOS:    "pvsim-test",
		xenLoader:     "generic",
	} {
		assert.Equal(t, want+"\x00", string(xen[typ]), "Xen note %d", typ)
	}
	assert.Equal(t, uint64(virtBase), addr(xenVirtBase), "VIRT_BASE")
	assert.Zero(t, addr(xenPaddrOffset), "PADDR_OFFSET")

	syms := symbols(t, f)
	entry := addr(xenEntry)
	assert.True(t, entry == f.Entry && entry == syms["startup_64"],
		"ENTRY note %#x, ELF entry %#x, startup_64 %#x: want all equal", entry, f.Entry, syms["startup_64"])
	hp := addr(xenHypercallPage)
	assert.True(t, hp%4096 == 0 && hp == syms["hypercall_page"],
		"HYPERCALL_PAGE %#x: want page-aligned and equal to hypercall_page %#x", hp, syms["hypercall_page"])
	assert.True(t, inSegment(f, hp, 4096, elf.PF_X), "hypercall page %#x is not inside an executable PT_LOAD", hp)

	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			assert.Equal(t, p.Vaddr-virtBase, p.Paddr, "PT_LOAD at %#x: want paddr = vaddr - %#x",
				p.Vaddr, uint64(virtBase))
		}
	}
	p := f.Progs[0]
	assert.True(t, p.Type == elf.PT_LOAD && p.Vaddr == virtBase && p.Paddr == 0,
		"first segment: %v at %#x (paddr %#x), want PT_LOAD at %#x (paddr 0)",
		p.Type, p.Vaddr, p.Paddr, uint64(virtBase))

	for _, name := range []string{".note.Xen", ".note.pvsim"} {
		s := f.Section(name)
		if !assert.True(t, s != nil && s.Type == elf.SHT_NOTE, "no note section %s", name) {
			continue
		}
		assert.True(t, inNoteSegment(f, s), "section %s is not inside the PT_NOTE segment", name)
	}

	d, err := f.DWARF()
	require.NoError(t, err, "no DWARF")
	for _, fn := range funcs {
		pc, ok := syms[fn]
		if !assert.True(t, ok, "no function symbol %s", fn) {
			continue
		}
		file := sourceFile(t, d, pc)
		assert.True(t, strings.HasPrefix(file, "guest/"), "%s symbolizes to file %q, want a path under guest/", fn, file)
	}
}

func symbols(t *testing.T, f *elf.File) map[string]uint64 {
	syms, err := f.Symbols()
	require.NoError(t, err)
	m := make(map[string]uint64)
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC {
			m[s.Name] = s.Value
		}
	}
	return m
}

func inSegment(f *elf.File, addr, size uint64, flag elf.ProgFlag) bool {
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&flag != 0 &&
			addr >= p.Vaddr && addr+size <= p.Vaddr+p.Filesz {
			return true
		}
	}
	return false
}

func inNoteSegment(f *elf.File, s *elf.Section) bool {
	for _, p := range f.Progs {
		if p.Type == elf.PT_NOTE && s.Offset >= p.Off && s.Offset+s.Size <= p.Off+p.Filesz {
			return true
		}
	}
	return false
}

// sourceFile returns the source file DWARF gives for pc.
func sourceFile(t *testing.T, d *dwarf.Data, pc uint64) string {
	cu, err := d.Reader().SeekPC(pc)
	if !assert.NoError(t, err, "no compile unit for %#x", pc) {
		return ""
	}
	lr, err := d.LineReader(cu)
	if !assert.NoError(t, err, "no line table for %#x", pc) || !assert.NotNil(t, lr, "no line table for %#x", pc) {
		return ""
	}
	var e dwarf.LineEntry
	if !assert.NoError(t, lr.SeekPC(pc, &e), "no line for %#x", pc) {
		return ""
	}
	return e.File.Name
}

// TestKallsyms checks each image's kallsyms table (lib/kallsyms.c)
// against its ELF symbol table: it must list every text symbol that has a
// size, with that size, sorted by address, and the loader must load it.
func TestKallsyms(t *testing.T) {
	for _, k := range Kernels() {
		t.Run(k.Name, func(t *testing.T) {
			f, err := elf.NewFile(bytes.NewReader(k.ELF))
			require.NoError(t, err)
			sec := f.Section(".kallsyms")
			require.NotNil(t, sec, "no .kallsyms section")
			assert.True(t, inSegment(f, sec.Addr, sec.Size, elf.PF_R), ".kallsyms at %#x is not inside a PT_LOAD", sec.Addr)
			data, err := sec.Data()
			require.NoError(t, err)
			syms, err := f.Symbols()
			require.NoError(t, err)

			type ksym struct {
				addr, size uint64
				name       string
			}
			var want []ksym
			table := map[string]uint64{}
			for _, s := range syms {
				if strings.HasPrefix(s.Name, "kallsyms_") && int(s.Section) < len(f.Sections) &&
					f.Sections[s.Section] == sec {
					table[s.Name] = s.Value
				}
				if s.Size == 0 || int(s.Section) >= len(f.Sections) ||
					f.Sections[s.Section].Flags&elf.SHF_EXECINSTR == 0 {
					continue
				}
				want = append(want, ksym{s.Value, s.Size, s.Name})
			}
			u64 := func(addr uint64) uint64 {
				require.True(t, addr >= sec.Addr && addr+8 <= sec.Addr+uint64(len(data)),
					"kallsyms: %#x is outside .kallsyms", addr)
				return binary.LittleEndian.Uint64(data[addr-sec.Addr:])
			}
			str := func(addr uint64) string {
				require.True(t, addr >= sec.Addr && addr < sec.Addr+uint64(len(data)),
					"kallsyms: name at %#x is outside .kallsyms", addr)
				b := data[addr-sec.Addr:]
				i := bytes.IndexByte(b, 0)
				require.GreaterOrEqual(t, i, 0, "kallsyms: name at %#x is not terminated", addr)
				return string(b[:i])
			}
			for _, name := range []string{"kallsyms_num_syms", "kallsyms_addresses", "kallsyms_sizes", "kallsyms_names"} {
				require.Contains(t, table, name, "no symbol %s in .kallsyms", name)
			}

			n := u64(table["kallsyms_num_syms"])
			var got []ksym
			for i := uint64(0); i < n; i++ {
				got = append(got, ksym{
					addr: u64(table["kallsyms_addresses"] + 8*i),
					size: u64(table["kallsyms_sizes"] + 8*i),
					name: str(u64(table["kallsyms_names"] + 8*i)),
				})
				if i > 0 {
					assert.GreaterOrEqual(t, got[i].addr, got[i-1].addr,
						"kallsyms entry %d (%s at %#x) is below the one before it", i, got[i].name, got[i].addr)
				}
			}
			cmpSym := func(a, b ksym) int {
				if c := cmp.Compare(a.addr, b.addr); c != 0 {
					return c
				}
				return strings.Compare(a.name, b.name)
			}
			slices.SortFunc(got, cmpSym)
			slices.SortFunc(want, cmpSym)
			assert.Equal(t, want, got, "kallsyms table has %d symbols, the ELF symbol table %d sized text symbols; they differ",
				len(got), len(want))
		})
	}
}

// TestImagesReproducible rebuilds every kernel into a temporary directory
// and checks that the committed images match byte for byte.
func TestImagesReproducible(t *testing.T) {
	for _, tool := range []string{"gcc", "ld", "make"} {
		_, err := exec.LookPath(tool)
		require.NoError(t, err, "%s is not on PATH: the guest kernels are built with gcc, "+
			"binutils and make, so install them (e.g. apt-get install gcc make)", tool)
	}
	dir, err := os.Getwd()
	require.NoError(t, err)
	out := t.TempDir()
	build := exec.Command("make", "-C", dir, "OUT="+out)
	msg, err := build.CombinedOutput()
	require.NoError(t, err, "make -C guest OUT=%s\n%s", out, msg)

	committed, _ := filepath.Glob(filepath.Join("images", "*.elf"))
	fresh, _ := filepath.Glob(filepath.Join(out, "*.elf"))
	names := func(paths []string) []string {
		var s []string
		for _, p := range paths {
			s = append(s, filepath.Base(p))
		}
		return s
	}
	require.Equal(t, names(fresh), names(committed),
		"committed images differ from a fresh build's: run `make -C guest` and commit guest/images")
	for _, name := range names(committed) {
		want, err := os.ReadFile(filepath.Join(out, name))
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join("images", name))
		require.NoError(t, err)
		// Not assert.Equal: a diff of two images says nothing.
		assert.True(t, bytes.Equal(got, want), "guest/images/%s differs from a fresh build: run `make -C guest` "+
			"and commit guest/images (the images must be built with this machine's gcc and binutils)", name)
	}
}

// TestRaceStats checks what the host needs to read the race kernel's
// counters after the domain stops: an object race_stats of the size the
// kernel's DWARF gives struct race_stats (include/race.h), in a writable
// segment.
func TestRaceStats(t *testing.T) {
	k, ok := Lookup("race")
	require.True(t, ok, "no race image")
	f, err := elf.NewFile(bytes.NewReader(k.ELF))
	require.NoError(t, err)
	syms, err := f.Symbols()
	require.NoError(t, err)
	i := slices.IndexFunc(syms, func(s elf.Symbol) bool { return s.Name == "race_stats" })
	require.NotEqual(t, -1, i, "no symbol race_stats")
	s := syms[i]
	layout, err := guestsym.New(k.ELF, nil).Struct("race_stats")
	require.NoError(t, err)
	raceStatsSize := uint64(layout.Size)
	assert.True(t, elf.ST_TYPE(s.Info) == elf.STT_OBJECT && s.Size == raceStatsSize,
		"race_stats: type %v, size %d; want an object of %d bytes", elf.ST_TYPE(s.Info), s.Size, raceStatsSize)
	found := false
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_W != 0 &&
			s.Value >= p.Vaddr && s.Value+s.Size <= p.Vaddr+p.Memsz {
			found = true
		}
	}
	assert.True(t, found, "race_stats at %#x is not in a writable PT_LOAD", s.Value)
}
