// Package cpuid is the CPUID policy pvsim shows a PV guest: what the
// `cpuid` instruction answers, reached through Xen's forced-emulation
// prefix (`ud2; .ascii "xen"; cpuid`) or a faulting `cpuid`. It follows
// Xen's guest_cpuid for a 64-bit PV domain with the PV default policy
// (xen/arch/x86/cpuid.c, cpu-policy.c): the host's leaves, as KVM reports
// them (KVM_GET_SUPPORTED_CPUID), filtered to the features Xen's
// cpufeatureset.h marks 'A' (featureTable), with the leaves Xen hides
// zeroed, and Xen's hypervisor leaves at 0x40000000.
//
// How the policy is built (NewPV), and where it follows Xen:
//
//   - Features (calculate_pv_max_policy, calculate_pv_def_policy,
//     recalculate_cpuid_policy): the host's features that are marked 'A';
//     HYPERVISOR set; STIBP with IBRSB, AMD_STIBP with IBRS, IBPB when
//     the host has IBRSB (guest_common_feature_adjustments); IBRSB and
//     IBRS hidden unless the hypervisor virtualises MSR_SPEC_CTRL
//     (Options.SpecCtrl, Xen's SC_MSR_PV); SRSO_US_NO hidden (Xen keeps
//     it only while it holds BP_CFG.BP_SPEC_REDUCE set, which pvsim does
//     not); FDP_EXCP_ONLY and NO_FPU_SEL as the host's; RSBA or RRSBA
//     set as Xen does when MSR_ARCH_CAPABILITIES is visible;
//     then everything that depends on a hidden feature hidden
//     (sanitise_featureset, the dependency table of gen-cpuid.py).
//     X2APIC, VMX, SVM, PCID, INVPCID, PAGE1GB, SMEP, SMAP, VME, PSE,
//     PSE36, PGE, MTRR, MONITOR, DS, TSC_DEADLINE and the rest without 'A'
//     are hidden. A feature whose leaf the guest cannot see is no feature
//     of its. The same filter applies to MSR_ARCH_CAPABILITIES
//     (Options.HostArchCaps, Policy.ArchCaps).
//   - OSXSAVE and OSPKE are clear: Xen sets them from the guest's CR4,
//     and pvsim never lets the guest set CR4.OSXSAVE (below) and PV has no
//     PKE. Xen's non-architectural leak of OSXSAVE to an emulated CPUID
//     needs XSAVE in the policy, which pvsim hides.
//   - Leaf 1: family/model/stepping without the Intel processor type;
//     EBX's initial APIC ID zero (recalculate_misc and guest_cpuid give a
//     PV guest no APIC ID); CLFLUSH size and logical processor count as
//     the host's.
//   - Leaves 2-0xd: leaf 2 with AL forced to 1 on Intel, zero on AMD;
//     3 (PSN) and 9 (DCA) on Intel and AMD, 5 (MONITOR), 6
//     (thermal/power), 8, 0xa (PMU: pvsim offers no vPMU), 0xb (topology: Xen zeroes it, and fills it only with X2APIC,
//     which PV lacks), 0xc and 0xd (XSAVE, hidden) read zero; leaf 4's
//     subleaves as the host's with reserved bits cleared, up to the first
//     that is no cache, and zero on AMD; leaf 7 subleaves 0-2.
//   - Max leaves: basic min(host, 0xd), so 0x1f (v2 topology) and
//     everything above 0xd read zero; extended min(host, 0x80000021) on
//     AMD and Hygon, min(host, 0x80000008) elsewhere.
//   - Extended leaves: on Intel 0x80000000's vendor registers,
//     0x80000001's EAX/EBX, 0x80000005 and 0x80000006's EAX/EBX/EDX read
//     zero; on AMD 0x80000001 repeats leaf 1's family and leaf 1's EDX
//     features that AMD duplicates. 0x80000007 keeps only EDX's features
//     (none for PV). 0x80000008: physical address bits as the host's but
//     at least 36, linear address bits 48, guest physical bits hidden,
//     EDX zero, ECX zero on Intel and masked to 0x3f0ff on AMD.
//     0x8000000a (SVM), 0x80000019 (1 GiB TLB, no PAGE1GB), and on AMD
//     0x80000009, 0x8000000b-0x80000018 and 0x8000001b-0x80000020 read
//     zero; 0x80000021's EBX and EDX read zero.
//   - Out-of-range leaves, basic or extended, and leaves in no range read
//     all zeros, as Xen does ("following the AMD model"); Intel hardware
//     would instead repeat the highest basic leaf.
//
// Hypervisor leaves (cpuid_hypervisor_leaves for a PV domain): 0x40000000
// has the largest leaf, 0x40000005 (XEN_CPUID_MAX_NUM_LEAVES), and the
// "XenVMMXenVMM" signature; 0x40000001 the version major<<16 | minor;
// 0x40000002 one hypercall page, Xen's MSR base 0x40000000, and in ECX
// XEN_CPUID_FEAT1_MMU_PT_UPDATE_PRESERVE_AD when Options.PreserveAD says
// the hypervisor offers it (Xen always does for PV); 0x40000003 the time
// leaf, whose fields are what Options.Time states and zero otherwise
// (subleaf 0 EAX bit 2, RDTSCP, is the host's, as in Xen); 0x40000004,
// the HVM leaf, zero; 0x40000005 subleaf 0 EBX the machine address width
// Options.MachineAddressBits, the rest zero. Leaves 0x40000006-0x400001ff
// read zero.
//
// Deliberate pvsim deviations from Xen: pvsim does not let the guest set
// CR4.OSXSAVE or CR4.FSGSBASE, so XSAVE, FSGSBASE and everything that
// depends on XSAVE (XSAVEOPT, XSAVEC, XGETBV1, XSAVES, AVX, AVX2, FMA,
// FMA4, F16C, XOP, every AVX512 and AMX feature, VAES, VPCLMULQDQ, SHA512,
// SM3, SM4, the AVX-VNNI and AVX-IFMA families, ...) are hidden, and leaf
// 0xd reads zero. Xen's quirks for Intel Ivy Bridge RDRAND, TSX
// force-abort and Skylake-X CLWB, and for the hardware domain, are not
// reproduced: features are the host's (KVM's) there.
package cpuid

