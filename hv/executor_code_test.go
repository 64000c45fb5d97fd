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
 4f jz 0x77
 51 cmp r8, 0x2
 55 jz 0x80
 57 cmp r8, 0x3
 5b jz 0x9b
 5d cmp r8, 0x4
 61 jz 0xae
 63 cmp r8, 0x5
 67 jz 0xb3
 69 cmp r8, 0x6
 6d jz 0xbb
 6f cmp r8, 0x7
 73 jz 0xc4
 75 jmp 0xdd
 77 mov rax, qword ptr [rdi+0x10]
 7b mov qword ptr [rdx], rax
 7e jmp 0xdd
 80 mov rax, qword ptr [rdx]
 83 mov r8, rax
 86 and r8, qword ptr [rdi+0x10]
 8a or r8, qword ptr [rdi+0x18]
 8e lock cmpxchg qword ptr [rdx], r8
 93 jnz 0x83
 95 mov qword ptr [rdi+0x20], rax
 99 jmp 0xdd
 9b mov rax, qword ptr [rdi+0x10]
 9f mov r8, qword ptr [rdi+0x18]
 a3 lock cmpxchg qword ptr [rdx], r8
 a8 mov qword ptr [rdi+0x20], rax
 ac jmp 0xdd
 ae invlpg byte ptr [rdx]
 b1 jmp 0xdd
 b3 mov rax, cr3
 b6 mov cr3, rax
 b9 jmp 0xdd
 bb mov rax, qword ptr [rdi+0x10]
 bf mov cr3, rax
 c2 jmp 0xdd
 c4 mov rax, qword ptr [rdx]
 c7 mov r8, rax
 ca and r8, qword ptr [rdi+0x10]
 ce lock cmpxchg qword ptr [rdx], r8
 d3 jnz 0xc7
 d5 and rax, qword ptr [rdi+0x18]
 d9 mov qword ptr [rsi+0x8], rax
 dd add rdi, 0x28
 e1 dec rcx
 e4 jmp 0x1f
`, b.String())
	assert.Less(t, execCodeOff+len(code), 4096)
	assert.GreaterOrEqual(t, execCodeOff, stubCommonOff+8)
}
