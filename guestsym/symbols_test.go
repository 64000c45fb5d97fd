package guestsym

import (
	"bytes"
	"debug/elf"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/guest"
)

// Symbols and source lines come from the kernel's ELF and DWARF.
func TestSymbolizerLines(t *testing.T) {
	k, ok := guest.Lookup("hello")
	require.True(t, ok)
	f, err := elf.NewFile(bytes.NewReader(k.ELF))
	require.NoError(t, err)
	syms, err := f.Symbols()
	require.NoError(t, err)
	var mainAddr uint64
	for _, s := range syms {
		if s.Name == "kernel_main" {
			mainAddr = s.Value
		}
	}
	require.NotZero(t, mainAddr)

	s := New(k.ELF, nil)
	assert.Equal(t, "kernel_main+0x0", s.Format(mainAddr))
	file, line, ok := s.Line(mainAddr + 1)
	require.True(t, ok)
	assert.Equal(t, "guest/kernels/hello.c", file)
	assert.Positive(t, line)
	assert.True(t, strings.HasPrefix(s.FormatLine(mainAddr), "kernel_main+0x0 (guest/kernels/hello.c:"), s.FormatLine(mainAddr))

	_, _, ok = s.Line(0x1000)
	assert.False(t, ok, "no line for an address outside the image")
	assert.Equal(t, "0x1000", New([]byte("not an ELF"), nil).FormatLine(0x1000))
}

// A struct's layout comes from the kernel's DWARF (guest/include/smp.h's
// struct pcpu, __aligned(64)).
func TestStruct(t *testing.T) {
	k, ok := guest.Lookup("hello")
	require.True(t, ok)
	s := New(k.ELF, nil)
	l, err := s.Struct("pcpu")
	require.NoError(t, err)
	assert.Equal(t, int64(0), l.Size%64, "size %d", l.Size)
	for name, want := range map[string]Member{
		"self": {0, 8}, "cpu": {8, 4}, "online": {12, 1}, "top_of_stack": {16, 8}, "xen_cr3": {24, 8},
	} {
		assert.Equal(t, want, l.Members[name], name)
	}
	_, err = s.Struct("no_such_struct")
	assert.ErrorContains(t, err, "no struct no_such_struct")
	_, err = New([]byte("not an ELF image"), nil).Struct("pcpu")
	assert.Error(t, err)
}
