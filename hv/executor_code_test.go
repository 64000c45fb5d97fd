package hv

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/arch/x86/x86asm"
)

// TestExecutorCodeDecodes disassembles the executor and checks it against
// the listing it is meant to be, jump targets included.
func TestExecutorCodeDecodes(t *testing.T) {
	code := executorCode()
	var b strings.Builder
	for pc := 0; pc < len(code); {
		inst, err := x86asm.Decode(code[pc:], 64)
		require.NoError(t, err, "at %#x", pc)
		fmt.Fprintf(&b, "%3x %s\n", pc, x86asm.IntelSyntax(inst, uint64(pc), nil))
		pc += inst.Len
	}
	assert.Equal(t, `  0 push rax
  1 push rcx
  2 push rdx
  3 push rsi
  4 push rdi
  5 push r8
  7 mov rsi, rsp
  a and rsi, -0x40000
 11 add rsi, 0x38000
 18 mov rcx, qword ptr [rsi]
 1b lea rdi, ptr [rsi+0x18]
 1f test rcx, rcx
 22 jnz 0x44
 24 test qword ptr [rsi+0x10], 0x1
 2c jnz 0x32
 2e out 0xe1, al
 30 jmp 0x18
 32 mov rax, qword ptr [rsi+0x8]
 36 mov qword ptr [rsp+0x28], rax
 3b pop r8
 3d pop rdi
 3e pop rsi
 3f pop rdx
 40 pop rcx
 41 pop rax
 42 iretq
 44 mov r8, qword ptr [rdi]
 47 mov rdx, qword ptr [rdi+0x8]
 4b cmp r8, 0x1
 4f jz 0x71
 51 cmp r8, 0x2
 55 jz 0x7a
 57 cmp r8, 0x3
 5b jz 0x95
 5d cmp r8, 0x4
 61 jz 0xa8
 63 cmp r8, 0x5
 67 jz 0xad
 69 cmp r8, 0x6
 6d jz 0xb5
 6f jmp 0xbc
 71 mov rax, qword ptr [rdi+0x10]
 75 mov qword ptr [rdx], rax
 78 jmp 0xbc
 7a mov rax, qword ptr [rdx]
 7d mov r8, rax
 80 and r8, qword ptr [rdi+0x10]
 84 or r8, qword ptr [rdi+0x18]
 88 lock cmpxchg qword ptr [rdx], r8
 8d jnz 0x7d
 8f mov qword ptr [rdi+0x20], rax
 93 jmp 0xbc
 95 mov rax, qword ptr [rdi+0x10]
 99 mov r8, qword ptr [rdi+0x18]
 9d lock cmpxchg qword ptr [rdx], r8
 a2 mov qword ptr [rdi+0x20], rax
 a6 jmp 0xbc
 a8 invlpg byte ptr [rdx]
 ab jmp 0xbc
 ad mov rax, cr3
 b0 mov cr3, rax
 b3 jmp 0xbc
 b5 mov rax, qword ptr [rdi+0x10]
 b9 mov cr3, rax
 bc add rdi, 0x28
 c0 dec rcx
 c3 jmp 0x1f
`, b.String())
	assert.Less(t, execCodeOff+len(code), 4096)
	assert.GreaterOrEqual(t, execCodeOff, stubCommonOff+8)
}
