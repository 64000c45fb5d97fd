package cpuid

import (
	"testing"
)

const ones = ^uint32(0)

// junk is what the synthetic hosts answer for a leaf they do not list: the
// policy must never pass it on.
var junk = Leaf{0xdead0001, 0xdead0002, 0xdead0003, 0xdead0004}

type hostLeaves map[[2]uint32]Leaf

// host answers as a CPU would: a listed (leaf, subleaf), else the leaf's
// subleaf 0 for leaves without subleaves, else junk.
func (h hostLeaves) host(leaf, subleaf uint32) Leaf {
	if l, ok := h[[2]uint32{leaf, subleaf}]; ok {
		return l
	}
	switch leaf {
	case 4, 7, 0xb, 0xd, 0x1f:
		return junk
	}
	if l, ok := h[[2]uint32{leaf, 0}]; ok {
		return l
	}
	return junk
}

func vendorLeaf(max uint32, vendor string) Leaf {
	w := func(s string) uint32 { return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24 }
	return Leaf{EAX: max, EBX: w(vendor[0:4]), EDX: w(vendor[4:8]), ECX: w(vendor[8:12])}
}

// intelHost has every feature bit set, leaves up to 0x20 and
// 0x80000008, and something in every leaf the policy must hide.
func intelHost() hostLeaves {
	return hostLeaves{
		{0, 0}:          vendorLeaf(0x20, "GenuineIntel"),
		{1, 0}:          {0x000336c3, 0x05100800, ones, ones}, // processor type 3, APIC ID 5
		{2, 0}:          {0x76036302, 0x00f0b5ff, 0, 0x00c30000},
		{3, 0}:          {1, 2, 3, 4},
		{4, 0}:          {0x1c004121 | 0x3c00, 0x01c0003f, 0x3f, 0xfffffff8 | 5}, // reserved bits set
		{4, 1}:          {0x1c004122, 0x01c0003f, 0x3f, 0},
		{4, 2}:          {0x1c004143, 0x01c0003f, 0x1ff, 0},
		{4, 3}:          {0x1c03c163, 0x03c0003f, 0x3fff, 6},
		{4, 4}:          {0, 0, 0, 0},
		{4, 5}:          {0x1c004121, 1, 2, 3}, // after the end: hidden
		{5, 0}:          {0x40, 0x40, 3, 0x11142120},
		{6, 0}:          {0x77, 2, 9, 0},
		{7, 0}:          {2, ones, ones, ones},
		{7, 1}:          {ones, ones, ones, ones},
		{7, 2}:          {0, 0, 0, ones},
		{7, 3}:          {ones, ones, ones, ones},
		{8, 0}:          {1, 1, 1, 1},
		{9, 0}:          {1, 1, 1, 1},
		{0xa, 0}:        {0x07300805, 0, 0, 0x603},
		{0xb, 0}:        {1, 2, 0x100, 5},
		{0xb, 1}:        {4, 8, 0x201, 5},
		{0xc, 0}:        {1, 1, 1, 1},
		{0xd, 0}:        {0x2e7, 0xa88, 0xa88, 0},
		{0xd, 1}:        {0xf, 0, 0, 0},
		{0x14, 0}:       {1, 1, 1, 1},
		{0x1f, 0}:       {1, 2, 0x100, 5},
		{0x1f, 1}:       {4, 8, 0x201, 5},
		{0x40000000, 0}: {0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d}, // KVM's
		{0x40000001, 0}: {0x01007afb, 0, 0, 0},
		{0x80000000, 0}: vendorLeaf(0x80000008, "GenuineIntel"),
		{0x80000001, 0}: {0x12345678, 0x9abcdef0, ones, ones},
		{0x80000002, 0}: {0x65746e49, 0x2952286c, 0x726f4320, 0x4d542865},
		{0x80000003, 0}: {1, 2, 3, 4},
		{0x80000004, 0}: {5, 6, 7, 8},
		{0x80000005, 0}: {1, 2, 3, 4},
		{0x80000006, 0}: {1, 2, 0x01006040, 4},
		{0x80000007, 0}: {1, 2, 3, ones},
		{0x80000008, 0}: {0x00aa3027, ones, ones, ones},
	}
}

