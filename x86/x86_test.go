package x86

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestDescriptors checks the builders against the descriptors Xen's x86-64
// GDT holds (xen/arch/x86/boot/x86_64.S, gdt_table), as hex.
func TestDescriptors(t *testing.T) {
	for _, tt := range []struct {
		name string
		got  Descriptor
		want uint64
	}{
		{"ring 0 code, 64-bit", Code64(0), 0x00af9b000000ffff},
		{"ring 0 data", Data(0), 0x00cf93000000ffff},
		{"ring 3 code, compatibility", Code32(3), 0x00cffb000000ffff},
		{"ring 3 data", Data(3), 0x00cff3000000ffff},
		{"ring 3 code, 64-bit", Code64(3), 0x00affb000000ffff},
		{"ring 0 code, compatibility", Code32(0), 0x00cf9b000000ffff},
		{"per-CPU entry of CPU 5", ReadOnlyData(0, 5), 0x0000910000000005},
	} {
		assert.Equal(t, tt.want, uint64(tt.got), "%s: %#x", tt.name, uint64(tt.got))
	}
	assert.Equal(t, 3, Code64(3).DPL())
	lo, hi := TSS64(0xffff808000110000, 0x67)
	assert.Equal(t, uint64(0x00008b1100000067), uint64(lo))
	assert.Equal(t, uint64(0xffff8080), uint64(hi))
}

func TestInterruptGate(t *testing.T) {
	g := InterruptGate(0xffff808000000200, 0xe008, 1, 0)
	assert.Equal(t, Gate{Lo: 0x00008e01e0080200, Hi: 0xffff8080}, g)
	assert.Equal(t, uint64(0xee), InterruptGate(0, 0, 0, 3).Lo>>40&0xff, "DPL 3 gate")
}

func TestVectors(t *testing.T) {
	for _, tt := range []struct {
		v        Vector
		mnemonic string
		errCode  bool
	}{
		{VectorDE, "DE", false}, {VectorNMI, "NMI", false}, {VectorDF, "DF", true},
		{VectorGP, "GP", true}, {VectorPF, "PF", true}, {VectorMF, "MF", false},
		{VectorAC, "AC", true}, {VectorCP, "CP", true}, {15, "vec15", false}, {0x20, "vec32", false},
	} {
		assert.Equal(t, tt.mnemonic, tt.v.Mnemonic(), "vector %d", tt.v)
		assert.Equal(t, tt.errCode, tt.v.HasErrorCode(), "vector %d", tt.v)
	}
	assert.True(t, VectorMC.UsesIST())
	assert.False(t, VectorPF.UsesIST())
}

func TestDescribe(t *testing.T) {
	for _, tt := range []struct {
		x    Exception
		want string
	}{
		{Exception{Vector: VectorPF, ErrorCode: PFWrite | PFUser, CR2: 0, CS: 0xe033,
			Code: [15]byte{0x48, 0xc7, 0x04, 0x25, 0, 0, 0, 0, 0xad, 0xde, 0, 0}, CodeLen: 12},
			"#PF (page fault) writing 0x0: page not present [error 0x6] on `mov qword ptr [0x0], 0xdead`"},
		{Exception{Vector: VectorGP, CS: 0xe033, Code: [15]byte{0x0f, 0x22, 0xdf}, CodeLen: 3},
			"#GP (general protection fault) [error 0x0] on `mov cr3, rdi`, a CPL0-only instruction (the PV guest kernel runs at CPL3)"},
		{Exception{Vector: VectorPF, ErrorCode: PFPresent | PFFetch | PFReserved, CR2: 0x1000},
			"#PF (page fault) fetching 0x1000: reserved bit set [error 0x19]"},
		{Exception{Vector: VectorUD}, "#UD (invalid opcode)"},
	} {
		assert.Equal(t, tt.want, tt.x.Describe())
	}
	w := Exception{Vector: VectorPF, ErrorCode: PFPresent | PFWrite}
	assert.True(t, w.IsWriteFault())
	w.ErrorCode = PFWrite
	assert.False(t, w.IsWriteFault(), "a write to a page not present is no protection fault")
}