// Leaf is what one CPUID leaf answers.
type Leaf struct{ EAX, EBX, ECX, EDX uint32 }

// Get returns register r of l.
func (l Leaf) Get(r Reg) uint32 {
	switch r {
	case EAX:
		return l.EAX
	case EBX:
		return l.EBX
	case ECX:
		return l.ECX
	}
	return l.EDX
}

func (l *Leaf) set(r Reg, v uint32) {
	switch r {
	case EAX:
		l.EAX = v
	case EBX:
		l.EBX = v
	case ECX:
		l.ECX = v
	default:
		l.EDX = v
	}
}

// Array sizes of Xen's struct cpu_policy: the leaves and subleaves a guest
// can see at all (CPUID_GUEST_NR_*).
const (
	nrBasic      = 0xd + 1
	nrCache      = 5 + 1
	nrFeat       = 2 + 1
	nrExtdIntel  = 0x8 + 1
	nrExtdAMD    = 0x21 + 1
	leafExtended = 0x80000000
)

// Vendor is the CPU vendor leaf 0 names.
type Vendor uint8

// The vendors whose leaves Xen adjusts differently.
const (
	VendorOther Vendor = iota
	VendorIntel
	VendorAMD
	VendorHygon
)

// amdLike reports whether v follows AMD's extended leaves.
func (v Vendor) amdLike() bool { return v == VendorAMD || v == VendorHygon }

func vendorOf(l Leaf) Vendor {
	sig := string([]byte{
		byte(l.EBX), byte(l.EBX >> 8), byte(l.EBX >> 16), byte(l.EBX >> 24),
		byte(l.EDX), byte(l.EDX >> 8), byte(l.EDX >> 16), byte(l.EDX >> 24),
		byte(l.ECX), byte(l.ECX >> 8), byte(l.ECX >> 16), byte(l.ECX >> 24),
	})
	switch sig {
	case "GenuineIntel":
		return VendorIntel
	case "AuthenticAMD":
		return VendorAMD
	case "HygonGenuine":
		return VendorHygon
	}
	return VendorOther
}