// amdHost is an AMD host with every feature bit set.
func amdHost() hostLeaves {
	h := hostLeaves{
		{0, 0}:          vendorLeaf(0x10, "AuthenticAMD"),
		{1, 0}:          {0x00a20f12, 0x07200800, ones, ones},
		{2, 0}:          {1, 2, 3, 4},
		{4, 0}:          {0x1c004121, 0x01c0003f, 0x3f, 0},
		{5, 0}:          {0x40, 0x40, 3, 0x11},
		{7, 0}:          {1, ones, ones, ones},
		{7, 1}:          {ones, ones, ones, ones},
		{0xb, 0}:        {1, 2, 0x100, 7},
		{0xd, 0}:        {0x207, 0x340, 0x988, 0},
		{0x80000000, 0}: vendorLeaf(0x80000028, "AuthenticAMD"),
		{0x80000001, 0}: {0x00a20f12, 0x20000000 | 0x00ff0000, ones, ones},
		{0x80000005, 0}: {1, 2, 3, 4},
		{0x80000006, 0}: {1, 2, 3, 4},
		{0x80000007, 0}: {1, 2, 3, ones},
		{0x80000008, 0}: {0x00303030, ones, ones, ones},
	}
	for i := uint32(0x80000009); i <= 0x80000028; i++ {
		h[[2]uint32{i, 0}] = Leaf{i, i, i, i}
	}
	h[[2]uint32{0x80000021, 0}] = Leaf{ones, ones, ones, ones}
	return h
}

func mustFeature(t *testing.T, name string) Feature {
	t.Helper()
	f, ok := Lookup(name)
	if !ok {
		t.Fatalf("no feature %s", name)
	}
	return f
}

// visible reports whether the policy shows f at its CPUID location.
func visible(p *Policy, f Feature) bool {
	leaf, sub, reg, ok := f.Location()
	if !ok {
		return p.ArchCaps()&(1<<uint(f-16*32)) != 0
	}
	return p.Query(leaf, sub).Get(reg)&f.Mask() != 0
}

func TestHiddenFeatures(t *testing.T) {
	hosts := map[string]hostLeaves{"intel": intelHost(), "amd": amdHost()}
	hidden := []string{
		// No 'A': PV guests never see them.
		"VME", "PSE", "PSE36", "PGE", "MTRR", "DS", "TM1", "PBE",
		"DTES64", "MONITOR", "DSCPL", "VMX", "SMX", "EIST", "TM2", "SDBG", "XTPR", "PDCM",
		"PCID", "DCA", "X2APIC", "TSC_DEADLINE",
		"PAGE1GB", "SVM", "EXTAPIC", "CR8_LEGACY", "OSVW", "IBS", "SKINIT", "WDT", "LWP",
		"NODEID_MSR", "TOPOEXT", "MONITORX",
		"XSAVES", "XFD",
		"TSC_ADJUST", "SGX", "HLE", "SMEP", "INVPCID", "PQM", "MPX", "PQE", "SMAP",
		"PROC_TRACE", "AVX512PF", "AVX512ER",
		"UMIP", "PKU", "OSPKE", "WAITPKG", "CET_SS", "TME", "LA57", "BLD", "MOVDIRI",
		"MOVDIR64B", "ENQCMD", "SGX_LC", "PKS",
		"ITSC", "HW_PSTATE", "CPB", "EFRO",
		"WBNOINVD", "IBRS_ALWAYS", "AMD_PPIN", "VIRT_SSBD", "CPPC",
		"SGX_KEYS", "UINTR", "AVX512_VP2INTERSECT", "TSX_FORCE_ABORT", "HYBRID",
		"ARCH_LBR", "CET_IBT", "AMX_TILE", "L1D_FLUSH", "CORE_CAPS",
		"LASS", "ARCH_PERF_MON", "FRED", "LKGS", "WRMSRNS", "LAM", "MSRLIST", "NO_INVD",
		"FS_GS_NS", "AUTO_IBRS", "SRSO_US_NO", "SRSO_MSR_FIX", "CPUID_USER_DIS", "INTEL_PPIN", "IPRED_CTRL", "BHI_CTRL",
		// pvsim: no XSAVE and no FSGSBASE, and what depends on XSAVE.
		"XSAVE", "OSXSAVE", "XSAVEOPT", "XSAVEC", "XGETBV1", "AVX", "FMA", "F16C",
		"AVX2", "FSGSBASE", "AVX512F", "AVX512DQ", "AVX512_IFMA", "AVX512CD",
		"AVX512BW", "AVX512VL", "AVX512_VBMI", "AVX512_VBMI2", "AVX512_VNNI",
		"AVX512_BITALG", "AVX512_VPOPCNTDQ", "AVX512_FP16", "AVX512_BF16",
		"VAES", "VPCLMULQDQ", "AVX_VNNI", "AVX_IFMA", "AVX_VNNI_INT8",
		"AVX_NE_CONVERT", "AVX_VNNI_INT16", "SHA512", "SM3", "SM4", "XOP", "FMA4",
		// MSR_SPEC_CTRL not virtualised (Options.SpecCtrl false).
		"IBRSB", "STIBP", "SSBD", "INTEL_PSFD", "IBRS", "AMD_STIBP", "AMD_SSBD", "PSFD", "EPSF",
	}
	for hn, h := range hosts {
		p := NewPV(h.host, 4, 19, Options{})
		for _, name := range hidden {
			if f := mustFeature(t, name); visible(p, f) || p.Has(f) {
				t.Errorf("%s: %s visible", hn, name)
			}
		}
	}
}

