package hvimage

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/arch/x86/x86asm"
)

// TestSyscallStopAt: each instruction boundary of the syscall entry's CPL3
// path is described as what its instructions so far have done, checked
// against the instructions themselves, decoded; other addresses are not
// in the entry.
func TestSyscallStopAt(t *testing.T) {
	var pushed uint64
	raxOnStack, flagsPending := false, true
	for off := 0; off <= syscallJmp; {
		in, err := x86asm.Decode(SyscallEntryCode[off:], 64)
		require.NoError(t, err, "offset %d", off)
		stop, ok := SyscallStopAt(SyscallEntryVA + uint64(off))
		require.True(t, ok, "offset %d (%v)", off, in)
		if off == 0 {
			assert.True(t, stop.Before, "before the doorbell store")
		} else {
			assert.Equal(t, SyscallStop{Pushed: pushed, RAXOnStack: raxOnStack, FlagsPending: flagsPending}, stop, "before %v at offset %d", in, off)
		}
		switch in.Op {
		case x86asm.PUSH:
			pushed += 8
		case x86asm.POP:
			pushed -= 8
			raxOnStack = false
		case x86asm.POPFQ:
			pushed -= 8
			flagsPending = false
		case x86asm.MOV:
			if in.Args[0] == x86asm.EAX {
				raxOnStack = true // mov %cs, %eax: the result is the pushed copy
			}
		}
		off += in.Len
	}
	for _, rip := range []uint64{SyscallEntryVA - 1, SyscallEntryVA + 1, SyscallEntryVA + syscallJmp + 2} {
		_, ok := SyscallStopAt(rip)
		assert.False(t, ok, "%#x", rip)
	}
}
