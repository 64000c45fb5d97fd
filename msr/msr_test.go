package msr

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pvsim/pvsim/x86"
)

func TestRead(t *testing.T) {
	s := &State{VCPU: 0, EFER: x86.EFERLME | x86.EFERLMA | x86.EFERNXE, TSC: 1234, FSBase: 1, GSBase: 2, ShadowGSBase: 3, GPHandler: true}
	for _, tt := range []struct {
		name  string
		index uint32
		vcpu  int
		want  uint64
		ok    bool
	}{
		{"FS base", x86.MSRFSBase, 0, 1, true},
		{"GS base", x86.MSRGSBase, 0, 2, true},
		{"shadow GS base", x86.MSRKernelGSBase, 0, 3, true},
		{"EFER", x86.MSREFER, 0, x86.EFERLME | x86.EFERLMA | x86.EFERNXE, true},
		{"APIC base of the BSP", x86.MSRAPICBase, 0, 0xfee00000 | x86.APICBaseEnable | x86.APICBaseBSP, true},
		{"APIC base of an AP", x86.MSRAPICBase, 1, 0xfee00000 | x86.APICBaseEnable, true},
		{"TSC", x86.MSRTSC, 0, 1234, true},
		{"PAT", x86.MSRPAT, 0, PAT, true},
		{"a PMC without a vPMU", 0xc1, 0, 0, true},
		{"LSTAR", x86.MSRLSTAR, 0, 0, false},
		{"SYSENTER_EIP", x86.MSRSysenterEIP, 0, 0, false},
		{"MTRR default type", x86.MSRMTRRDefType, 0, 0, false},
		{"past the hypervisor's first", x86.MSRHypervisorFirst + 1, 0, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s.VCPU = tt.vcpu
			got, ok := Read(tt.index, s)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
	// Without a #GP handler Xen reads 0 rather than kill the guest, but
	// not in the hypervisor's range.
	s.GPHandler = false
	v, ok := Read(x86.MSRLSTAR, s)
	assert.True(t, ok)
	assert.Zero(t, v)
	_, ok = Read(x86.MSRHypervisorFirst+1, s)
	assert.False(t, ok)
}

func TestWrite(t *testing.T) {
	s := &State{EFER: x86.EFERLME | x86.EFERLMA | x86.EFERNXE}
	for _, tt := range []struct {
		name  string
		index uint32
		value uint64
		want  Effect
		ok    bool
	}{
		{"FS base", x86.MSRFSBase, 0x1000, SetFSBase, true},
		{"GS base", x86.MSRGSBase, 0x2000, SetGSBase, true},
		{"shadow GS base", x86.MSRKernelGSBase, 0x3000, SetShadowGS, true},
		{"a non-canonical FS base", x86.MSRFSBase, 0x8000_0000_0000_0000, SetFSBase, false},
		{"EFER as it reads", x86.MSREFER, x86.EFERLME | x86.EFERLMA | x86.EFERNXE, Dropped, true},
		{"EFER with SCE", x86.MSREFER, x86.EFERLME | x86.EFERLMA | x86.EFERNXE | x86.EFERSCE, Dropped, false},
		{"MISC_ENABLE is dropped", x86.MSRMiscEnable, 1, Dropped, true},
		{"a PMC is dropped", 0x186, 5, Dropped, true},
		{"the hypercall page", x86.MSRHypervisorFirst, 0x5000, HypercallPage, true},
		{"LSTAR", x86.MSRLSTAR, 0x1000, 0, false},
		{"PAT", x86.MSRPAT, PAT, 0, false},
		{"TSC", x86.MSRTSC, 0, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Write(tt.index, tt.value, s)
			assert.Equal(t, tt.ok, ok)
			if ok {
				assert.Equal(t, tt.want, got)
			}
		})
	}
}

// TestMachineCheck: Xen's vMCE with nothing to report, two banks, the
// capabilities by vendor.
func TestMachineCheck(t *testing.T) {
	for _, tt := range []struct {
		name  string
		intel bool
		index uint32
		want  uint64
		ok    bool
	}{
		{"MCG_CAP on Intel: SER, TES, CMCI, 2 banks", true, x86.MSRMCGCap, 1<<24 | 1<<11 | 1<<10 | 2, true},
		{"MCG_CAP elsewhere: 2 banks", false, x86.MSRMCGCap, 2, true},
		{"MCG_STATUS", true, x86.MSRMCGStatus, 0, true},
		{"MCG_CTL without MCG_CTL_P", true, x86.MSRMCGCtl, 0, true},
		{"MC0_CTL: all ones", false, x86.MSRMC0Ctl, ^uint64(0), true},
		{"MC1_STATUS", false, x86.MSRMC0Ctl + 5, 0, true},
		{"MC1_MISC", false, x86.MSRMC0Ctl + 7, 0, true},
		{"MC2_CTL: past the banks", false, x86.MSRMC0Ctl + 8, 0, false},
		{"MC1_CTL2 on Intel", true, x86.MSRMC0Ctl2 + 1, 0, true},
		{"MC0_CTL2 elsewhere", false, x86.MSRMC0Ctl2, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := &State{IntelMCA: tt.intel, GPHandler: true}
			got, ok := Read(tt.index, s)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
			_, wok := Write(tt.index, 0, s)
			assert.Equal(t, tt.ok && tt.index != x86.MSRMCGCap, wok, "a write is accepted where a read is, MCG_CAP aside")
		})
	}
}
