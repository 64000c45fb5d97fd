package hvimage

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/arch/x86/x86asm"

	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/x86"
	"github.com/pvsim/pvsim/xen"
)

var update = flag.Bool("update", false, "rewrite the disassembly goldens in testdata/")

// disasm lists code, loaded at pc, one instruction a line with its offset
// from base, stopping after n instructions (n < 0: the whole slice).
func disasm(t *testing.T, code []byte, base, pc uint64, n int) string {
	t.Helper()
	var b strings.Builder
	for off := 0; off < len(code) && n != 0; n-- {
		inst, err := x86asm.Decode(code[off:], 64)
		require.NoError(t, err, "at %#x", pc+uint64(off))
		fmt.Fprintf(&b, "%5x  %-27s %s\n", pc+uint64(off)-base, fmt.Sprintf("% x", code[off:off+inst.Len]), x86asm.IntelSyntax(inst, pc+uint64(off), nil))
		off += inst.Len
	}
	return b.String()
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./hvimage -update to create it")
	assert.Equal(t, string(want), got, "%s differs; if the change is meant, run go test ./hvimage -update and review the diff", path)
}

// TestTextGolden disassembles the hypervisor's text page, the code every
// exception and every executor round runs, against testdata/text.txt,
// with addresses as the guest sees them.
func TestTextGolden(t *testing.T) {
	text := make([]byte, mmu.PageSize)
	buildStubs(text)
	copy(text[execCodeOff:], executorCode())
	copy(text[trapCmpXchgOff:], trapCmpXchgCode)
	copy(text[trapCASIretOff:], trapCASIretCode)
	copy(text[clearFlagsOff:], clearFlagsCode)
	var b strings.Builder
	for v := x86.Vector(0); v < NrStubs; v++ {
		off := uint64(v) * stubSize
		fmt.Fprintf(&b, "hv_entry_%s:\n", v.Mnemonic())
		n := 2
		if !v.HasErrorCode() {
			n = 3
		}
		b.WriteString(disasm(t, text[off:off+stubSize], 0, TextVA+off, n))
	}
	for _, part := range []struct {
		name     string
		off, len int
	}{
		{"hv_entry_common", stubCommonOff, 8},
		{"hv_clear_pte_flags", clearFlagsOff, len(clearFlagsCode)},
		{"hv_trap_cas_iret", trapCASIretOff, len(trapCASIretCode)},
		{"hv_trap_cmpxchg", trapCmpXchgOff, len(trapCmpXchgCode)},
		{"hv_executor", execCodeOff, len(executorCode())},
	} {
		fmt.Fprintf(&b, "%s:\n", part.name)
		b.WriteString(disasm(t, text[part.off:part.off+part.len], 0, TextVA+uint64(part.off), -1))
	}
	golden(t, "text.txt", b.String())
}

// TestHypercallPageGolden disassembles a few hypercall stubs, iret's among
// them, against testdata/hypercall_page.txt.
func TestHypercallPageGolden(t *testing.T) {
	page := make([]byte, mmu.PageSize)
	FillHypercallPage(page)
	var b strings.Builder
	for _, nr := range []int{0, xen.HypercallMMUUpdate, xen.HypercallIret, xen.NrHypercalls - 1} {
		s := page[nr*xen.HypercallStubSize:][:xen.HypercallStubSize]
		fmt.Fprintf(&b, "%s (%d):\n", xen.HypercallName(nr), nr)
		n := 3
		if nr == xen.HypercallIret {
			n = 6
		}
		b.WriteString(disasm(t, s, 0, uint64(nr*xen.HypercallStubSize), n))
	}
	b.WriteString("hv_syscall_entry:\n")
	b.WriteString(disasm(t, SyscallEntryCode, 0, SyscallEntryVA, -1))
	golden(t, "hypercall_page.txt", b.String())
	assert.True(t, IsDoorbellStore(page[StubMovLen:]))
	assert.False(t, IsDoorbellStore(page[StubMovLen-1:]))
	assert.True(t, IsStubMov(page[xen.HypercallMMUUpdate*xen.HypercallStubSize:]))
	assert.False(t, IsStubMov(page[xen.HypercallIret*xen.HypercallStubSize:]), "iret's stub begins with pushes")
}

// TestLayout checks that the pieces of the text page do not overlap, and
// that each stub jumps to the common tail.
func TestLayout(t *testing.T) {
	assert.GreaterOrEqual(t, clearFlagsOff, stubCommonOff+8)
	assert.LessOrEqual(t, clearFlagsOff+len(clearFlagsCode), trapCmpXchgOff)
	assert.LessOrEqual(t, trapCASIretOff+len(trapCASIretCode), clearFlagsOff)
	for cpu := range MaxVCPUs {
		frame := CPUStackTop(cpu) - FrameSize
		assert.Equal(t, CPUCmdBlockVA(cpu)+CmdFlags, frame+trapCASFlagsDisp, "the one-exit path reaches vCPU %d's flags from its frame", cpu)
	}
	assert.Equal(t, uint64(TrapCASFailVA), uint64(TextVA+trapCASIretOff)+uint64(len(trapCASIretCode))-2)
	assert.LessOrEqual(t, trapCmpXchgOff+len(trapCmpXchgCode), execCodeOff)
	assert.LessOrEqual(t, execCodeOff+len(executorCode()), mmu.PageSize)
	text := make([]byte, mmu.PageSize)
	buildStubs(text)
	for v := 0; v < NrStubs; v++ {
		pc := v * stubSize
		for {
			inst, err := x86asm.Decode(text[pc:], 64)
			require.NoError(t, err)
			if inst.Op == x86asm.JMP {
				assert.Equal(t, stubCommonOff, pc+inst.Len+int(inst.Args[0].(x86asm.Rel)), "vector %d", v)
				break
			}
			pc += inst.Len
		}
	}
	assert.Equal(t, uint64(TextVA+stubCommonOff+2), uint64(TrapResumeVA))
}

func TestSymbol(t *testing.T) {
	for _, tt := range []struct {
		va   uint64
		want string
	}{
		{TextVA + 14*stubSize + 2, "hv_entry_PF+0x2"},
		{TextVA + stubCommonOff, "hv_entry_common+0x0"},
		{TrapResumeVA, "hv_entry_common+0x2"},
		{TrapCmpXchgVA + 5, "hv_trap_cmpxchg+0x5"},
		{ExecEntryVA + 0x10, "hv_executor+0x10"},
		{IDTVA, "hypervisor+0x8000010000"},
	} {
		got, ok := Symbol(tt.va)
		assert.True(t, ok, "%#x", tt.va)
		assert.Equal(t, tt.want, got)
	}
	_, ok := Symbol(0xffffffff80000000)
	assert.False(t, ok)
}
