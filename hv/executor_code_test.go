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
 22 jnz 0x4c
 24 test qword ptr [rsi+0x10], 0x1
 2c jnz 0x32
 2e out 0xe1, al
 30 jmp 0x18
 32 mov qword ptr [rsi+0x10], 0x0
 3a mov rax, qword ptr [rsi+0x8]
 3e mov qword ptr [rsp+0x28], rax
 43 pop r8
 45 pop rdi
 46 pop rsi
 47 pop rdx
 48 pop rcx
 49 pop rax
 4a iretq
 4c mov r8, qword ptr [rdi]
 4f mov rdx, qword ptr [rdi+0x8]
 53 cmp r8, 0x1
 57 jz 0x7f
 59 cmp r8, 0x2
 5d jz 0x88
 5f cmp r8, 0x3
 63 jz 0xa3
 65 cmp r8, 0x4
 69 jz 0xb6
 6b cmp r8, 0x5
 6f jz 0xbb
 71 cmp r8, 0x6
 75 jz 0xc3
 77 cmp r8, 0x7
 7b jz 0xcc
 7d jmp 0xe5
 7f mov rax, qword ptr [rdi+0x10]
 83 mov qword ptr [rdx], rax
 86 jmp 0xe5
 88 mov rax, qword ptr [rdx]
 8b mov r8, rax
 8e and r8, qword ptr [rdi+0x10]
 92 or r8, qword ptr [rdi+0x18]
 96 lock cmpxchg qword ptr [rdx], r8
 9b jnz 0x8b
 9d mov qword ptr [rdi+0x20], rax
 a1 jmp 0xe5
 a3 mov rax, qword ptr [rdi+0x10]
 a7 mov r8, qword ptr [rdi+0x18]
 ab lock cmpxchg qword ptr [rdx], r8
 b0 mov qword ptr [rdi+0x20], rax
 b4 jmp 0xe5
 b6 invlpg byte ptr [rdx]
 b9 jmp 0xe5
 bb mov rax, cr3
 be mov cr3, rax
 c1 jmp 0xe5
 c3 mov rax, qword ptr [rdi+0x10]
 c7 mov cr3, rax
 ca jmp 0xe5
 cc mov rax, qword ptr [rdx]
 cf mov r8, rax
 d2 and r8, qword ptr [rdi+0x10]
 d6 lock cmpxchg qword ptr [rdx], r8
 db jnz 0xcf
 dd and rax, qword ptr [rdi+0x18]
 e1 mov qword ptr [rsi+0x8], rax
 e5 add rdi, 0x28
 e9 dec rcx
 ec jmp 0x1f
`, b.String())
	assert.Less(t, execCodeOff+len(code), 4096)
	assert.GreaterOrEqual(t, execCodeOff, stubCommonOff+8)
}