func TestAvailableFeaturesPassThrough(t *testing.T) {
	common := []string{
		"FPU", "DE", "TSC", "MSR", "PAE", "MCE", "CX8", "APIC", "SEP", "MCA", "CMOV",
		"PAT", "CLFLUSH", "ACPI", "MMX", "FXSR", "SSE", "SSE2", "SS", "HTT",
		"SSE3", "PCLMULQDQ", "SSSE3", "CX16", "SSE4_1", "SSE4_2", "MOVBE", "POPCNT",
		"AESNI", "RDRAND", "HYPERVISOR",
		"SYSCALL", "NX", "MMXEXT", "FFXSR", "RDTSCP", "LM", "3DNOWEXT", "3DNOW",
		"LAHF_LM", "CMP_LEGACY", "ABM", "SSE4A", "MISALIGNSSE", "3DNOWPREFETCH", "TBM",
		"BMI1", "BMI2", "ERMS", "RTM", "RDSEED", "ADX", "CLFLUSHOPT", "CLWB", "SHA",
		"FDP_EXCP_ONLY", "NO_FPU_SEL",
		"PREFETCHWT1", "GFNI", "RDPID", "CLDEMOTE",
		"CLZERO", "RSTR_FP_ERR_PTRS", "IBPB", "SSB_NO", "BTC_NO", "IBPB_RET",
		"FSRM", "MD_CLEAR", "SERIALIZE",
		"FZRM", "FSRS", "FSRCS",
	}
	amdOnly := []string{"NO_NEST_BP", "LFENCE_DISPATCH", "NSCB", "SBPB", "SRSO_NO", "TSA_SQ_NO", "TSA_L1_NO"}
	for _, tc := range []struct {
		name  string
		h     hostLeaves
		names []string
	}{
		{"intel", intelHost(), common},
		{"amd", amdHost(), append(append([]string{}, common...), amdOnly...)},
	} {
		p := NewPV(tc.h.host, 4, 19, Options{})
		for _, name := range tc.names {
			if f := mustFeature(t, name); !visible(p, f) || !p.Has(f) {
				t.Errorf("%s: %s hidden", tc.name, name)
			}
		}
		// Nothing without 'A' shows, but the bits Xen copies from the
		// host; no bit that names no feature shows.
		for _, e := range featureTable {
			f := Feature(e.word)*32 + Feature(e.bit)
			if visible(p, f) && !f.Available() && f != fFDPExcpOnly && f != fNoFPUSel {
				t.Errorf("%s: %s (%q) visible", tc.name, e.name, e.attr)
			}
		}
		for w, loc := range featureWords {
			if loc.msr {
				continue
			}
			if extra := p.Query(loc.leaf, loc.subleaf).Get(loc.reg) &^ known[w]; extra != 0 &&
				!(tc.name == "amd" && loc.leaf == 0x80000001 && loc.reg == EDX) {
				t.Errorf("%s: word %d (%#x.%d %v) has unknown bits %#x", tc.name, w, loc.leaf, loc.subleaf, loc.reg, extra)
			}
		}
	}
}

