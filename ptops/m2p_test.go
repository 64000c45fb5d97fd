package ptops

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/xen"
)

func TestEmulateM2PRead(t *testing.T) {
	const m2p = xen.MachToPhysVirtStart
	const rip = 0x100000
	for _, tt := range []struct {
		name   string
		code   []byte
		rax    uint64 // RAX before
		rdx    uint64 // the address register
		cr2    uint64
		want   uint64 // RAX after
		reject bool
	}{
		{"mov (%rdx),%rax: a frame of the domain", []byte{0x48, 0x8b, 0x02}, 0, m2p + 7*8, m2p + 7*8, 7, false},
		{"mov (%rdx),%rax: beyond the domain", []byte{0x48, 0x8b, 0x02}, 0, m2p + 4096*8, m2p + 4096*8, xen.InvalidM2PEntry, false},
		{"mov (%rdx),%eax zero-extends", []byte{0x8b, 0x02}, ^uint64(0), m2p + 9*8, m2p + 9*8, 9, false},
		{"mov (%rdx),%ax merges", []byte{0x66, 0x8b, 0x02}, 0x1111_2222_3333_4444, m2p + 9*8, m2p + 9*8, 0x1111_2222_3333_0009, false},
		{"mov 4(%rdx),%eax reads an upper half", []byte{0x8b, 0x42, 0x04}, 0, m2p + 4096*8, m2p + 4096*8 + 4, 0xffffffff, false},
		{"movsbq (%rdx),%rax sign-extends", []byte{0x48, 0x0f, 0xbe, 0x02}, 0, m2p + 4096*8, m2p + 4096*8, ^uint64(0), false},
		{"movzbl (%rdx),%eax", []byte{0x0f, 0xb6, 0x02}, ^uint64(0), m2p + 200*8, m2p + 200*8, 200, false},
		{"a store is not a read", []byte{0x48, 0x89, 0x02}, 0, m2p, m2p, 0, true},
		{"add (%rdx),%rax is not a plain load", []byte{0x48, 0x03, 0x02}, 0, m2p, m2p, 0, true},
		{"outside the M2P", []byte{0x48, 0x8b, 0x02}, 0, m2p - 8, m2p - 8, 0, true},
		{"the fault is not at the operand", []byte{0x48, 0x8b, 0x42, 0x08}, 0, m2p + 16, m2p + 16, 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var regs Regs
			regs.RIP, regs.GPR[0], regs.GPR[2] = rip, tt.rax, tt.rdx
			before := regs
			err := EmulateM2PRead(nil, &regs, tt.cr2, tt.code, 4096)
			if tt.reject {
				var ne *NotEmulated
				assert.ErrorAs(t, err, &ne)
				assert.Equal(t, before, regs, "nothing changes")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, regs.GPR[0], "rax %#x", regs.GPR[0])
			assert.Equal(t, uint64(rip+len(tt.code)), regs.RIP)
		})
	}
}
