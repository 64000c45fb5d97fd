package traps

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/x86"
	"github.com/pvsim/pvsim/xen"
)

const handler = 0xffffffff80001000

func list(entries ...xen.TrapInfo) func(int) (xen.TrapInfo, error) {
	return func(i int) (xen.TrapInfo, error) {
		if i >= len(entries) {
			return xen.TrapInfo{}, xen.EFAULT
		}
		return entries[i], nil
	}
}

func TestSet(t *testing.T) {
	var tab, scratch Table
	tab[3] = xen.TrapInfo{Vector: 3, Address: handler + 3}
	require.NoError(t, tab.Set(list(xen.TrapInfo{Vector: 14, Address: handler}, xen.TrapInfo{}), &scratch))
	assert.Equal(t, uint64(handler), tab[14].Address)
	assert.Equal(t, uint64(handler+3), tab[3].Address, "entries not in the list stay")

	tests := []struct {
		name string
		list func(int) (xen.TrapInfo, error)
		want error
	}{
		{"hypervisor address", list(xen.TrapInfo{Vector: 6, Address: xen.HypervisorVirtStart}, xen.TrapInfo{}), xen.EINVAL},
		{"non-canonical", list(xen.TrapInfo{Vector: 6, Address: 1 << 50}, xen.TrapInfo{}), xen.EINVAL},
		{"unreadable", list(xen.TrapInfo{Vector: 6, Address: handler}), xen.EFAULT},
		{"no terminator", func(i int) (xen.TrapInfo, error) {
			if i >= 256 {
				t.Errorf("entry %d read: a list is refused at 256", i)
			}
			return xen.TrapInfo{Vector: 6, Address: handler}, nil
		}, xen.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tab
			err := tab.Set(tt.list, &scratch)
			assert.True(t, errors.Is(err, tt.want), "got %v, want %v", err, tt.want)
			assert.Equal(t, before, tab, "a refused list changes nothing")
		})
	}
}

func TestDeliver(t *testing.T) {
	var tab Table
	tab[x86.VectorPF] = xen.TrapInfo{Vector: 14, Flags: xen.TrapInfoSetIF, Address: handler} // an interrupt gate
	tab[x86.VectorUD] = xen.TrapInfo{Vector: 6, Address: handler + 6}
	tab[x86.VectorDF] = xen.TrapInfo{Vector: 8, Address: handler + 8}
	const flags = x86.FlagIF | x86.FlagRes1 | x86.FlagTF | x86.FlagAC | x86.FlagZF
	tests := []struct {
		name   string
		x      x86.Exception
		masked bool // the guest's evtchn_upcall_mask
		mode   Mode
		frame  []uint64
		err    string
	}{
		{
			name:  "#PF with error code, user bit cleared, stack aligned",
			x:     x86.Exception{Vector: x86.VectorPF, ErrorCode: x86.PFPresent | x86.PFWrite | x86.PFUser, RIP: 0x1234, CS: xen.FlatRing3CS64, RFLAGS: flags, RSP: 0x8008, SS: xen.FlatRing3SS64},
			frame: []uint64{0xc, 0x11, x86.PFPresent | x86.PFWrite, 0x1234, xen.FlatRing3CS64 &^ 3, flags, 0x8008, xen.FlatRing3SS64},
		},
		{
			name:  "#UD without error code",
			x:     x86.Exception{Vector: x86.VectorUD, RIP: 0x99, CS: xen.FlatRing3CS64, RFLAGS: flags, RSP: 0x8000, SS: xen.FlatRing3SS64},
			frame: []uint64{0xc, 0x11, 0x99, xen.FlatRing3CS64 &^ 3, flags, 0x8000, xen.FlatRing3SS64},
		},
		{
			name:   "events masked: IF clear in the frame, the mask in CS bits 32..39",
			x:      x86.Exception{Vector: x86.VectorUD, RIP: 0x99, CS: xen.FlatRing3CS64, RFLAGS: flags, RSP: 0x8000, SS: xen.FlatRing3SS64},
			masked: true,
			frame:  []uint64{0xc, 0x11, 0x99, xen.FlatRing3CS64&^3 | 1<<32, flags &^ x86.FlagIF, 0x8000, xen.FlatRing3SS64},
		},
		{
			name:  "#PF from user mode: on the kernel stack, the user CS and the user bit kept",
			x:     x86.Exception{Vector: x86.VectorPF, ErrorCode: x86.PFWrite | x86.PFUser, RIP: 0x400000, CS: 0x33, RFLAGS: flags, RSP: 0x7ff0, SS: 0x2b},
			mode:  Mode{User: true, KernelSP: 0xa00008},
			frame: []uint64{0xc, 0x11, x86.PFWrite | x86.PFUser, 0x400000, 0x33, flags, 0x7ff0, 0x2b},
		},
		{
			name:  "architectural IOPL: the vCPU's in the frame, never the handler's",
			x:     x86.Exception{Vector: x86.VectorUD, RIP: 0x99, CS: xen.FlatRing3CS64, RFLAGS: flags, RSP: 0x8000, SS: xen.FlatRing3SS64},
			mode:  Mode{IOPL: x86.FlagIOPL},
			frame: []uint64{0xc, 0x11, 0x99, xen.FlatRing3CS64 &^ 3, flags | x86.FlagIOPL, 0x8000, xen.FlatRing3SS64},
		},
		{name: "no handler", x: x86.Exception{Vector: x86.VectorGP}, err: "no guest trap handler"},
		{name: "#DF never", x: x86.Exception{Vector: x86.VectorDF}, err: "does not hand this vector"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b Bounce
			err := tab.Deliver(&tt.x, 0xc, 0x11, tt.masked, tt.mode, &b)
			if tt.err != "" {
				var u *Undeliverable
				require.ErrorAs(t, err, &u)
				assert.Contains(t, u.Reason, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.frame, b.Frame())
			sp := tt.x.RSP
			if tt.mode.User {
				sp = tt.mode.KernelSP
			}
			assert.Equal(t, sp&^15-uint64(len(tt.frame))*8, b.SP)
			assert.Zero(t, b.SP%8)
			assert.Equal(t, tab[tt.x.Vector].Address, b.RIP)
			assert.Equal(t, uint64(xen.FlatRing3CS64), b.CS)
			assert.Equal(t, uint64(x86.FlagIF|x86.FlagRes1|x86.FlagZF), b.RFLAGS, "TF and AC cleared, IF set")
			assert.Equal(t, tab[tt.x.Vector].Flags&xen.TrapInfoSetIF != 0, b.MaskEvents, "TI_SET_IF masks events on entry")
		})
	}
}

