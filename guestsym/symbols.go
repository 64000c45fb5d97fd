// Package guestsym reads a guest kernel's ELF symbol table and DWARF line
// tables to name guest addresses (symbol+offset, file:line), and finds a
// Linux-style oops report in console output. hv, race and the command
// line use it for every report that names guest code.
package guestsym

import (
	"bytes"
	"debug/dwarf"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
)

// Symbolizer turns guest addresses into symbol+offset using the kernel's
// ELF symbol table, and into file:line using its DWARF line tables; and,
// through its host names, addresses outside the kernel (the hypervisor's
// stubs) into theirs.
type Symbolizer struct {
	syms []elf.Symbol // functions and objects with an address, sorted
	elf  *elf.File
	host func(addr uint64) (string, bool)

	linesOnce sync.Once
	lines     []lineRow // sorted by address
}

// lineRow says that code from addr on comes from file:line, up to the next
// row; an end-of-sequence row covers nothing.
type lineRow struct {
	addr uint64
	file string
	line int
	end  bool
}

// New reads the symbol table of a kernel image. An image without symbols
// gives a Symbolizer that prints bare addresses. host, if not nil, names
// addresses that are not the kernel's before the kernel's table is asked.
func New(kernel []byte, host func(addr uint64) (string, bool)) *Symbolizer {
	s := &Symbolizer{host: host}
	f, err := elf.NewFile(bytes.NewReader(kernel))
	if err != nil {
		return s
	}
	s.elf = f
	syms, err := f.Symbols()
	if err != nil {
		return s
	}
	for _, sym := range syms {
		t := elf.ST_TYPE(sym.Info)
		if sym.Value != 0 && sym.Name != "" && (t == elf.STT_FUNC || t == elf.STT_OBJECT || t == elf.STT_NOTYPE) {
			s.syms = append(s.syms, sym)
		}
	}
	sort.SliceStable(s.syms, func(i, j int) bool { return s.syms[i].Value < s.syms[j].Value })
	return s
}

// Address returns the address and size of the symbol called name.
func (s *Symbolizer) Address(name string) (addr, size uint64, ok bool) {
	for _, sym := range s.syms {
		if sym.Name == name {
			return sym.Value, sym.Size, true
		}
	}
	return 0, 0, false
}

// Read copies the data object called name into b with read, which reads
// guest virtual memory. b must not be longer than the object.
func (s *Symbolizer) Read(name string, b []byte, read func(b []byte, va uint64) error) error {
	addr, size, ok := s.Address(name)
	switch {
	case !ok:
		return fmt.Errorf("the kernel has no symbol %s", name)
	case uint64(len(b)) > size:
		return fmt.Errorf("symbol %s is %d bytes, not %d", name, size, len(b))
	}
	if err := read(b, addr); err != nil {
		return fmt.Errorf("symbol %s at %#x: %w", name, addr, err)
	}
	return nil
}

// Lookup returns the symbol containing addr and the offset into it.
func (s *Symbolizer) Lookup(addr uint64) (name string, off uint64, ok bool) {
	if n, ok := s.hostName(addr); ok {
		return n, 0, true
	}
	i := sort.Search(len(s.syms), func(i int) bool { return s.syms[i].Value > addr }) - 1
	if i < 0 {
		return "", 0, false
	}
	// Prefer a sized symbol that covers addr over a label at the same place.
	for j := i; j >= 0 && s.syms[j].Value == s.syms[i].Value; j-- {
		if s.syms[j].Size > 0 && addr < s.syms[j].Value+s.syms[j].Size {
			return s.syms[j].Name, addr - s.syms[j].Value, true
		}
	}
	sym := s.syms[i]
	if sym.Size > 0 && addr >= sym.Value+sym.Size {
		return "", 0, false
	}
	return sym.Name, addr - sym.Value, true
}

// Func is Lookup for code: the function (an STT_FUNC symbol) containing
// addr, as a return address on a stack would be.
func (s *Symbolizer) Func(addr uint64) (name string, off uint64, ok bool) {
	i := sort.Search(len(s.syms), func(i int) bool { return s.syms[i].Value > addr }) - 1
	for j := i; j >= 0 && s.syms[j].Value == s.syms[i].Value; j-- {
		sym := s.syms[j]
		if elf.ST_TYPE(sym.Info) == elf.STT_FUNC && (sym.Size == 0 || addr < sym.Value+sym.Size) {
			return sym.Name, addr - sym.Value, true
		}
	}
	return "", 0, false
}