// A feature the host lacks is hidden, and so is everything depending on it.
func TestHostFeatureMissing(t *testing.T) {
	for _, tc := range []struct {
		missing   string
		alsoGone  []string
		stillHere []string
	}{
		{"SSE2", []string{"SSE3", "SSSE3", "SSE4_1", "SSE4_2", "LM", "AESNI", "PCLMULQDQ", "SHA", "GFNI", "CX16", "LAHF_LM"}, []string{"SSE", "POPCNT", "NX"}},
		{"PAE", []string{"LM", "NX", "CX16"}, []string{"SSE2", "SYSCALL"}},
		{"TSC", []string{"RDTSCP"}, []string{"APIC"}},
		{"APIC", nil, []string{"TSC", "RDTSCP"}},
		{"POPCNT", nil, []string{"SSE4_2"}},
		{"RDRAND", nil, []string{"RDSEED"}},
		{"FPU", []string{"MMX", "3DNOW", "3DNOWEXT", "MMXEXT"}, []string{"SSE"}},
	} {
		h := amdHost()
		f := mustFeature(t, tc.missing)
		leaf, sub, reg, _ := f.Location()
		l := h.host(leaf, sub)
		l.set(reg, l.Get(reg)&^f.Mask())
		h[[2]uint32{leaf, sub}] = l
		p := NewPV(h.host, 4, 19, Options{})
		if visible(p, f) {
			t.Errorf("host without %s: visible", tc.missing)
		}
		for _, n := range tc.alsoGone {
			if visible(p, mustFeature(t, n)) {
				t.Errorf("host without %s: %s visible", tc.missing, n)
			}
		}
		for _, n := range tc.stillHere {
			if !visible(p, mustFeature(t, n)) {
				t.Errorf("host without %s: %s hidden", tc.missing, n)
			}
		}
	}
}

func TestSpecCtrlAndArchCaps(t *testing.T) {
	h := intelHost()
	// RDCL_NO | EIBRS | RSBA | SKIP_L1DFL | MDS_NO | TSX_CTRL | RRSBA | bit 32 (PB_OPT_CTRL) | ITS_NO
	hostCaps := uint64(1<<0 | 1<<1 | 1<<2 | 1<<3 | 1<<5 | 1<<7 | 1<<19 | 1<<32 | 1<<62)

	p := NewPV(h.host, 4, 19, Options{SpecCtrl: true, HostArchCaps: hostCaps})
	for _, n := range []string{"IBRSB", "STIBP", "SSBD", "IBPB", "ARCH_CAPS", "RDCL_NO", "EIBRS", "MDS_NO", "RRSBA", "ITS_NO"} {
		if !visible(p, mustFeature(t, n)) {
			t.Errorf("SpecCtrl: %s hidden", n)
		}
	}
	for _, n := range []string{"RSBA", "SKIP_L1DFL", "TSX_CTRL", "PB_OPT_CTRL"} {
		if visible(p, mustFeature(t, n)) {
			t.Errorf("SpecCtrl: %s visible", n)
		}
	}
	if got, want := p.ArchCaps(), uint64(1<<0|1<<1|1<<5|1<<19|1<<62); got != want {
		t.Errorf("ArchCaps = %#x, want %#x", got, want)
	}

	// Without MSR_SPEC_CTRL, EIBRS goes with IBRSB, and RSBA stands in
	// for RRSBA.
	p = NewPV(h.host, 4, 19, Options{HostArchCaps: hostCaps})
	if got, want := p.ArchCaps(), uint64(1<<0|1<<2|1<<5|1<<62); got != want {
		t.Errorf("ArchCaps without SpecCtrl = %#x, want %#x", got, want)
	}
	if !visible(p, mustFeature(t, "IBPB")) {
		t.Error("IBPB hidden though the host has IBRSB")
	}
}