// Options are the facts about the hypervisor the policy reports.
type Options struct {
	// PreserveAD says the hypervisor offers MMU_PT_UPDATE_PRESERVE_AD:
	// leaf 0x40000002 ECX bit 0 (XEN_CPUID_FEAT1_MMU_PT_UPDATE_PRESERVE_AD).
	PreserveAD bool
	// SpecCtrl says the hypervisor virtualises MSR_SPEC_CTRL for the
	// guest (Xen's X86_FEATURE_SC_MSR_PV). Without it, IBRSB, IBRS and
	// what depends on them (STIBP, SSBD, EIBRS, ...) are hidden.
	SpecCtrl bool
	// HostArchCaps is the host's MSR_ARCH_CAPABILITIES, or zero. The
	// guest's (ArchCaps) is the part of it a PV guest may see.
	HostArchCaps uint64
	// Time is the time leaf, 0x40000003.
	Time TimeLeaf
	// MachineAddressBits is leaf 0x40000005 subleaf 0 EBX[7:0]: the
	// width of a machine address, memory hotplug included (Xen:
	// flsl(get_upper_mfn_bound()) + PAGE_SHIFT).
	MachineAddressBits uint8
}

// TimeLeaf is hypervisor leaf 0x40000003, Xen's time leaf. Fields left
// zero read as zero.
type TimeLeaf struct {
	// Subleaf 0: EAX bit 0 the TSC is emulated (Xen's d->arch.vtsc), bit
	// 1 the host TSC is reliable (host_tsc_is_safe); EBX the tsc_mode
	// (XEN_CPUID_TSC_MODE_*); ECX the guest TSC frequency in kHz; EDX the
	// incarnation (migration count).
	Emulated, Reliable bool
	Mode               uint32
	KHz                uint32
	Incarnation        uint32
	// Subleaf 1: EAX/EBX the TSC offset, ECX and EDX the multiplier and
	// shift that convert TSC ticks to nanoseconds.
	Offset  uint64
	MulFrac uint32
	Shift   int8
	// Subleaf 2: EAX the host TSC frequency in kHz.
	HostKHz uint32
}

// Policy is the CPUID a PV guest sees. It is immutable once built and
// safe for concurrent use.
type Policy struct {
	vendor   Vendor
	basic    [nrBasic]Leaf
	cache    [nrCache]Leaf
	feat     [nrFeat]Leaf
	extd     [nrExtdAMD]Leaf
	maxBasic uint32 // leaf 0's EAX
	maxExtd  uint32 // 0x80000000's EAX, low 16 bits
	hasExtd  bool   // the host has extended leaves
	features featureSet
	hv       [hvMaxLeaves + 1]Leaf // hypervisor leaves, subleaf 0
	time     [3]Leaf               // the time leaf's subleaves
}

