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
	assert.Equal(t, `  0 push r15
  2 push r14
  4 push r13
  6 push r12
  8 push r11
  a push r10
  c push r9
  e push r8
 10 push rdi
 11 push rsi
 12 push rbp
 13 push rbx
 14 push rdx
 15 push rcx
 16 push rax
 17 mov rsi, rsp
 1a and rsi, -0x40000
 21 add rsi, 0x38000
 28 mov rcx, qword ptr [rsi]
 2b lea rdi, ptr [rsi+0x18]
 2f test rcx, rcx
 32 jnz 0x63
 34 test qword ptr [rsi+0x10], 0x1
 3c jnz 0x42
 3e out 0xe1, al
 40 jmp 0x28
 42 mov rax, qword ptr [rsi+0x8]
 46 mov qword ptr [rsp], rax
 4a pop rax
 4b pop rcx
 4c pop rdx
 4d pop rbx
 4e pop rbp
 4f pop rsi
 50 pop rdi
 51 pop r8
 53 pop r9
 55 pop r10
 57 pop r11
 59 pop r12
 5b pop r13
 5d pop r14
 5f pop r15
 61 iretq
 63 mov r8, qword ptr [rdi]
 66 mov rdx, qword ptr [rdi+0x8]
 6a cmp r8, 0x1
 6e jz 0x90
 70 cmp r8, 0x2
 74 jz 0x99
 76 cmp r8, 0x3
 7a jz 0xb4
 7c cmp r8, 0x4
 80 jz 0xc7
 82 cmp r8, 0x5
 86 jz 0xcc
 88 cmp r8, 0x6
 8c jz 0xd4
 8e jmp 0xdb
 90 mov rax, qword ptr [rdi+0x10]
 94 mov qword ptr [rdx], rax
 97 jmp 0xdb
 99 mov rax, qword ptr [rdx]
 9c mov r8, rax
 9f and r8, qword ptr [rdi+0x10]
 a3 or r8, qword ptr [rdi+0x18]
 a7 lock cmpxchg qword ptr [rdx], r8
 ac jnz 0x9c
 ae mov qword ptr [rdi+0x20], rax
 b2 jmp 0xdb
 b4 mov rax, qword ptr [rdi+0x10]
 b8 mov r8, qword ptr [rdi+0x18]
 bc lock cmpxchg qword ptr [rdx], r8
 c1 mov qword ptr [rdi+0x20], rax
 c5 jmp 0xdb
 c7 invlpg byte ptr [rdx]
 ca jmp 0xdb
 cc mov rax, cr3
 cf mov cr3, rax
 d2 jmp 0xdb
 d4 mov rax, qword ptr [rdi+0x10]
 d8 mov cr3, rax
 db add rdi, 0x28
 df dec rcx
 e2 jmp 0x2f
`, b.String())
	assert.Less(t, execCodeOff+len(code), 4096)
	assert.GreaterOrEqual(t, execCodeOff, stubCommonOff+8)
}
