package hv

import (
	"bytes"
	"debug/elf"
	"fmt"
	"sort"
)

// Symbolizer turns guest addresses into symbol+offset using the kernel's
// ELF symbol table, and hypervisor-region addresses into the names of the
// hypervisor's stubs.
type Symbolizer struct {
	syms []elf.Symbol // functions and objects with an address, sorted
}

// NewSymbolizer reads the symbol table of a kernel image. An image without
// symbols gives a Symbolizer that prints bare addresses.
func NewSymbolizer(kernel []byte) *Symbolizer {
	s := &Symbolizer{}
	f, err := elf.NewFile(bytes.NewReader(kernel))
	if err != nil {
		return s
	}
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

// Lookup returns the symbol containing addr and the offset into it.
func (s *Symbolizer) Lookup(addr uint64) (name string, off uint64, ok bool) {
	if n, ok := hvSymbol(addr); ok {
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

// Format renders addr as "name+0xoff", or as a bare hex address.
func (s *Symbolizer) Format(addr uint64) string {
	if n, ok := hvSymbol(addr); ok {
		return n
	}
	if name, off, ok := s.Lookup(addr); ok {
		return fmt.Sprintf("%s+%#x", name, off)
	}
	return fmt.Sprintf("%#x", addr)
}