// NewPV builds the PV policy from the host's leaves: host(leaf, subleaf)
// answers as the host CPU, or KVM_GET_SUPPORTED_CPUID, would (zeros for a
// leaf it lacks; see Table). xenMajor and xenMinor are the Xen version
// hypervisor leaf 0x40000001 reports.
func NewPV(host func(leaf, subleaf uint32) Leaf, xenMajor, xenMinor int, opt Options) *Policy {
	p := &Policy{}
	h0 := host(0, 0)
	p.vendor = vendorOf(h0)
	p.maxBasic = min(h0.EAX, nrBasic-1)
	hostBasic := func(leaf, subleaf uint32) Leaf {
		if leaf > h0.EAX {
			return Leaf{}
		}
		return host(leaf, subleaf)
	}
	hostMaxExtd := host(leafExtended, 0).EAX
	hostExtd := func(leaf uint32) Leaf {
		if hostMaxExtd < leafExtended || leaf > hostMaxExtd {
			return Leaf{}
		}
		return host(leaf, 0)
	}
	nrExtd := uint32(nrExtdIntel)
	if p.vendor.amdLike() {
		nrExtd = nrExtdAMD
	}
	if hostMaxExtd >= leafExtended {
		p.hasExtd = true
		p.maxExtd = min(hostMaxExtd&0xffff, nrExtd-1)
	}

	// The host's featureset, then the guest's.
	var hostFS featureSet
	for w, loc := range featureWords {
		switch {
		case loc.msr:
			hostFS[w] = uint32(opt.HostArchCaps >> (32 * (w - 16)))
		case loc.leaf >= leafExtended:
			hostFS[w] = hostExtd(loc.leaf).Get(loc.reg)
		default:
			if loc.leaf == 7 && loc.subleaf > hostBasic(7, 0).EAX {
				continue
			}
			hostFS[w] = hostBasic(loc.leaf, loc.subleaf).Get(loc.reg)
		}
	}
	p.features = pvFeatures(&hostFS, opt)

	// Basic leaves.
	for leaf := uint32(0); leaf <= p.maxBasic; leaf++ {
		p.basic[leaf] = hostBasic(leaf, 0)
	}
	p.basic[0].EAX = p.maxBasic
	p.basic[1].EAX &= 0x0fff0fff          // processor type
	p.basic[1].EBX &= 0x00ffffff          // initial APIC ID
	p.basic[1].ECX, p.basic[1].EDX = 0, 0 // features, below
	for _, leaf := range []uint32{0x5, 0x6, 0x8, 0xa, 0xb, 0xc, 0xd} {
		p.basic[leaf] = Leaf{}
	}
	switch p.vendor {
	case VendorIntel:
		p.basic[2].EAX = p.basic[2].EAX&^0xff | 1 // one query
		p.basic[3], p.basic[9] = Leaf{}, Leaf{}
	case VendorAMD, VendorHygon:
		p.basic[2], p.basic[3], p.basic[9] = Leaf{}, Leaf{}, Leaf{}
	}
	if p.maxBasic >= 4 && !p.vendor.amdLike() {
		for i := range p.cache {
			l := hostBasic(4, uint32(i))
			if typ := l.EAX & 0x1f; typ < 1 || typ > 3 {
				break // no cache: it and the rest read zero
			}
			l.EAX &= 0xffffc3ff
			l.EDX &= 0x7
			p.cache[i] = l
		}
	}
	if p.maxBasic >= 7 {
		maxSub := min(hostBasic(7, 0).EAX, nrFeat-1)
		for i := uint32(0); i <= maxSub; i++ {
			p.feat[i] = hostBasic(7, i)
		}
		p.feat[0].EAX = maxSub
	}

	// Extended leaves.
	if p.hasExtd {
		for i := uint32(0); i <= p.maxExtd; i++ {
			p.extd[i] = hostExtd(leafExtended + i)
		}
		p.extd[0].EAX = leafExtended | p.maxExtd
		if p.maxExtd >= 8 {
			e := &p.extd[8]
			phys := max(e.EAX&0xff, 36)
			lin := uint32(32)
			if p.features.has(fLM) {
				lin = 48
			}
			e.EAX = phys | lin<<8
			e.EDX = 0
		}
		if p.maxExtd >= 7 {
			p.extd[7] = Leaf{}
		}
		p.extd[0xa] = Leaf{}  // SVM
		p.extd[0x19] = Leaf{} // 1 GiB TLB: PV has no PAGE1GB
		p.extd[0x21].EBX = 0  // AMD only: the rest of 0x80000021
		p.extd[0x21].EDX = 0  //
		p.extd[1].ECX = 0     // features, below
		p.extd[1].EDX = 0     //
		switch p.vendor {
		case VendorIntel:
			p.extd[0].EBX, p.extd[0].ECX, p.extd[0].EDX = 0, 0, 0
			p.extd[1].EAX, p.extd[1].EBX = 0, 0
			p.extd[5] = Leaf{}
			p.extd[6].EAX, p.extd[6].EBX, p.extd[6].EDX = 0, 0, 0
			p.extd[8].ECX = 0
		case VendorAMD, VendorHygon:
			p.extd[0].EBX, p.extd[0].ECX, p.extd[0].EDX = p.basic[0].EBX, p.basic[0].ECX, p.basic[0].EDX
			p.extd[1].EAX = p.basic[1].EAX
			p.extd[1].EBX &= 0xff00ffff
			p.extd[8].ECX &= 0x0003f0ff
			p.extd[9] = Leaf{}
			for i := 0xb; i <= 0x18; i++ {
				p.extd[i] = Leaf{}
			}
			for i := 0x1b; i <= 0x20; i++ {
				p.extd[i] = Leaf{}
			}
		}
		if p.maxExtd < uint32(len(p.extd)-1) {
			clear(p.extd[p.maxExtd+1:])
		}
	}

	// The features, into the leaves that report them. A word whose leaf
	// the guest cannot see is no feature of its.
	for w, loc := range featureWords {
		if loc.msr {
			continue
		}
		if l := p.leaf(loc.leaf, loc.subleaf); l != nil {
			l.set(loc.reg, p.features[w])
		} else {
			p.features[w] = 0
		}
	}
	if p.vendor.amdLike() && p.maxExtd >= 1 {
		// AMD duplicates leaf 1's common EDX features in 0x80000001.
		p.extd[1].EDX |= p.basic[1].EDX & common1D
	}

	p.hypervisorLeaves(xenMajor, xenMinor, hostFS.has(fRDTSCP), opt)
	return p
}

