package cpuid

import (
	"fmt"
	"strings"
)

// Feature is one feature bit, numbered as in Xen's featureset:
// word*32 + bit (featureTable).
type Feature uint16

// Reg names a CPUID output register.
type Reg uint8

// The CPUID output registers.
const (
	EAX Reg = iota
	EBX
	ECX
	EDX
)

func (r Reg) String() string { return [...]string{"EAX", "EBX", "ECX", "EDX"}[r&3] }

// nWords is the number of featureset words (Xen's FEATURESET_NR_ENTRIES).
const nWords = 19

// featureWords says where each featureset word is reported. Words 16 and
// 17 are not CPUID registers but MSR_ARCH_CAPABILITIES bits 0-31 and
// 32-63.
var featureWords = [nWords]struct {
	leaf, subleaf uint32
	reg           Reg
	msr           bool
}{
	0:  {0x1, 0, EDX, false},
	1:  {0x1, 0, ECX, false},
	2:  {0x80000001, 0, EDX, false},
	3:  {0x80000001, 0, ECX, false},
	4:  {0xd, 1, EAX, false},
	5:  {0x7, 0, EBX, false},
	6:  {0x7, 0, ECX, false},
	7:  {0x80000007, 0, EDX, false},
	8:  {0x80000008, 0, EBX, false},
	9:  {0x7, 0, EDX, false},
	10: {0x7, 1, EAX, false},
	11: {0x80000021, 0, EAX, false},
	12: {0x7, 1, EBX, false},
	13: {0x7, 2, EDX, false},
	14: {0x7, 1, ECX, false},
	15: {0x7, 1, EDX, false},
	16: {msr: true},
	17: {msr: true},
	18: {0x80000021, 0, ECX, false},
}

// Word is the featureset word f lies in.
func (f Feature) Word() int { return int(f / 32) }

// Mask is f's bit in its word.
func (f Feature) Mask() uint32 { return 1 << (f % 32) }

func (f Feature) valid() bool { return int(f/32) < nWords }

// String is Xen's name for f.
func (f Feature) String() string {
	if i, ok := featureIndex[f]; ok {
		return featureTable[i].name
	}
	return fmt.Sprintf("feature(%d*32+%d)", f/32, f%32)
}

// Location says where CPUID reports f: leaf, subleaf and register. ok is
// false for a feature of MSR_ARCH_CAPABILITIES (words 16 and 17).
func (f Feature) Location() (leaf, subleaf uint32, reg Reg, ok bool) {
	if !f.valid() || featureWords[f.Word()].msr {
		return 0, 0, 0, false
	}
	w := featureWords[f.Word()]
	return w.leaf, w.subleaf, w.reg, true
}

// Lookup returns the feature Xen's featureset calls name ("SMEP",
// "AVX512F", "3DNOW").
func Lookup(name string) (Feature, bool) {
	f, ok := featureByName[strings.ToUpper(name)]
	return f, ok
}

// Available reports whether Xen makes f available to every guest by
// default: its attribute in cpufeatureset.h has an 'A'. That is Xen's PV
// default featureset (pv_def_featuremask), before the adjustments NewPV
// makes.
func (f Feature) Available() bool {
	i, ok := featureIndex[f]
	return ok && strings.ContainsRune(featureTable[i].attr, 'A')
}

// featureSet is a set of features, one bit each, words as featureWords.
type featureSet [nWords]uint32

func (s *featureSet) has(f Feature) bool { return s[f.Word()]&f.Mask() != 0 }
func (s *featureSet) set(f Feature)      { s[f.Word()] |= f.Mask() }
func (s *featureSet) clear(f Feature)    { s[f.Word()] &^= f.Mask() }

func (s *featureSet) and(o *featureSet) {
	for i := range s {
		s[i] &= o[i]
	}
}

func (s *featureSet) andNot(o *featureSet) {
	for i := range s {
		s[i] &^= o[i]
	}
}

var (
	// featureIndex maps a feature to its entry in featureTable, and
	// featureByName a name to its feature.
	featureIndex, featureByName = indexFeatures()
	// known are all features in the table (Xen's known_features), and
	// pvDefault those marked 'A' (pv_def_featuremask).
	known, pvDefault = featureMasks()
	// deepDeps maps a feature to every feature that depends on it,
	// directly or not (Xen's deep_deps): hiding the feature hides them.
	deepDeps = computeDeepDeps()
)

func indexFeatures() (map[Feature]int, map[string]Feature) {
	index, byName := map[Feature]int{}, map[string]Feature{}
	for i, e := range featureTable {
		f := Feature(e.word)*32 + Feature(e.bit)
		if _, dup := index[f]; dup || e.word >= nWords || e.bit >= 32 {
			panic(fmt.Sprintf("cpuid: bad feature table entry %s", e.name))
		}
		index[f] = i
		byName[e.name] = f
	}
	return index, byName
}

func featureMasks() (all, available featureSet) {
	for _, e := range featureTable {
		f := Feature(e.word)*32 + Feature(e.bit)
		all.set(f)
		if strings.ContainsRune(e.attr, 'A') {
			available.set(f)
		}
	}
	return all, available
}

