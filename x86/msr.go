package x86

// Model-specific register indices: the ECX operand of rdmsr and wrmsr.
const (
	MSRTSC                 = 0x00000010 // IA32_TIME_STAMP_COUNTER
	MSRPlatformID          = 0x00000017 // IA32_PLATFORM_ID (Intel)
	MSRAPICBase            = 0x0000001b // IA32_APIC_BASE
	MSRFeatureControl      = 0x0000003a // IA32_FEATURE_CONTROL
	MSRTSCAdjust           = 0x0000003b // IA32_TSC_ADJUST
	MSRSpecCtrl            = 0x00000048 // IA32_SPEC_CTRL
	MSRPredCmd             = 0x00000049 // IA32_PRED_CMD (write-only)
	MSRUcodeWrite          = 0x00000079 // IA32_BIOS_UPDT_TRIG (write-only)
	MSRUcodeRev            = 0x0000008b // IA32_BIOS_SIGN_ID; AMD's PATCH_LEVEL
	MSRPlatformInfo        = 0x000000ce // MSR_PLATFORM_INFO (Intel)
	MSRMTRRCap             = 0x000000fe // IA32_MTRRCAP
	MSRArchCapabilities    = 0x0000010a // IA32_ARCH_CAPABILITIES
	MSRFlushCmd            = 0x0000010b // IA32_FLUSH_CMD (write-only)
	MSRMiscFeaturesEnables = 0x00000140 // MSR_MISC_FEATURES_ENABLES (Intel)
	MSRSysenterCS          = 0x00000174 // IA32_SYSENTER_CS
	MSRSysenterESP         = 0x00000175 // IA32_SYSENTER_ESP
	MSRSysenterEIP         = 0x00000176 // IA32_SYSENTER_EIP
	MSRMCGCap              = 0x00000179 // IA32_MCG_CAP
	MSRMCGStatus           = 0x0000017a // IA32_MCG_STATUS
	MSRMCGCtl              = 0x0000017b // IA32_MCG_CTL
	MSRPerfStatus          = 0x00000198 // IA32_PERF_STATUS
	MSRPerfCtl             = 0x00000199 // IA32_PERF_CTL
	MSRThermStatus         = 0x0000019c // IA32_THERM_STATUS
	MSRMiscEnable          = 0x000001a0 // IA32_MISC_ENABLE
	MSRDebugCtl            = 0x000001d9 // IA32_DEBUGCTL
	MSRPAT                 = 0x00000277 // IA32_PAT
	MSRMTRRDefType         = 0x000002ff // IA32_MTRR_DEF_TYPE
	MSRPerfCapabilities    = 0x00000345 // IA32_PERF_CAPABILITIES
	MSRMC0Ctl2             = 0x00000280 // IA32_MC0_CTL2; bank n at +n
	MSRMC0Ctl              = 0x00000400 // IA32_MC0_CTL; bank n at +4n
	MSRXSS                 = 0x00000da0 // IA32_XSS

	MSREFER         = 0xc0000080 // extended feature enable
	MSRSTAR         = 0xc0000081 // SYSCALL/SYSRET selectors
	MSRLSTAR        = 0xc0000082 // 64-bit SYSCALL target
	MSRCSTAR        = 0xc0000083 // compatibility-mode SYSCALL target
	MSRSyscallMask  = 0xc0000084 // SFMASK: RFLAGS bits SYSCALL clears
	MSRFSBase       = 0xc0000100 // FS base
	MSRGSBase       = 0xc0000101 // GS base
	MSRKernelGSBase = 0xc0000102 // the GS base SWAPGS exchanges
	MSRTSCAux       = 0xc0000103 // what RDTSCP and RDPID return

	MSRAMDHWCR         = 0xc0010015 // AMD hardware configuration
	MSRAMDDECfg        = 0xc0011029 // AMD decode configuration
	MSRAMDVirtSpecCtrl = 0xc001011f // AMD VIRT_SPEC_CTRL
	MSRAMDDR0AddrMask  = 0xc0011027 // AMD DR0 address mask
	MSRAMDDR1AddrMask  = 0xc0011019 // AMD DR1 address mask; DR2, DR3 follow
	MSRAMDPatchLoader  = 0xc0010020 // AMD microcode patch loader (write-only)
	MSRHypervisorFirst = 0x40000000 // the range reserved for hypervisors
	MSRHypervisorLast  = 0x4fffffff
)

// IA32_APIC_BASE bits, and the xAPIC's default physical base.
const (
	APICBaseBSP     = 1 << 8  // bootstrap processor
	APICBaseEnable  = 1 << 11 // xAPIC global enable
	APICDefaultBase = 0xfee00000
)

// IA32_MISC_ENABLE bits.
const (
	MiscEnableFastString     = 1 << 0
	MiscEnablePerfAvail      = 1 << 7 // performance monitoring available
	MiscEnableBTSUnavail     = 1 << 11
	MiscEnablePEBSUnavail    = 1 << 12
	MiscEnableMonitorEnable  = 1 << 18 // MONITOR/MWAIT enabled
	MiscEnableLimitCPUID     = 1 << 22
	MiscEnableXTPRDisable    = 1 << 23
	MiscEnableXDDisable      = 1 << 34
	MiscEnableTurboDisengage = 1 << 38
)

// CPUID faulting: MSR_PLATFORM_INFO says it is available, and
// MSR_MISC_FEATURES_ENABLES turns it on (CPUID at CPL>0 raises #GP).
const (
	PlatformInfoCPUIDFaulting = 1 << 31
	MiscFeaturesCPUIDFaulting = 1 << 0
)
