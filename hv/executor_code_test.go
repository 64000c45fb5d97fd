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
 57 jz 0x79
 59 cmp r8, 0x2
 5d jz 0x82
 5f cmp r8, 0x3
 63 jz 0x9d
 65 cmp r8, 0x4
 69 jz 0xb0
 6b cmp r8, 0x5
 6f jz 0xb5
 71 cmp r8, 0x6
 75 jz 0xbd
 77 jmp 0xc4
 79 mov rax, qword ptr [rdi+0x10]
 7d mov qword ptr [rdx], rax
 80 jmp 0xc4
 82 mov rax, qword ptr [rdx]
 85 mov r8, rax
 88 and r8, qword ptr [rdi+0x10]
 8c or r8, qword ptr [rdi+0x18]
 90 lock cmpxchg qword ptr [rdx], r8
 95 jnz 0x85
 97 mov qword ptr [rdi+0x20], rax
 9b jmp 0xc4
 9d mov rax, qword ptr [rdi+0x10]
 a1 mov r8, qword ptr [rdi+0x18]
 a5 lock cmpxchg qword ptr [rdx], r8
 aa mov qword ptr [rdi+0x20], rax
 ae jmp 0xc4
 b0 invlpg byte ptr [rdx]
 b3 jmp 0xc4
 b5 mov rax, cr3
 b8 mov cr3, rax
 bb jmp 0xc4
 bd mov rax, qword ptr [rdi+0x10]
 c1 mov cr3, rax
 c4 add rdi, 0x28
 c8 dec rcx
 cb jmp 0x1f
`, b.String())
	assert.Less(t, execCodeOff+len(code), 4096)
	assert.GreaterOrEqual(t, execCodeOff, stubCommonOff+8)
}

// TestShortPathsDecode disassembles the two short CPL0 paths and checks
// that they fit between the stubs and the executor without overlapping.
func TestShortPathsDecode(t *testing.T) {
	for _, c := range []struct {
		code []byte
		want string
	}{
		{trapCmpXchgCode, "lock cmpxchg qword ptr [rdx], r8; out 0xe1, al"},
		{clearFlagsCode, "mov rax, qword ptr [rsi]; mov rdx, rax; and rdx, rdi; lock cmpxchg qword ptr [rsi], rdx; jnz 0x3; and rax, r10; iretq"},
	} {
		var insns []string
		for pc := 0; pc < len(c.code); {
			inst, err := x86asm.Decode(c.code[pc:], 64)
			require.NoError(t, err, "at %#x", pc)
			insns = append(insns, x86asm.IntelSyntax(inst, uint64(pc), nil))
			pc += inst.Len
		}
		assert.Equal(t, c.want, strings.Join(insns, "; "))
	}
	assert.GreaterOrEqual(t, clearFlagsOff, stubCommonOff+8)
	assert.LessOrEqual(t, clearFlagsOff+len(clearFlagsCode), trapCmpXchgOff)
	assert.LessOrEqual(t, trapCmpXchgOff+len(trapCmpXchgCode), execCodeOff)
}
