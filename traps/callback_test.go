package traps

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pvsim/pvsim/x86"
	"github.com/pvsim/pvsim/xen"
)

// callback_op as Xen's register_guest_callback and unregister_guest_callback.
func TestCallbacks(t *testing.T) {
	var c Callbacks
	var tbl Table
	const entry = 0x103000
	for _, tt := range []struct {
		name  string
		typ   xen.CallbackType
		flags uint16
		addr  uint64
		err   error
		got   func() uint64
	}{
		{"event", xen.CallbackEvent, 0, entry, nil, func() uint64 { return c.Event }},
		{"failsafe", xen.CallbackFailsafe, 0, entry + 1, nil, func() uint64 { return c.Failsafe }},
		{"syscall, masking events", xen.CallbackSyscall, xen.CallbackFlagMaskEvents, entry + 2, nil, func() uint64 { return c.Syscall }},
		{"syscall32", xen.CallbackSyscall32, xen.CallbackFlagMaskEvents, entry + 3, nil, func() uint64 { return c.Syscall32 }},
		{"sysenter", xen.CallbackSysenter, 0, entry + 4, nil, func() uint64 { return c.Sysenter }},
		{"nmi goes into the trap table", xen.CallbackNMI, 0, entry + 5, nil, func() uint64 { return tbl[x86.VectorNMI].Address }},
		{"non-canonical", xen.CallbackEvent, 0, 0x8000_0000_0000_0000, xen.EINVAL, func() uint64 { return c.Event }},
		{"unknown type", 3, 0, entry, xen.ENOSYS, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Register(&tbl, tt.typ, tt.flags, tt.addr)
			assert.Equal(t, tt.err, err)
			if tt.err == nil {
				assert.Equal(t, tt.addr, tt.got())
			} else if tt.got != nil {
				assert.NotEqual(t, tt.addr, tt.got(), "a refused registration changes nothing")
			}
		})
	}
	assert.True(t, c.MaskEvents[xen.CallbackSyscall])
	assert.False(t, c.MaskEvents[xen.CallbackSysenter])
	assert.Equal(t, xen.EINVAL, c.Unregister(&tbl, xen.CallbackEvent), "only the NMI callback can be unregistered")
	assert.Equal(t, xen.ENOSYS, c.Unregister(&tbl, 9))
	assert.NoError(t, c.Unregister(&tbl, xen.CallbackNMI))
	assert.Zero(t, tbl[x86.VectorNMI].Address)
}
