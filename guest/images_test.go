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
	{"bench-hypercall", nil},
	{"bench-pin", nil},
	{"bench-ptwr", nil},
	{"hang", []string{"spin_forever"}},
	{"hello", []string{"secondary_startup_64", "start_secondary"}},
	{"mmu-basic", nil},
	{"mmu-forbidden", nil},
	{"privop", []string{"native_write_cr3"}},
	{"ptwr", []string{"ptep_test_and_clear_young"}},
	{"ptwr-oops", []string{"ptep_test_and_clear_young", "kernel_main", "page_fault_oops"}},
	{"race", []string{"ptep_test_and_clear_young", "ptep_test_and_clear_dirty",
		"ptep_get_and_clear", "xen_pgd_pin", "xen_pgd_unpin", "kswapd", "secondary_main"}},
	{"shutdown", nil},
	{"tlb-shootdown", []string{"secondary_main"}},
	{"traps", []string{"handle_exception", "exc_common", "xen_iret",
		"xen_asm_exc_invalid_op", "xen_asm_exc_general_protection",
		"xen_asm_exc_page_fault", "xen_asm_exc_divide_error"}},
	{"triple-fault", []string{"do_null_write"}},
}

func TestKernelList(t *testing.T) {
	var got, want []string
	for _, k := range Kernels() {
		got = append(got, k.Name)
	}
	for _, tt := range kernelTests {
		want = append(want, tt.name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Kernels() = %q, want %q (sorted; add new kernels to kernelTests)", got, want)
	}
	if _, ok := Lookup("no-such-kernel"); ok {
		t.Error(`Lookup("no-such-kernel") succeeded`)
	}
}

func TestImages(t *testing.T) {
	for _, tt := range kernelTests {
		t.Run(tt.name, func(t *testing.T) {
			k, ok := Lookup(tt.name)
			if !ok {
				t.Fatalf("no image %q", tt.name)
			}
			checkImage(t, k, tt.symbols)
		})
	}
}

func checkImage(t *testing.T, k Kernel, funcs []string) {
	f, err := elf.NewFile(bytes.NewReader(k.ELF))
	if err != nil {
		t.Fatal(err)
	}
	if f.Class != elf.ELFCLASS64 || f.Data != elf.ELFDATA2LSB ||
		f.Machine != elf.EM_X86_64 || f.Type != elf.ET_EXEC {
		t.Fatalf("not a little-endian ELF64 x86-64 executable: %v %v %v %v",
			f.Class, f.Data, f.Machine, f.Type)
	}

	if k.Description == "" || strings.ContainsAny(k.Description, "\n\x00") {
		t.Errorf("description %q is not one non-empty line", k.Description)
	}

	notes, err := readNotes(f, k.ELF)
	if err != nil {
		t.Fatal(err)
	}
	xen := map[uint32][]byte{}
	for _, n := range notes {
		if n.name == "Xen" {
			xen[n.typ] = n.desc
		}
	}
	addr := func(typ uint32) uint64 {
		if len(xen[typ]) != 8 {
			t.Errorf("Xen note %d: want 8 bytes, have %d", typ, len(xen[typ]))
			return 0
		}
		return binary.LittleEndian.Uint64(xen[typ])
	}
	for typ, want := range map[uint32]string{
		xenXenVersion: "xen-3.0",
		xenGuestOS:    "pvsim-test",
		xenLoader:     "generic",
	} {
		if got := string(xen[typ]); got != want+"\x00" {
			t.Errorf("Xen note %d = %q, want %q", typ, got, want)
		}
	}
	if got := addr(xenVirtBase); got != virtBase {
		t.Errorf("VIRT_BASE = %#x, want %#x", got, uint64(virtBase))
	}
	if got := addr(xenPaddrOffset); got != 0 {
		t.Errorf("PADDR_OFFSET = %#x, want 0", got)
	}

	syms := symbols(t, f)
	entry := addr(xenEntry)
	if entry != f.Entry || entry != syms["startup_64"] {
		t.Errorf("ENTRY note %#x, ELF entry %#x, startup_64 %#x: want all equal",
			entry, f.Entry, syms["startup_64"])
	}
	hp := addr(xenHypercallPage)
	if hp%4096 != 0 || hp != syms["hypercall_page"] {
		t.Errorf("HYPERCALL_PAGE %#x: want page-aligned and equal to hypercall_page %#x",
			hp, syms["hypercall_page"])
	}
	if !inSegment(f, hp, 4096, elf.PF_X) {
		t.Errorf("hypercall page %#x is not inside an executable PT_LOAD", hp)
	}

	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Paddr != p.Vaddr-virtBase {
			t.Errorf("PT_LOAD at %#x has paddr %#x, want vaddr - %#x",
				p.Vaddr, p.Paddr, uint64(virtBase))
		}
	}
	if p := f.Progs[0]; p.Type != elf.PT_LOAD || p.Vaddr != virtBase || p.Paddr != 0 {
		t.Errorf("first segment: %v at %#x (paddr %#x), want PT_LOAD at %#x (paddr 0)",
			p.Type, p.Vaddr, p.Paddr, uint64(virtBase))
	}

	for _, name := range []string{".note.Xen", ".note.pvsim"} {
		s := f.Section(name)
		if s == nil || s.Type != elf.SHT_NOTE {
			t.Errorf("no note section %s", name)
			continue
		}
		if !inNoteSegment(f, s) {
			t.Errorf("section %s is not inside the PT_NOTE segment", name)
		}
	}

	d, err := f.DWARF()
	if err != nil {
		t.Fatalf("no DWARF: %v", err)
	}
	for _, fn := range funcs {
		pc, ok := syms[fn]
		if !ok {
			t.Errorf("no function symbol %s", fn)
			continue
		}
		if file := sourceFile(t, d, pc); !strings.HasPrefix(file, "guest/") {
			t.Errorf("%s symbolizes to file %q, want a path under guest/", fn, file)
		}
	}
}