func TestIntelLeaves(t *testing.T) {
	p := NewPV(intelHost().host, 4, 19, Options{})
	h := intelHost()
	for _, tc := range []struct {
		leaf, sub uint32
		want      Leaf
		mask      Leaf // compare only these bits; zero: all
	}{
		{0, 0, vendorLeaf(0xd, "GenuineIntel"), Leaf{}},
		{1, 0, Leaf{EAX: 0x000306c3, EBX: 0x00100800}, Leaf{ones, ones, 0, 0}},
		{1, 0, Leaf{ECX: 1 << 31}, Leaf{ECX: 1<<31 | 1<<27 | 1<<21 | 1<<5, EDX: 1 << 12}}, // HYPERVISOR, not OSXSAVE/X2APIC/VMX/MTRR
		{2, 0, Leaf{0x76036301, 0x00f0b5ff, 0, 0x00c30000}, Leaf{}},
		{3, 0, Leaf{}, Leaf{}},
		{4, 0, Leaf{0x1c004121, 0x01c0003f, 0x3f, 5}, Leaf{}},
		{4, 3, h[[2]uint32{4, 3}], Leaf{}},
		{4, 4, Leaf{}, Leaf{}},
		{4, 5, Leaf{}, Leaf{}},
		{4, 6, Leaf{}, Leaf{}},
		{5, 0, Leaf{}, Leaf{}},
		{6, 0, Leaf{}, Leaf{}},
		{7, 0, Leaf{EAX: 2}, Leaf{EAX: ones}},
		{7, 3, Leaf{}, Leaf{}},
		{8, 0, Leaf{}, Leaf{}},
		{9, 0, Leaf{}, Leaf{}},
		{0xa, 0, Leaf{}, Leaf{}},
		{0xb, 0, Leaf{}, Leaf{}},
		{0xb, 1, Leaf{}, Leaf{}},
		{0xc, 0, Leaf{}, Leaf{}},
		{0xd, 0, Leaf{}, Leaf{}},
		{0xd, 1, Leaf{}, Leaf{}},
		{0x80000000, 0, Leaf{EAX: 0x80000008}, Leaf{}},
		{0x80000001, 0, Leaf{}, Leaf{EAX: ones, EBX: ones}},
		{0x80000002, 0, h[[2]uint32{0x80000002, 0}], Leaf{}},
		{0x80000004, 0, h[[2]uint32{0x80000004, 0}], Leaf{}},
		{0x80000005, 0, Leaf{}, Leaf{}},
		{0x80000006, 0, Leaf{ECX: 0x01006040}, Leaf{}},
		{0x80000007, 0, Leaf{}, Leaf{}},
		{0x80000008, 0, Leaf{EAX: 0x3027}, Leaf{EAX: ones, ECX: ones, EDX: ones}},
	} {
		got := p.Query(tc.leaf, tc.sub)
		if tc.mask != (Leaf{}) {
			got = Leaf{got.EAX & tc.mask.EAX, got.EBX & tc.mask.EBX, got.ECX & tc.mask.ECX, got.EDX & tc.mask.EDX}
		}
		if got != tc.want {
			t.Errorf("leaf %#x.%d = %#x, want %#x", tc.leaf, tc.sub, got, tc.want)
		}
	}
}