// feature returns the feature called name, which must exist.
func feature(name string) Feature {
	f, ok := featureByName[name]
	if !ok {
		panic("cpuid: no feature " + name)
	}
	return f
}

// featureDeps transcribes the dependency table of Xen's gen-cpuid.py: the
// feature in the key is a prerequisite of each feature in the value.
// "ARCH_CAPS" stands for every feature of MSR_ARCH_CAPABILITIES.
var featureDeps = map[string][]string{
	"FPU":       {"MMX", "RSTR_FP_ERR_PTRS"},
	"PSE":       {"PSE36"},
	"PAE":       {"LM", "NX"},
	"TSC":       {"TSC_DEADLINE", "RDTSCP", "TSC_ADJUST", "ITSC"},
	"APIC":      {"X2APIC", "TSC_DEADLINE", "EXTAPIC"},
	"CLFLUSH":   {"CLZERO"},
	"MMX":       {"MMXEXT", "3DNOW"},
	"FXSR":      {"FFXSR", "SSE"},
	"SSE":       {"SSE2", "MISALIGNSSE"},
	"SSE2":      {"SSE3", "LM", "AESNI", "PCLMULQDQ", "SHA", "GFNI"},
	"SSE3":      {"SSSE3", "SSE4A"},
	"SSSE3":     {"SSE4_1"},
	"SSE4_1":    {"SSE4_2"},
	"XSAVE":     {"XSAVEOPT", "XSAVEC", "XGETBV1", "XSAVES", "AVX", "MPX", "PKU", "AMX_TILE", "LWP"},
	"AVX":       {"FMA", "FMA4", "F16C", "AVX2", "XOP", "AVX_NE_CONVERT", "SM3"},
	"NX":        {"SMAP"},
	"LM":        {"CX16", "PCID", "LAHF_LM", "PAGE1GB", "PKU", "NO_LMSL", "AMX_TILE", "CMPCCXADD", "LKGS", "MOVRS"},
	"3DNOW":     {"3DNOWEXT"},
	"AVX2":      {"AVX512F", "VAES", "VPCLMULQDQ", "AVX_VNNI", "AVX_IFMA", "AVX_VNNI_INT8", "AVX_VNNI_INT16", "SHA512", "SM4"},
	"AVX512F":   {"AVX512DQ", "AVX512_IFMA", "AVX512PF", "AVX512ER", "AVX512CD", "AVX512BW", "AVX512VL", "AVX512_4VNNIW", "AVX512_4FMAPS", "AVX512_VNNI", "AVX512_VPOPCNTDQ", "AVX512_VP2INTERSECT"},
	"AVX512BW":  {"AVX512_VBMI", "AVX512_VBMI2", "AVX512_BITALG", "AVX512_BF16", "AVX512_FP16", "AVX512_BMM"},
	"PCLMULQDQ": {"VPCLMULQDQ"},
	"AESNI":     {"VAES"},
	"IBRSB":     {"STIBP", "SSBD", "INTEL_PSFD", "EIBRS", "IPRED_CTRL", "RRSBA_CTRL", "BHI_CTRL"},
	"IBRS":      {"AMD_STIBP", "AMD_SSBD", "PSFD", "AUTO_IBRS", "IBRS_ALWAYS", "IBRS_FAST", "IBRS_SAME_MODE"},
	"IBPB":      {"IBPB_RET", "SBPB", "IBPB_BRTYPE"},
	"AMD_STIBP": {"STIBP_ALWAYS"},
	"RTM":       {"TSXLDTRK"},
	"PSFD":      {"EPSF"},
	"ARCH_CAPS": {"ARCH_CAPS"}, // every feature of words 16 and 17
	"EIBRS":     {"RRSBA"},
	"AMX_TILE":  {"AMX_BF16", "AMX_INT8", "AMX_FP16", "AMX_COMPLEX"},
}

func computeDeepDeps() map[Feature]featureSet {
	all, _ := featureMasks()
	deep := map[Feature]featureSet{}
	direct := func(name string) []Feature {
		var out []Feature
		for _, d := range featureDeps[name] {
			if name == "ARCH_CAPS" {
				for f := Feature(16 * 32); f < 18*32; f++ {
					if all.has(f) {
						out = append(out, f)
					}
				}
				continue
			}
			out = append(out, feature(d))
		}
		return out
	}
	for name := range featureDeps {
		var seen featureSet
		queue := direct(name)
		for len(queue) > 0 {
			f := queue[0]
			queue = queue[1:]
			if seen.has(f) {
				continue
			}
			seen.set(f)
			queue = append(queue, direct(f.String())...)
		}
		deep[feature(name)] = seen
	}
	return deep
}

// sanitise clears what depends on a cleared feature, after clamping s to
// the known features: Xen's sanitise_featureset.
func (s *featureSet) sanitise() {
	s.and(&known)
	for f, deps := range deepDeps {
		if !s.has(f) {
			s.andNot(&deps)
		}
	}
}