func symbols(t *testing.T, f *elf.File) map[string]uint64 {
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
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
	if err != nil {
		t.Errorf("no compile unit for %#x: %v", pc, err)
		return ""
	}
	lr, err := d.LineReader(cu)
	if err != nil || lr == nil {
		t.Errorf("no line table for %#x: %v", pc, err)
		return ""
	}
	var e dwarf.LineEntry
	if err := lr.SeekPC(pc, &e); err != nil {
		t.Errorf("no line for %#x: %v", pc, err)
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
			if err != nil {
				t.Fatal(err)
			}
			sec := f.Section(".kallsyms")
			if sec == nil {
				t.Fatal("no .kallsyms section")
			}
			if !inSegment(f, sec.Addr, sec.Size, elf.PF_R) {
				t.Errorf(".kallsyms at %#x is not inside a PT_LOAD", sec.Addr)
			}
			data, err := sec.Data()
			if err != nil {
				t.Fatal(err)
			}
			syms, err := f.Symbols()
			if err != nil {
				t.Fatal(err)
			}

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
				if addr < sec.Addr || addr+8 > sec.Addr+uint64(len(data)) {
					t.Fatalf("kallsyms: %#x is outside .kallsyms", addr)
				}
				return binary.LittleEndian.Uint64(data[addr-sec.Addr:])
			}
			str := func(addr uint64) string {
				if addr < sec.Addr || addr >= sec.Addr+uint64(len(data)) {
					t.Fatalf("kallsyms: name at %#x is outside .kallsyms", addr)
				}
				b := data[addr-sec.Addr:]
				if i := bytes.IndexByte(b, 0); i >= 0 {
					return string(b[:i])
				}
				t.Fatalf("kallsyms: name at %#x is not terminated", addr)
				return ""
			}
			for _, name := range []string{"kallsyms_num_syms", "kallsyms_addresses", "kallsyms_sizes", "kallsyms_names"} {
				if _, ok := table[name]; !ok {
					t.Fatalf("no symbol %s in .kallsyms", name)
				}
			}

			n := u64(table["kallsyms_num_syms"])
			var got []ksym
			for i := uint64(0); i < n; i++ {
				got = append(got, ksym{
					addr: u64(table["kallsyms_addresses"] + 8*i),
					size: u64(table["kallsyms_sizes"] + 8*i),
					name: str(u64(table["kallsyms_names"] + 8*i)),
				})
				if i > 0 && got[i].addr < got[i-1].addr {
					t.Errorf("kallsyms entry %d (%s at %#x) is below the one before it", i, got[i].name, got[i].addr)
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
			if !slices.Equal(got, want) {
				t.Errorf("kallsyms table has %d symbols, the ELF symbol table %d sized text symbols; they differ:\n got %v\nwant %v",
					len(got), len(want), got, want)
			}
		})
	}
}

// TestImagesReproducible rebuilds every kernel into a temporary directory
// and checks that the committed images match byte for byte.
func TestImagesReproducible(t *testing.T) {
	for _, tool := range []string{"gcc", "ld", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not on PATH: the guest kernels are built with gcc, "+
				"binutils and make, so install them (e.g. apt-get install gcc make)", tool)
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	build := exec.Command("make", "-C", dir, "OUT="+out)
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make -C guest OUT=%s: %v\n%s", out, err, msg)
	}

	committed, _ := filepath.Glob(filepath.Join("images", "*.elf"))
	fresh, _ := filepath.Glob(filepath.Join(out, "*.elf"))
	names := func(paths []string) []string {
		var s []string
		for _, p := range paths {
			s = append(s, filepath.Base(p))
		}
		return s
	}
	if c, f := names(committed), names(fresh); !slices.Equal(c, f) {
		t.Fatalf("committed images %q, fresh build %q: run `make -C guest` and commit guest/images", c, f)
	}
	for _, name := range names(committed) {
		want, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("images", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("guest/images/%s differs from a fresh build: run `make -C guest` "+
				"and commit guest/images (the images must be built with this machine's gcc and binutils)", name)
		}
	}
}

// TestRaceStats checks what the host needs to read the race kernel's
// counters after the domain stops: an object race_stats of the size of
// struct race_stats (include/race.h) in a writable segment.
func TestRaceStats(t *testing.T) {
	const raceStatsSize = 15 * 8
	k, ok := Lookup("race")
	if !ok {
		t.Fatal("no race image")
	}
	f, err := elf.NewFile(bytes.NewReader(k.ELF))
	if err != nil {
		t.Fatal(err)
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name != "race_stats" {
			continue
		}
		if elf.ST_TYPE(s.Info) != elf.STT_OBJECT || s.Size != raceStatsSize {
			t.Errorf("race_stats: type %v, size %d; want an object of %d bytes",
				elf.ST_TYPE(s.Info), s.Size, raceStatsSize)
		}
		found := false
		for _, p := range f.Progs {
			if p.Type == elf.PT_LOAD && p.Flags&elf.PF_W != 0 &&
				s.Value >= p.Vaddr && s.Value+s.Size <= p.Vaddr+p.Memsz {
				found = true
			}
		}
		if !found {
			t.Errorf("race_stats at %#x is not in a writable PT_LOAD", s.Value)
		}
		return
	}
	t.Error("no symbol race_stats")
}