// leaf returns the stored leaf that holds (leaf, subleaf), or nil for one
// the policy does not store or that reads zero.
func (p *Policy) leaf(leaf, subleaf uint32) *Leaf {
	switch {
	case leaf <= p.maxBasic && leaf < nrBasic:
		switch leaf {
		case 4:
			if subleaf < nrCache {
				return &p.cache[subleaf]
			}
			return nil
		case 7:
			if subleaf <= p.feat[0].EAX && subleaf < nrFeat {
				return &p.feat[subleaf]
			}
			return nil
		case 0xb, 0xd:
			return nil // topology and XSAVE: zero
		}
		return &p.basic[leaf]
	case p.hasExtd && leaf >= leafExtended && leaf-leafExtended <= p.maxExtd:
		return &p.extd[leaf-leafExtended]
	}
	return nil
}

// Query answers CPUID leaf, subleaf as the guest sees it: Xen's
// guest_cpuid.
func (p *Policy) Query(leaf, subleaf uint32) Leaf {
	if leaf >= HypervisorBase && leaf <= hvLast {
		return p.hypervisorLeaf(leaf, subleaf)
	}
	if l := p.leaf(leaf, subleaf); l != nil {
		return *l
	}
	return Leaf{}
}

// Vendor is the CPU vendor of the host, which the guest sees.
func (p *Policy) Vendor() Vendor { return p.vendor }

// Has reports whether the guest sees feature f.
func (p *Policy) Has(f Feature) bool { return f.valid() && p.features.has(f) }

// ArchCaps is the guest's MSR_ARCH_CAPABILITIES (0x10a): Xen's guest_rdmsr
// answers it when the ARCH_CAPS feature is visible, and #GP otherwise.
func (p *Policy) ArchCaps() uint64 {
	return uint64(p.features[16]) | uint64(p.features[17])<<32
}

// common1D are the leaf 1 EDX features AMD repeats in 0x80000001 EDX
// (Xen's CPUID_COMMON_1D_FEATURES).
var common1D = func() uint32 {
	var m uint32
	for _, n := range []string{"FPU", "VME", "DE", "PSE", "TSC", "MSR", "PAE", "MCE", "CX8", "APIC",
		"MTRR", "PGE", "MCA", "CMOV", "PAT", "PSE36", "MMX", "FXSR"} {
		m |= feature(n).Mask()
	}
	return m
}()

