package cpuid

// Xen's hypervisor leaves (public/arch-x86/cpuid.h).
const (
	// HypervisorBase is the first hypervisor leaf, XEN_CPUID_FIRST_LEAF.
	HypervisorBase = 0x40000000
	// hvLast is the last leaf Xen routes to cpuid_hypervisor_leaves.
	hvLast = 0x400001ff
	// hvMaxLeaves is XEN_CPUID_MAX_NUM_LEAVES: leaves 0x40000000 to
	// 0x40000005.
	hvMaxLeaves = 5

	// The "XenVMMXenVMM" signature of leaf 0x40000000
	// (XEN_CPUID_SIGNATURE_EBX/ECX/EDX).
	SignatureEBX = 0x566e6558 // "XenV"
	SignatureECX = 0x65584d4d // "MMXe"
	SignatureEDX = 0x4d4d566e // "nVMM"

	// FeatPreserveAD is XEN_CPUID_FEAT1_MMU_PT_UPDATE_PRESERVE_AD, leaf
	// 0x40000002 ECX bit 0.
	FeatPreserveAD = 1 << 0
	// XenMSRBase is where Xen's MSRs start (leaf 0x40000002 EBX): a
	// write to it installs the hypercall page.
	XenMSRBase = 0x40000000

	// Time leaf (0x40000003) subleaf 0 EAX bits.
	TSCEmulated     = 1 << 0 // XEN_CPUID_TSC_EMULATED
	HostTSCReliable = 1 << 1 // XEN_CPUID_HOST_TSC_RELIABLE
	RDTSCPAvailable = 1 << 2 // XEN_CPUID_RDTSCP_INSTR_AVAIL
)

// hypervisorLeaves fills the hypervisor leaves as Xen's
// cpuid_hypervisor_leaves does for a PV domain without Viridian.
// hostRDTSCP says the host has RDTSCP (Xen's boot_cpu_has).
func (p *Policy) hypervisorLeaves(major, minor int, hostRDTSCP bool, opt Options) {
	p.hv[0] = Leaf{EAX: HypervisorBase + hvMaxLeaves, EBX: SignatureEBX, ECX: SignatureECX, EDX: SignatureEDX}
	p.hv[1] = Leaf{EAX: uint32(major)<<16 | uint32(minor)&0xffff}
	p.hv[2] = Leaf{EAX: 1, EBX: XenMSRBase} // one hypercall page
	if opt.PreserveAD {
		p.hv[2].ECX |= FeatPreserveAD
	}
	t := opt.Time
	var a uint32
	if t.Emulated {
		a |= TSCEmulated
	}
	if t.Reliable {
		a |= HostTSCReliable
	}
	if hostRDTSCP {
		a |= RDTSCPAvailable
	}
	p.time[0] = Leaf{EAX: a, EBX: t.Mode, ECX: t.KHz, EDX: t.Incarnation}
	p.time[1] = Leaf{EAX: uint32(t.Offset), EBX: uint32(t.Offset >> 32), ECX: t.MulFrac, EDX: uint32(int32(t.Shift))}
	p.time[2] = Leaf{EAX: t.HostKHz}
	// Leaf 4 is HVM's and reads zero for PV; leaf 5 subleaf 0 gives the
	// machine address width in EBX, and 0 (its largest subleaf) in EAX.
	p.hv[5] = Leaf{EBX: uint32(opt.MachineAddressBits)}
}

// hypervisorLeaf answers leaf in 0x40000000-0x400001ff.
func (p *Policy) hypervisorLeaf(leaf, subleaf uint32) Leaf {
	idx := leaf - HypervisorBase
	switch {
	case idx > hvMaxLeaves:
		return Leaf{}
	case idx == 3:
		if subleaf < uint32(len(p.time)) {
			return p.time[subleaf]
		}
		return Leaf{}
	case idx == 5 && subleaf != 0:
		return Leaf{}
	}
	return p.hv[idx]
}