func TestAMDLeaves(t *testing.T) {
	h := amdHost()
	p := NewPV(h.host, 4, 19, Options{})
	e1d := p.Query(0x80000001, 0).EDX
	if l1d := p.Query(1, 0).EDX; e1d&common1D != l1d&common1D || e1d&common1D == 0 {
		t.Errorf("0x80000001 EDX common bits %#x, leaf 1 EDX %#x", e1d&common1D, l1d&common1D)
	}
	for _, tc := range []struct {
		leaf, sub uint32
		want      Leaf
		mask      Leaf
	}{
		{0, 0, vendorLeaf(0xd, "AuthenticAMD"), Leaf{}},
		{0x80000000, 0, vendorLeaf(0x80000021, "AuthenticAMD"), Leaf{}},
		{0x80000001, 0, Leaf{EAX: 0x00a20f12, EBX: 0x20000000}, Leaf{EAX: ones, EBX: ones}},
		{1, 0, Leaf{EBX: 0x00200800}, Leaf{EBX: ones}},
		{2, 0, Leaf{}, Leaf{}},
		{4, 0, Leaf{}, Leaf{}},
		{5, 0, Leaf{}, Leaf{}},
		{7, 0, Leaf{EAX: 1}, Leaf{EAX: ones}},
		{7, 2, Leaf{}, Leaf{}},
		{0xb, 0, Leaf{}, Leaf{}},
		{0xd, 0, Leaf{}, Leaf{}},
		{0x80000005, 0, Leaf{1, 2, 3, 4}, Leaf{}},
		{0x80000007, 0, Leaf{}, Leaf{}},
		{0x80000008, 0, Leaf{EAX: 0x3030, ECX: 0x0003f0ff, EDX: 0}, Leaf{EAX: ones, ECX: ones, EDX: ones}},
		{0x80000009, 0, Leaf{}, Leaf{}},
		{0x8000000a, 0, Leaf{}, Leaf{}},
		{0x8000000b, 0, Leaf{}, Leaf{}},
		{0x80000018, 0, Leaf{}, Leaf{}},
		{0x80000019, 0, Leaf{}, Leaf{}},
		{0x8000001a, 0, Leaf{0x8000001a, 0x8000001a, 0x8000001a, 0x8000001a}, Leaf{}},
		{0x8000001e, 0, Leaf{}, Leaf{}},
		{0x80000020, 0, Leaf{}, Leaf{}},
		{0x80000021, 0, Leaf{}, Leaf{EBX: ones, EDX: ones}},
		{0x80000022, 0, Leaf{}, Leaf{}},
		{0x80000028, 0, Leaf{}, Leaf{}},
	} {
		got := p.Query(tc.leaf, tc.sub)
		if tc.mask != (Leaf{}) {
			got = Leaf{got.EAX & tc.mask.EAX, got.EBX & tc.mask.EBX, got.ECX & tc.mask.ECX, got.EDX & tc.mask.EDX}
		}
		if got != tc.want {
			t.Errorf("leaf %#x.%d = %#x, want %#x", tc.leaf, tc.sub, got, tc.want)
		}
	}
}

