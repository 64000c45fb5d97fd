package guestsym

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestOopsText(t *testing.T) {
	pf := "BUG: unable to handle page fault for address: ffffffff80123000\n" +
		"#PF: supervisor write access in kernel mode\n" +
		"Oops: 0003 [#1] SMP\n" +
		"RIP: e033:ptep_test_and_clear_young+0x9/0x20\n" +
		"Kernel panic - not syncing: Fatal exception\n"
	tests := []struct {
		name, console, want string
	}{
		{"page fault oops", "boot\nptwr-oops: writing\n" + pf, pf[:len(pf)-1]},
		{"the last of two", pf + "later\n" + pf, pf[:len(pf)-1]},
		{"general protection fault", "x\ngeneral protection fault: 0000 [#1] SMP\nRIP: e033:f+0x1/0x2\n",
			"general protection fault: 0000 [#1] SMP\nRIP: e033:f+0x1/0x2"},
		{"a die() of another vector", "x\ndivide error: 0000 [#1] SMP\n", "divide error: 0000 [#1] SMP"},
		{"panic only", "x\nKernel panic - not syncing: out of memory\n", "Kernel panic - not syncing: out of memory"},
		{"kernel BUG", "x\nkernel BUG at guest/lib/mm.c:12!\n", "kernel BUG at guest/lib/mm.c:12!"},
		{"nothing", "hello\nworld\n", ""},
		{"an Oops line alone", "x\nOops: 0002 [#1] SMP\nRIP: e033:f+0x0/0x1\n", "Oops: 0002 [#1] SMP\nRIP: e033:f+0x0/0x1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, OopsText([]byte(tt.console)))
		})
	}
}
