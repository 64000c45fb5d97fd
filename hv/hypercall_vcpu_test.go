package hv

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/x86"
	"github.com/pvsim/pvsim/xen"
)

// linuxContext is a vcpu_guest_context as Linux's cpu_initialize_context
// fills it in (arch/x86/xen/smp_pv.c): kernel mode, IOPL 1 in RFLAGS, its
// __KERNEL_CS and __KERNEL_DS, a trap table, one GDT frame, the kernel
// stack, the event and failsafe callbacks, the kernel GS base, CR3.
func linuxContext() *[xen.VCPUCtxSize]byte {
	var b [xen.VCPUCtxSize]byte
	put := func(off int, v uint64) { binary.LittleEndian.PutUint64(b[off:], v) }
	const u = xen.VCPUCtxUserRegs
	put(xen.VCPUCtxFlags, xen.VGCFInKernel)
	put(u+xen.UserRegsRFLAGS, 0x1000)
	put(u+xen.UserRegsCS, 0x10)
	put(u+xen.UserRegsSS, 0x18)
	put(u+xen.UserRegsRIP, 0xffffffff81000000)
	put(u+xen.UserRegsRSP, 0xffffc90000088000)
	b[xen.VCPUCtxTrapCtxt+14*xen.TrapInfoSize] = 14
	put(xen.VCPUCtxTrapCtxt+14*xen.TrapInfoSize+8, 0xffffffff81001000)
	put(xen.VCPUCtxGDTFrames, 0x1234)
	put(xen.VCPUCtxGDTEnts, 16)
	put(xen.VCPUCtxKernelSS, 0x18)
	put(xen.VCPUCtxKernelSP, 0xffffc90000088000)
	put(xen.VCPUCtxGSBaseKernel, 0xffff88801f500000)
	put(xen.VCPUCtxEventCB, 0xffffffff81002000)
	put(xen.VCPUCtxFailsafeCB, 0xffffffff81003000)
	put(xen.VCPUCtxCtrlReg+3*8, 0x2a10000)
	return &b
}

func TestDecodeVCPUContext(t *testing.T) {
	var c vcpuContext
	require.NoError(t, c.decode(linuxContext()))
	st := &c.start
	assert.Equal(t, uint64(0xffffffff81000000), st.regs.RIP)
	assert.Equal(t, uint64(x86.FlagIF|x86.FlagRes1), st.regs.RFLAGS, "IOPL taken out, IF set")
	assert.Equal(t, 1, st.iopl, "the virtual IOPL from RFLAGS")
	assert.Equal(t, [2]uint16{0x13, 0x1b}, [2]uint16{st.cs, st.ss}, "RPL forced to 3")
	assert.Equal(t, uint64(0x1b), st.kernelSS)
	assert.Equal(t, uint64(0xffffffff81001000), st.table[14].Address)
	assert.Equal(t, uint64(0xffffffff81002000), st.callbacks.Event)
	assert.Equal(t, uint64(0x2a10000), st.cr3)
	assert.Equal(t, uint64(0x1234), c.gdtFrames[0])
	assert.Equal(t, uint64(16), c.gdtEnts)

	// Each hostile field alone is EINVAL.
	const nonCanonical = 0x0000800000000000
	for _, tt := range []struct {
		name string
		off  int
		val  uint64
	}{
		{"entry point in the hypervisor's range", xen.VCPUCtxUserRegs + xen.UserRegsRIP, xen.HypervisorVirtStart + 0x1000},
		{"non-canonical entry point", xen.VCPUCtxUserRegs + xen.UserRegsRIP, nonCanonical},
		{"non-canonical stack", xen.VCPUCtxUserRegs + xen.UserRegsRSP, nonCanonical},
		{"non-canonical kernel stack", xen.VCPUCtxKernelSP, nonCanonical},
		{"non-canonical trap handler", xen.VCPUCtxTrapCtxt + 3*xen.TrapInfoSize + 8, nonCanonical},
		{"non-canonical event callback", xen.VCPUCtxEventCB, nonCanonical},
		{"non-canonical syscall callback", xen.VCPUCtxSyscallCB, nonCanonical},
		{"non-canonical FS base", xen.VCPUCtxFSBase, nonCanonical},
		{"non-canonical user GS base", xen.VCPUCtxGSBaseUser, nonCanonical},
		{"non-canonical LDT", xen.VCPUCtxLDTBase, nonCanonical},
		{"too many LDT entries", xen.VCPUCtxLDTEnts, xen.MaxLDTEntries + 1},
		{"GDT entries into Xen's part", xen.VCPUCtxGDTEnts, xen.FirstReservedGDTByte/8 + 1},
		{"CR3 not page-aligned", xen.VCPUCtxCtrlReg + 3*8, 0x2a10008},
		{"not in kernel mode", xen.VCPUCtxFlags, xen.VGCFSyscallDisablesEvents},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := linuxContext()
			binary.LittleEndian.PutUint64(b[tt.off:], tt.val)
			var c vcpuContext
			assert.ErrorIs(t, c.decode(b), xen.EINVAL)
		})
	}
}

// FuzzDecodeVCPUContext: any context either is refused with EINVAL or
// decodes to a start a vCPU can take: an entry point the guest's,
// canonical addresses, IF set and no IOPL, selectors with RPL 3.
func FuzzDecodeVCPUContext(f *testing.F) {
	f.Add(linuxContext()[:])
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, in []byte) {
		var b [xen.VCPUCtxSize]byte
		copy(b[:], in)
		var c vcpuContext
		err := c.decode(&b)
		if err != nil {
			if !errors.Is(err, xen.EINVAL) {
				t.Fatalf("refused with %v, not EINVAL", err)
			}
			return
		}
		st := &c.start
		if !mmu.Canonical(st.regs.RIP) || st.regs.RIP >= xen.HypervisorVirtStart && st.regs.RIP < xen.HypervisorVirtEnd {
			t.Fatalf("entry point %#x", st.regs.RIP)
		}
		if st.regs.RFLAGS&x86.FlagIF == 0 || st.regs.RFLAGS&x86.FlagIOPL != 0 || st.iopl > 3 {
			t.Fatalf("RFLAGS %#x, IOPL %d", st.regs.RFLAGS, st.iopl)
		}
		if st.cs&3 != 3 || st.ss&3 != 3 || st.cr3%mmu.PageSize != 0 || c.ldtEnts > xen.MaxLDTEntries {
			t.Fatalf("cs %#x ss %#x cr3 %#x ldt %d", st.cs, st.ss, st.cr3, c.ldtEnts)
		}
		for _, e := range st.table {
			if !mmu.Canonical(e.Address) {
				t.Fatalf("trap handler %#x", e.Address)
			}
		}
	})
}