func TestHypervisorLeaves(t *testing.T) {
	time := TimeLeaf{Reliable: true, Mode: 2, KHz: 2_400_000, Incarnation: 1, Offset: 0x1_2345_6789,
		MulFrac: 0xaaaaaaaa, Shift: -1, HostKHz: 2_400_001}
	for _, tc := range []struct {
		name      string
		opt       Options
		leaf, sub uint32
		want      Leaf
	}{
		{"max and signature", Options{}, 0x40000000, 0, Leaf{0x40000005, 0x566e6558, 0x65584d4d, 0x4d4d566e}},
		{"signature ignores subleaf", Options{}, 0x40000000, 7, Leaf{0x40000005, 0x566e6558, 0x65584d4d, 0x4d4d566e}},
		{"version", Options{}, 0x40000001, 0, Leaf{EAX: 4<<16 | 19}},
		{"hypercall page", Options{}, 0x40000002, 0, Leaf{EAX: 1, EBX: 0x40000000}},
		{"hypercall page, preserve-AD", Options{PreserveAD: true}, 0x40000002, 0, Leaf{EAX: 1, EBX: 0x40000000, ECX: 1}},
		{"time, nothing stated", Options{}, 0x40000003, 0, Leaf{EAX: RDTSCPAvailable}},
		{"time 0", Options{Time: time}, 0x40000003, 0, Leaf{EAX: HostTSCReliable | RDTSCPAvailable, EBX: 2, ECX: 2_400_000, EDX: 1}},
		{"time 1", Options{Time: time}, 0x40000003, 1, Leaf{0x23456789, 1, 0xaaaaaaaa, 0xffffffff}},
		{"time 2", Options{Time: time}, 0x40000003, 2, Leaf{EAX: 2_400_001}},
		{"time 3", Options{Time: time}, 0x40000003, 3, Leaf{}},
		{"time, emulated", Options{Time: TimeLeaf{Emulated: true}}, 0x40000003, 0, Leaf{EAX: TSCEmulated | RDTSCPAvailable}},
		{"HVM leaf", Options{PreserveAD: true}, 0x40000004, 0, Leaf{}},
		{"PV leaf", Options{MachineAddressBits: 46}, 0x40000005, 0, Leaf{EBX: 46}},
		{"PV leaf subleaf 1", Options{MachineAddressBits: 46}, 0x40000005, 1, Leaf{}},
		{"past the max", Options{}, 0x40000006, 0, Leaf{}},
		{"Viridian's place", Options{}, 0x40000100, 0, Leaf{}},
		{"last", Options{}, 0x400001ff, 0, Leaf{}},
		{"past Xen's range", Options{}, 0x40000200, 0, Leaf{}},
	} {
		p := NewPV(intelHost().host, 4, 19, tc.opt)
		if got := p.Query(tc.leaf, tc.sub); got != tc.want {
			t.Errorf("%s: leaf %#x.%d = %#x, want %#x", tc.name, tc.leaf, tc.sub, got, tc.want)
		}
	}
}

func TestOutOfRangeLeaves(t *testing.T) {
	small := hostLeaves{
		{0, 0}:          vendorLeaf(0x4, "GenuineIntel"),
		{1, 0}:          {0x306c3, 0, ones, ones},
		{4, 0}:          {0x121, 1, 1, 1},
		{0x80000000, 0}: vendorLeaf(0x80000001, "GenuineIntel"),
		{0x80000001, 0}: {0, 0, ones, ones},
	}
	noExtd := hostLeaves{
		{0, 0}:          vendorLeaf(0x1, "GenuineIntel"),
		{1, 0}:          {0x306c3, 0, ones, ones},
		{0x80000000, 0}: {},
	}
	for _, tc := range []struct {
		name string
		h    hostLeaves
		leaf uint32
		sub  uint32
	}{
		{"basic above Xen's 0xd", intelHost(), 0xe, 0},
		{"0x14 (present on the host)", intelHost(), 0x14, 0},
		{"v2 topology", intelHost(), 0x1f, 0},
		{"v2 topology subleaf 1", intelHost(), 0x1f, 1},
		{"0x20", intelHost(), 0x20, 0},
		{"between basic and hypervisor", intelHost(), 0x3fffffff, 0},
		{"past hypervisor", intelHost(), 0x4fffffff, 0},
		{"extended above Intel's 0x80000008", intelHost(), 0x80000009, 0},
		{"extended above the host's", small, 0x80000002, 0},
		{"basic above the host's", small, 0x7, 0},
		{"basic above the host's, 0xd", small, 0xd, 0},
		{"no extended leaves", noExtd, 0x80000000, 0},
		{"no extended leaves, 0x80000001", noExtd, 0x80000001, 0},
		{"Centaur range", intelHost(), 0xc0000000, 0},
		{"top", intelHost(), 0xffffffff, 0},
	} {
		p := NewPV(tc.h.host, 4, 19, Options{})
		if got := p.Query(tc.leaf, tc.sub); got != (Leaf{}) {
			t.Errorf("%s: leaf %#x.%d = %#x, want zeros", tc.name, tc.leaf, tc.sub, got)
		}
	}
	p := NewPV(small.host, 4, 19, Options{})
	if got := p.Query(0, 0).EAX; got != 4 {
		t.Errorf("small host: max basic leaf %#x, want 4", got)
	}
	if got := p.Query(0x80000000, 0).EAX; got != 0x80000001 {
		t.Errorf("small host: max extended leaf %#x, want 0x80000001", got)
	}
	if !p.Has(fLM) || !visible(p, fLM) {
		t.Error("small host: LM hidden")
	}
	if f := mustFeature(t, "AVX512F"); p.Has(f) {
		t.Error("small host: a leaf 7 feature with no leaf 7")
	}
}