func TestIret(t *testing.T) {
	ok := xen.IretContext{RAX: 1, R11: 2, RCX: 3, RIP: handler, CS: xen.FlatRing3CS64 &^ 3,
		RFLAGS: x86.FlagIOPL | x86.FlagCF | 1<<3 | 1<<15 | 1<<40, RSP: 0x8000, SS: xen.FlatRing3SS64}
	r, err := Iret(ok)
	require.NoError(t, err)
	assert.Equal(t, Return{RIP: handler, RFLAGS: x86.FlagCF | x86.FlagIF | x86.FlagRes1, RSP: 0x8000, RAX: 1, RCX: 3, R11: 2, Restore: true,
		CS: xen.FlatRing3CS64, SS: xen.FlatRing3SS64}, r,
		"IOPL and the reserved bits cleared, IF and bit 1 set")
	sys := ok
	sys.Flags = xen.VGCFInSyscall
	r, err = Iret(sys)
	require.NoError(t, err)
	assert.False(t, r.Restore, "VGCF_in_syscall: RCX and R11 are not restored")
	user := ok
	user.CS, user.SS = 0x33|1<<32, 0x28 // Linux's __USER_CS, __USER_DS with RPL 0
	r, err = Iret(user)
	require.NoError(t, err)
	assert.True(t, r.User, "RPL 3: to user mode")
	assert.Equal(t, [2]uint16{0x33, 0x2b}, [2]uint16{r.CS, r.SS}, "the saved mask dropped, RPL forced to 3")
	kernel := ok
	kernel.CS, kernel.SS = 0x10, 0x18 // Linux's __KERNEL_CS, __KERNEL_DS
	r, err = Iret(kernel)
	require.NoError(t, err)
	assert.False(t, r.User, "RPL 0: to kernel mode")
	assert.Equal(t, [2]uint16{0x13, 0x1b}, [2]uint16{r.CS, r.SS}, "the caller checks the descriptors")
	for _, bad := range []xen.IretContext{
		{RIP: xen.HypervisorVirtStart, CS: xen.FlatRing3CS64 &^ 3}, // into the hypervisor
		{RIP: xen.HypervisorVirtStart, CS: xen.FlatRing3CS64},      // the same, from user mode
	} {
		_, err := Iret(bad)
		assert.Error(t, err, "%+v", bad)
	}
}
