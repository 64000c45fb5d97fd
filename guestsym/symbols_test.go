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
