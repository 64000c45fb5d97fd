// Package msr is Xen's MSR policy for a 64-bit PV guest, as an
// unprivileged domain without a vPMU meets it (Xen's guest_rdmsr,
// guest_wrmsr and the PV read_msr and write_msr): which MSRs a guest
// kernel's rdmsr reads and what, which wrmsr writes take effect, which are
// dropped, and which raise #GP. It decides; the hypervisor applies the
// effect a write has (a segment base, the hypercall page).
//
// Machine check architecture is Xen's vMCE with nothing to report: two
// banks (GUEST_MC_BANK_NUM), MCG_CAP as Xen sets it for the vendor, every
// status zero, every MCi_CTL all ones.
//
// Deviations from Xen, each because pvsim has no such state: writes to
// MCG_STATUS and the banks are accepted and not kept (Xen keeps them, for
// a vMCE it injects, which pvsim never does); microcode and the
// AMD-family registers Xen emulates for some vendors raise #GP;
// MSR_SPEC_CTRL and TSC_AUX raise #GP (their CPUID bits are hidden); the
// TSC reads what the caller supplies.
package msr

import (
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/x86"
)

// State is what the policy reads of the vCPU.
type State struct {
	// VCPU is the vCPU's id: vCPU 0 is the bootstrap processor.
	VCPU int
	// EFER is the EFER the guest runs with.
	EFER uint64
	// TSC is the time-stamp counter now.
	TSC uint64
	// FSBase, GSBase and ShadowGSBase are the segment bases: in kernel
	// mode GS is the kernel's and the shadow the user's.
	FSBase, GSBase, ShadowGSBase uint64
	// IntelMCA says the CPU is Intel's, whose vMCE capabilities Xen
	// gives a guest (and CTL2 registers); others get the banks alone.
	IntelMCA bool
	// GPHandler says the guest registered a #GP handler. Without one, Xen
	// reads 0 for an MSR it would refuse rather than kill the guest
	// ("faking RDMSR"), outside the hypervisor range.
	GPHandler bool
}

// Effect is what an accepted wrmsr does.
type Effect uint8

const (
	Dropped       Effect = iota // accepted and ignored
	SetFSBase                   // Value becomes the FS base
	SetGSBase                   // the GS base
	SetShadowGS                 // the shadow (user) GS base
	HypercallPage               // write the hypercall page at guest-physical Value &^ 0xfff
)

// PAT is the page attribute table Xen gives every PV guest (XEN_MSR_PAT).
const PAT = 0x0000050100070406

// eferVisible are the EFER bits a PV guest sees (Xen's read of EFER).
const eferVisible = x86.EFERSCE | x86.EFERLME | x86.EFERLMA | x86.EFERNXE | 1<<14 // FFXSE

// Read is rdmsr of index: the value, or false for #GP.
func Read(index uint32, s *State) (uint64, bool) {
	switch index {
	case x86.MSRFSBase:
		return s.FSBase, true
	case x86.MSRGSBase:
		return s.GSBase, true
	case x86.MSRKernelGSBase:
		return s.ShadowGSBase, true
	case x86.MSREFER:
		return s.EFER & eferVisible, true
	case x86.MSRAPICBase:
		v := uint64(x86.APICDefaultBase | x86.APICBaseEnable)
		if s.VCPU == 0 {
			v |= x86.APICBaseBSP
		}
		return v, true
	case x86.MSRTSC:
		return s.TSC, true
	case x86.MSRPAT:
		return PAT, true
	case x86.MSRMiscEnable:
		return x86.MiscEnableBTSUnavail | x86.MiscEnablePEBSUnavail | x86.MiscEnableXTPRDisable, true
	case x86.MSRPerfCapabilities, x86.MSRPlatformInfo, x86.MSRMiscFeaturesEnables:
		return 0, true
	case x86.MSRHypervisorFirst:
		return 0, true
	case x86.MSRMCGCap:
		if s.IntelMCA {
			return mcgSERP | mcgTESP | mcgCMCIP | GuestMCBanks, true
		}
		return GuestMCBanks, true
	case x86.MSRMCGStatus, x86.MSRMCGCtl: // MCG_CTL_P is not offered
		return 0, true
	}
	if perfCounter(index) {
		return 0, true
	}
	if mcBank(index, s) {
		if index >= x86.MSRMC0Ctl && (index-x86.MSRMC0Ctl)%4 == 0 {
			return ^uint64(0), true // MCi_CTL: every error reported
		}
		return 0, true
	}
	if !s.GPHandler && (index < x86.MSRHypervisorFirst || index > x86.MSRHypervisorLast) {
		return 0, true // Xen's "faking RDMSR" for a guest without a #GP handler
	}
	return 0, false
}

// Write is wrmsr of value to index: its effect, or false for #GP.
func Write(index uint32, value uint64, s *State) (Effect, bool) {
	switch index {
	case x86.MSRFSBase:
		return SetFSBase, mmu.Canonical(value)
	case x86.MSRGSBase:
		return SetGSBase, mmu.Canonical(value)
	case x86.MSRKernelGSBase:
		return SetShadowGS, mmu.Canonical(value)
	case x86.MSREFER:
		// A PV guest may write back what it reads, nothing else.
		return Dropped, value == s.EFER&eferVisible
	case x86.MSRMiscEnable:
		return Dropped, true
	case x86.MSRHypervisorFirst:
		return HypercallPage, true
	case x86.MSRMCGStatus, x86.MSRMCGCtl:
		return Dropped, true
	}
	if perfCounter(index) || mcBank(index, s) {
		return Dropped, true
	}
	return 0, false
}

// GuestMCBanks is how many machine check banks Xen's vMCE gives a guest
// (GUEST_MC_BANK_NUM).
const GuestMCBanks = 2

// MCG_CAP bits Xen's vMCE sets on Intel (INTEL_GUEST_MCG_CAP).
const (
	mcgCMCIP = 1 << 10 // MCG_CMCI_P
	mcgTESP  = 1 << 11 // MCG_TES_P
	mcgSERP  = 1 << 24 // MCG_SER_P
)

// mcBank reports whether index is a register of one of the guest's
// machine check banks (Xen's mce_bank_msr): MCi_CTL, STATUS, ADDR and
// MISC, and on Intel MCi_CTL2.
func mcBank(index uint32, s *State) bool {
	switch {
	case index >= x86.MSRMC0Ctl && index < x86.MSRMC0Ctl+4*GuestMCBanks:
		return true
	case s.IntelMCA && index >= x86.MSRMC0Ctl2 && index < x86.MSRMC0Ctl2+GuestMCBanks:
		return true
	}
	return false
}

// perfCounter reports whether index is one of the performance counters
// Xen reads as 0 and ignores writes to when the domain has no vPMU: Intel's
// PMCs, event selects, fixed counters and global controls.
func perfCounter(index uint32) bool {
	switch {
	case index >= 0xc1 && index <= 0xc8, // IA32_PMC0..7
		index >= 0x186 && index <= 0x18d, // IA32_PERFEVTSEL0..7
		index >= 0x309 && index <= 0x30b, // IA32_FIXED_CTR0..2
		index >= 0x38d && index <= 0x390: // FIXED_CTR_CTRL, PERF_GLOBAL_*
		return true
	}
	return false
}