func TestTable(t *testing.T) {
	host := Table([]Entry{
		{Function: 0, Leaf: vendorLeaf(7, "AuthenticAMD")},
		{Function: 7, Index: 0, Indexed: true, Leaf: Leaf{0, 1, 2, 3}},
		{Function: 7, Index: 1, Indexed: true, Leaf: Leaf{4, 5, 6, 7}},
	})
	for _, tc := range []struct {
		leaf, sub uint32
		want      Leaf
	}{
		{0, 0, vendorLeaf(7, "AuthenticAMD")},
		{0, 5, vendorLeaf(7, "AuthenticAMD")},
		{7, 1, Leaf{4, 5, 6, 7}},
		{7, 2, Leaf{}},
		{1, 0, Leaf{}},
	} {
		if got := host(tc.leaf, tc.sub); got != tc.want {
			t.Errorf("Table(%#x, %d) = %v, want %v", tc.leaf, tc.sub, got, tc.want)
		}
	}
}

func TestFeatureTable(t *testing.T) {
	for _, tc := range []struct {
		name      string
		word, bit int
		available bool
		leaf, sub uint32
		reg       Reg
	}{
		{"FPU", 0, 0, true, 1, 0, EDX},
		{"HYPERVISOR", 1, 31, true, 1, 0, ECX},
		{"X2APIC", 1, 21, false, 1, 0, ECX},
		{"PAGE1GB", 2, 26, false, 0x80000001, 0, EDX},
		{"SVM", 3, 2, false, 0x80000001, 0, ECX},
		{"XSAVEOPT", 4, 0, true, 0xd, 1, EAX},
		{"SMEP", 5, 7, false, 7, 0, EBX},
		{"PKU", 6, 3, false, 7, 0, ECX},
		{"ITSC", 7, 8, false, 0x80000007, 0, EDX},
		{"IBPB", 8, 12, true, 0x80000008, 0, EBX},
		{"MD_CLEAR", 9, 10, true, 7, 0, EDX},
		{"AVX_VNNI", 10, 4, true, 7, 1, EAX},
		{"SRSO_NO", 11, 29, true, 0x80000021, 0, EAX},
		{"INTEL_PPIN", 12, 0, false, 7, 1, EBX},
		{"INTEL_PSFD", 13, 0, true, 7, 2, EDX},
		{"PREFETCHI", 15, 14, true, 7, 1, EDX},
		{"TSA_L1_NO", 18, 2, true, 0x80000021, 0, ECX},
	} {
		f := mustFeature(t, tc.name)
		if f.Word() != tc.word || f.Mask() != 1<<tc.bit || f.Available() != tc.available || f.String() != tc.name {
			t.Errorf("%s: word %d mask %#x available %v name %s", tc.name, f.Word(), f.Mask(), f.Available(), f)
		}
		if leaf, sub, reg, ok := f.Location(); !ok || leaf != tc.leaf || sub != tc.sub || reg != tc.reg {
			t.Errorf("%s: at %#x.%d %v %v", tc.name, leaf, sub, reg, ok)
		}
	}
	if f := mustFeature(t, "ITS_NO"); f.Word() != 17 || f.Mask() != 1<<30 {
		t.Errorf("ITS_NO at word %d mask %#x", f.Word(), f.Mask())
	} else if _, _, _, ok := f.Location(); ok {
		t.Error("ITS_NO has a CPUID location")
	}
	if len(featureTable) != 287 {
		t.Errorf("%d features, Xen's cpufeatureset.h has 287", len(featureTable))
	}
}