// Features the policy code names.
var (
	fLM, fHypervisor, fRDTSCP = feature("LM"), feature("HYPERVISOR"), feature("RDTSCP")
	fXSAVE, fOSXSAVE, fOSPKE  = feature("XSAVE"), feature("OSXSAVE"), feature("OSPKE")
	fFSGSBASE                 = feature("FSGSBASE")
	fIBRSB, fIBRS, fIBPB      = feature("IBRSB"), feature("IBRS"), feature("IBPB")
	fSTIBP, fAMDSTIBP         = feature("STIBP"), feature("AMD_STIBP")
	fSRSOUSNo, fSRSOMSRFix    = feature("SRSO_US_NO"), feature("SRSO_MSR_FIX")
	fFDPExcpOnly, fNoFPUSel   = feature("FDP_EXCP_ONLY"), feature("NO_FPU_SEL")
	fArchCaps, fEIBRS         = feature("ARCH_CAPS"), feature("EIBRS")
	fRSBA, fRRSBA             = feature("RSBA"), feature("RRSBA")
)

// pvFeatures computes the PV guest's featureset from the host's:
// calculate_pv_max_policy, then calculate_pv_def_policy and
// recalculate_cpuid_policy, for a default (not hardware) domain.
func pvFeatures(host *featureSet, opt Options) featureSet {
	fs := *host
	fs.and(&known)
	// The max policy; of its extra 'a' features and X2APIC only what
	// survives the default mask below matters, so they are left out.
	if !opt.SpecCtrl {
		fs.clear(fIBRSB)
		fs.clear(fIBRS)
	}
	// SRSO_US_NO holds across a PV guest's user/kernel boundary (both
	// CPL3) only while the hypervisor keeps BP_CFG.BP_SPEC_REDUCE set,
	// which pvsim does not: Xen hides it then.
	fs.clear(fSRSOUSNo)
	// The default policy.
	fs.and(&pvDefault)
	fs.set(fHypervisor) // guest_common_feature_adjustments
	if fs.has(fIBRSB) {
		fs.set(fSTIBP)
	}
	if fs.has(fIBRS) {
		fs.set(fAMDSTIBP)
	}
	if host.has(fIBRSB) {
		fs.set(fIBPB)
	}
	// pvsim: no XSAVE, no FSGSBASE (the guest cannot set CR4.OSXSAVE or
	// CR4.FSGSBASE).
	fs.clear(fXSAVE)
	fs.clear(fFSGSBASE)
	fs.sanitise()
	if fs.has(fArchCaps) && (host.has(fRSBA) || host.has(fRRSBA)) {
		if fs.has(fEIBRS) {
			fs.set(fRRSBA)
		} else {
			fs.set(fRSBA)
		}
	}
	// recalculate_cpuid_policy: FDP_EXCP_ONLY and NO_FPU_SEL are the
	// host's; OSXSAVE and OSPKE follow CR4 (never set for pvsim).
	for _, f := range []Feature{fFDPExcpOnly, fNoFPUSel} {
		if host.has(f) {
			fs.set(f)
		} else {
			fs.clear(f)
		}
	}
	fs.clear(fOSXSAVE)
	fs.clear(fOSPKE)
	return fs
}

// Entry is one host CPUID leaf as KVM_GET_SUPPORTED_CPUID lists it
// (struct kvm_cpuid_entry2): Indexed says the subleaf (Index) matters
// (KVM_CPUID_FLAG_SIGNIFCANT_INDEX).
type Entry struct {
	Function, Index uint32
	Indexed         bool
	Leaf
}

// Table makes a host function for NewPV from KVM's entries: a leaf not
// listed reads zero, and a leaf that is not Indexed answers every subleaf.
func Table(entries []Entry) func(leaf, subleaf uint32) Leaf {
	type key struct{ leaf, subleaf uint32 }
	m := make(map[key]Leaf, len(entries))
	for _, e := range entries {
		sub := e.Index
		if !e.Indexed {
			sub = ^uint32(0)
		}
		m[key{e.Function, sub}] = e.Leaf
	}
	return func(leaf, subleaf uint32) Leaf {
		if l, ok := m[key{leaf, subleaf}]; ok {
			return l
		}
		return m[key{leaf, ^uint32(0)}]
	}
}