// Format renders addr as "name+0xoff", or as a bare hex address.
func (s *Symbolizer) Format(addr uint64) string {
	if n, ok := s.hostName(addr); ok {
		return n
	}
	if name, off, ok := s.Lookup(addr); ok {
		return fmt.Sprintf("%s+%#x", name, off)
	}
	return fmt.Sprintf("%#x", addr)
}

// Line returns the source file and line of the instruction at addr, from
// the kernel's DWARF line tables, or ok=false when it has none for addr.
func (s *Symbolizer) Line(addr uint64) (file string, line int, ok bool) {
	s.linesOnce.Do(s.loadLines)
	i := sort.Search(len(s.lines), func(i int) bool { return s.lines[i].addr > addr }) - 1
	if i < 0 || s.lines[i].end || s.lines[i].line == 0 {
		return "", 0, false
	}
	return s.lines[i].file, s.lines[i].line, true
}

// FormatLine renders addr as "name+0xoff (file:line)", leaving out what
// is unknown.
func (s *Symbolizer) FormatLine(addr uint64) string {
	if file, line, ok := s.Line(addr); ok {
		return fmt.Sprintf("%s (%s:%d)", s.Format(addr), file, line)
	}
	return s.Format(addr)
}

func (s *Symbolizer) loadLines() {
	if s.elf == nil {
		return
	}
	d, err := s.elf.DWARF()
	if err != nil {
		return
	}
	r := d.Reader()
	for {
		cu, err := r.Next()
		if err != nil || cu == nil {
			break
		}
		if cu.Tag != dwarf.TagCompileUnit {
			r.SkipChildren()
			continue
		}
		lr, err := d.LineReader(cu)
		if err == nil && lr != nil {
			var e dwarf.LineEntry
			for {
				if err := lr.Next(&e); err != nil {
					if !errors.Is(err, io.EOF) {
						s.lines = nil // a damaged table: report no lines rather than wrong ones
						return
					}
					break
				}
				row := lineRow{addr: e.Address, line: e.Line, end: e.EndSequence}
				if e.File != nil {
					row.file = e.File.Name
				}
				s.lines = append(s.lines, row)
			}
		}
		r.SkipChildren()
	}
	// Sort stably, ends of sequences after rows at the same address.
	sort.SliceStable(s.lines, func(i, j int) bool {
		if s.lines[i].addr != s.lines[j].addr {
			return s.lines[i].addr < s.lines[j].addr
		}
		return s.lines[i].end && !s.lines[j].end
	})
}

func (s *Symbolizer) hostName(addr uint64) (string, bool) {
	if s.host == nil {
		return "", false
	}
	return s.host(addr)
}

// StructLayout is a C struct of the kernel as its DWARF describes it: its
// size and each member's offset and size, in bytes.
type StructLayout struct {
	Size    int64
	Members map[string]Member
}

// Member is one member of a StructLayout.
type Member struct{ Offset, Size int64 }

// Struct reads the layout of struct name from the kernel's DWARF, so that
// the VMM can read a guest structure by member name and no offset is
// written down twice.
func (s *Symbolizer) Struct(name string) (*StructLayout, error) {
	if s.elf == nil {
		return nil, errors.New("not an ELF image")
	}
	d, err := s.elf.DWARF()
	if err != nil {
		return nil, fmt.Errorf("no DWARF: %w", err)
	}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("reading DWARF: %w", err)
		}
		if e == nil {
			return nil, fmt.Errorf("no struct %s in the kernel's DWARF", name)
		}
		if e.Tag != dwarf.TagStructType || e.Val(dwarf.AttrName) != name || e.Val(dwarf.AttrDeclaration) == true {
			continue
		}
		t, err := d.Type(e.Offset)
		if err != nil {
			return nil, fmt.Errorf("struct %s: %w", name, err)
		}
		st, ok := t.(*dwarf.StructType)
		if !ok || st.Incomplete {
			continue
		}
		l := &StructLayout{Size: st.ByteSize, Members: make(map[string]Member, len(st.Field))}
		for _, f := range st.Field {
			l.Members[f.Name] = Member{Offset: f.ByteOffset, Size: f.Type.Size()}
		}
		return l, nil
	}
}
