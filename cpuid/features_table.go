package cpuid

// The featureset: every CPUID feature bit Xen knows, transcribed from Xen's
// public/arch-x86/cpufeatureset.h. A feature is numbered word*32+bit, the
// words being registers of CPUID leaves (featureWords) except 16 and 17,
// the two halves of MSR_ARCH_CAPABILITIES.
//
// The attribute string is Xen's: 'A' available to all guests by default
// (the PV default policy is exactly the 'A' set), 'a' to all guests on
// request, 'S'/'s' to HVM guests, 'H'/'h' to HVM guests with hardware
// assisted paging, '!' special handling, '|' accumulated across a
// migration pool. Only 'A' matters to pvsim.

// featureTable lists the features in Xen's order.
var featureTable = [...]struct {
	name      string
	word, bit uint8
	attr      string
}{
	// Intel-defined CPU features, CPUID level 0x00000001.edx, word 0
	{"FPU", 0, 0, "A"},      // Onboard FPU
	{"VME", 0, 1, "S"},      // Virtual Mode Extensions
	{"DE", 0, 2, "A"},       // Debugging Extensions
	{"PSE", 0, 3, "S"},      // Page Size Extensions
	{"TSC", 0, 4, "A"},      // Time Stamp Counter
	{"MSR", 0, 5, "A"},      // Model-Specific Registers, RDMSR, WRMSR
	{"PAE", 0, 6, "A"},      // Physical Address Extensions
	{"MCE", 0, 7, "A"},      // Machine Check Architecture
	{"CX8", 0, 8, "A"},      // CMPXCHG8 instruction
	{"APIC", 0, 9, "!A"},    // Onboard APIC
	{"SEP", 0, 11, "A"},     // SYSENTER/SYSEXIT
	{"MTRR", 0, 12, "S"},    // Memory Type Range Registers
	{"PGE", 0, 13, "S"},     // Page Global Enable
	{"MCA", 0, 14, "A"},     // Machine Check Architecture
	{"CMOV", 0, 15, "A"},    // CMOV instruction (FCMOVCC and FCOMI too if FPU present)
	{"PAT", 0, 16, "A"},     // Page Attribute Table
	{"PSE36", 0, 17, "S"},   // 36-bit PSEs
	{"CLFLUSH", 0, 19, "A"}, // CLFLUSH instruction
	{"DS", 0, 21, ""},       // Debug Store
	{"ACPI", 0, 22, "A"},    // ACPI via MSR
	{"MMX", 0, 23, "A"},     // Multimedia Extensions
	{"FXSR", 0, 24, "A"},    // FXSAVE and FXRSTOR instructions
	{"SSE", 0, 25, "A"},     // Streaming SIMD Extensions
	{"SSE2", 0, 26, "A"},    // Streaming SIMD Extensions-2
	{"SS", 0, 27, "A"},      // CPU self snoop
	{"HTT", 0, 28, "!A"},    // Hyper-Threading Technology
	{"TM1", 0, 29, ""},      // Thermal Monitor 1
	{"PBE", 0, 31, ""},      // Pending Break Enable

	// Intel-defined CPU features, CPUID level 0x00000001.ecx, word 1
	{"SSE3", 1, 0, "A"},          // Streaming SIMD Extensions-3
	{"PCLMULQDQ", 1, 1, "A"},     // Carry-less multiplication
	{"DTES64", 1, 2, ""},         // 64-bit Debug Store
	{"MONITOR", 1, 3, ""},        // Monitor/Mwait support
	{"DSCPL", 1, 4, ""},          // CPL Qualified Debug Store
	{"VMX", 1, 5, "h"},           // Virtual Machine Extensions
	{"SMX", 1, 6, ""},            // Safer Mode Extensions
	{"EIST", 1, 7, ""},           // Enhanced SpeedStep
	{"TM2", 1, 8, ""},            // Thermal Monitor 2
	{"SSSE3", 1, 9, "A"},         // Supplemental Streaming SIMD Extensions-3
	{"SDBG", 1, 11, ""},          // IA32_DEBUG_INTERFACE MSR for silicon debugging support
	{"FMA", 1, 12, "A"},          // Fused Multiply Add
	{"CX16", 1, 13, "A"},         // CMPXCHG16B
	{"XTPR", 1, 14, ""},          // Send Task Priority Messages
	{"PDCM", 1, 15, ""},          // Perf/Debug Capability MSR
	{"PCID", 1, 17, "H"},         // Process Context ID
	{"DCA", 1, 18, ""},           // Direct Cache Access
	{"SSE4_1", 1, 19, "A"},       // Streaming SIMD Extensions 4.1
	{"SSE4_2", 1, 20, "A"},       // Streaming SIMD Extensions 4.2
	{"X2APIC", 1, 21, "!S"},      // Extended xAPIC
	{"MOVBE", 1, 22, "A"},        // movbe instruction
	{"POPCNT", 1, 23, "A"},       // POPCNT instruction
	{"TSC_DEADLINE", 1, 24, "S"}, // TSC Deadline Timer
	{"AESNI", 1, 25, "A"},        // AES instructions
	{"XSAVE", 1, 26, "A"},        // XSAVE/XRSTOR/XSETBV/XGETBV
	{"OSXSAVE", 1, 27, "!"},      // OSXSAVE
	{"AVX", 1, 28, "A"},          // Advanced Vector Extensions
	{"F16C", 1, 29, "A"},         // Half-precision convert instruction
	{"RDRAND", 1, 30, "!A"},      // Digital Random Number Generator
	{"HYPERVISOR", 1, 31, "!A"},  // Running under some hypervisor

	// AMD-defined CPU features, CPUID level 0x80000001.edx, word 2
	{"SYSCALL", 2, 11, "A"},  // SYSCALL/SYSRET
	{"NX", 2, 20, "A"},       // Execute Disable
	{"MMXEXT", 2, 22, "A"},   // AMD MMX extensions
	{"FFXSR", 2, 25, "A"},    // FFXSR instruction optimizations
	{"PAGE1GB", 2, 26, "H"},  // 1Gb large page support
	{"RDTSCP", 2, 27, "A"},   // RDTSCP
	{"LM", 2, 29, "A"},       // Long Mode (x86-64)
	{"3DNOWEXT", 2, 30, "A"}, // AMD 3DNow! extensions
	{"3DNOW", 2, 31, "A"},    // 3DNow!

	// AMD-defined CPU features, CPUID level 0x80000001.ecx, word 3
	{"LAHF_LM", 3, 0, "A"},       // LAHF/SAHF in long mode
	{"CMP_LEGACY", 3, 1, "!A"},   // If yes HyperThreading not valid
	{"SVM", 3, 2, "h"},           // Secure virtual machine
	{"EXTAPIC", 3, 3, ""},        // Extended APIC space
	{"CR8_LEGACY", 3, 4, "S"},    // CR8 in 32-bit mode
	{"ABM", 3, 5, "A"},           // Advanced bit manipulation
	{"SSE4A", 3, 6, "A"},         // SSE-4A
	{"MISALIGNSSE", 3, 7, "A"},   // Misaligned SSE mode
	{"3DNOWPREFETCH", 3, 8, "A"}, // 3DNow prefetch instructions
	{"OSVW", 3, 9, ""},           // OS Visible Workaround
	{"IBS", 3, 10, ""},           // Instruction Based Sampling
	{"XOP", 3, 11, "A"},          // extended AVX instructions
	{"SKINIT", 3, 12, ""},        // SKINIT/STGI instructions
	{"WDT", 3, 13, ""},           // Watchdog timer
	{"LWP", 3, 15, ""},           // Light Weight Profiling
	{"FMA4", 3, 16, "A"},         // 4 operands MAC instructions
	{"NODEID_MSR", 3, 19, ""},    // NodeId MSR
	{"TBM", 3, 21, "A"},          // trailing bit manipulations
	{"TOPOEXT", 3, 22, ""},       // topology extensions CPUID leafs
	{"DBEXT", 3, 26, "A"},        // data breakpoint extension
	{"MONITORX", 3, 29, ""},      // MONITOR extension (MONITORX/MWAITX)
	{"ADDR_MSK_EXT", 3, 30, "A"}, // Address Mask Extentions

	// Intel-defined CPU features, CPUID level 0x0000000D:1.eax, word 4
	{"XSAVEOPT", 4, 0, "A"}, // XSAVEOPT instruction
	{"XSAVEC", 4, 1, "A"},   // XSAVEC/XRSTORC instructions
	{"XGETBV1", 4, 2, "A"},  // XGETBV with %ecx=1
	{"XSAVES", 4, 3, "S"},   // XSAVES/XRSTORS instructions
	{"XFD", 4, 4, ""},       // MSR_XFD{,_ERR} (eXtended Feature Disable)

	// Intel-defined CPU features, CPUID level 0x00000007:0.ebx, word 5
	{"FSGSBASE", 5, 0, "A"},      // {RD,WR}{FS,GS}BASE instructions
	{"TSC_ADJUST", 5, 1, "S"},    // TSC_ADJUST MSR available
	{"SGX", 5, 2, ""},            // Software Guard extensions
	{"BMI1", 5, 3, "A"},          // 1st bit manipulation extensions
	{"HLE", 5, 4, "!a"},          // Hardware Lock Elision
	{"AVX2", 5, 5, "A"},          // AVX2 instructions
	{"FDP_EXCP_ONLY", 5, 6, "!"}, // x87 FDP only updated on exception.
	{"SMEP", 5, 7, "S"},          // Supervisor Mode Execution Protection
	{"BMI2", 5, 8, "A"},          // 2nd bit manipulation extensions
	{"ERMS", 5, 9, "A"},          // Enhanced REP MOVSB/STOSB
	{"INVPCID", 5, 10, "H"},      // Invalidate Process Context ID
	{"RTM", 5, 11, "!A"},         // Restricted Transactional Memory
	{"PQM", 5, 12, ""},           // Platform QoS Monitoring
	{"NO_FPU_SEL", 5, 13, "!"},   // FPU CS/DS stored as zero
	{"MPX", 5, 14, "s"},          // Memory Protection Extensions
	{"PQE", 5, 15, ""},           // Platform QoS Enforcement
	{"AVX512F", 5, 16, "A"},      // AVX-512 Foundation Instructions
	{"AVX512DQ", 5, 17, "A"},     // AVX-512 Doubleword & Quadword Instrs
	{"RDSEED", 5, 18, "A"},       // RDSEED instruction
	{"ADX", 5, 19, "A"},          // ADCX, ADOX instructions
	{"SMAP", 5, 20, "S"},         // Supervisor Mode Access Prevention
	{"AVX512_IFMA", 5, 21, "A"},  // AVX-512 Integer Fused Multiply Add
	{"CLFLUSHOPT", 5, 23, "A"},   // CLFLUSHOPT instruction
	{"CLWB", 5, 24, "!A"},        // CLWB instruction
	{"PROC_TRACE", 5, 25, ""},    // Processor Trace
	{"AVX512PF", 5, 26, ""},      // Xeon Phi AVX-512 Prefetch Instructions
	{"AVX512ER", 5, 27, ""},      // Xeon Phi AVX-512 Exponent & Reciprocal Instrs
	{"AVX512CD", 5, 28, "A"},     // AVX-512 Conflict Detection Instrs
	{"SHA", 5, 29, "A"},          // SHA1 & SHA256 instructions
	{"AVX512BW", 5, 30, "A"},     // AVX-512 Byte and Word Instructions
	{"AVX512VL", 5, 31, "A"},     // AVX-512 Vector Length Extensions

	// Intel-defined CPU features, CPUID level 0x00000007:0.ecx, word 6
	{"PREFETCHWT1", 6, 0, "A"},       // PREFETCHWT1 instruction
	{"AVX512_VBMI", 6, 1, "A"},       // AVX-512 Vector Byte Manipulation Instrs
	{"UMIP", 6, 2, "S"},              // User Mode Instruction Prevention
	{"PKU", 6, 3, "H"},               // Protection Keys for Userspace
	{"OSPKE", 6, 4, "!"},             // OS Protection Keys Enable
	{"WAITPKG", 6, 5, ""},            // UMONITOR/UMWAIT/TPAUSE
	{"AVX512_VBMI2", 6, 6, "A"},      // Additional AVX-512 Vector Byte Manipulation Instrs
	{"CET_SS", 6, 7, ""},             // CET - Shadow Stacks
	{"GFNI", 6, 8, "A"},              // Galois Field Instrs
	{"VAES", 6, 9, "A"},              // Vector AES Instrs
	{"VPCLMULQDQ", 6, 10, "A"},       // Vector Carry-less Multiplication Instrs
	{"AVX512_VNNI", 6, 11, "A"},      // Vector Neural Network Instrs
	{"AVX512_BITALG", 6, 12, "A"},    // Support for VPOPCNT[B,W] and VPSHUFBITQMB
	{"TME", 6, 13, ""},               // Total Memory Encryption
	{"AVX512_VPOPCNTDQ", 6, 14, "A"}, // POPCNT for vectors of DW/QW
	{"LA57", 6, 16, ""},              // 5-level paging (57-bit linear address)
	{"RDPID", 6, 22, "A"},            // RDPID instruction
	{"BLD", 6, 24, ""},               // BusLock Detect (#DB trap) support
	{"CLDEMOTE", 6, 25, "A"},         // CLDEMOTE instruction
	{"MOVDIRI", 6, 27, "a"},          // MOVDIRI instruction
	{"MOVDIR64B", 6, 28, "a"},        // MOVDIR64B instruction
	{"ENQCMD", 6, 29, ""},            // ENQCMD{,S} instructions
	{"SGX_LC", 6, 30, ""},            // SGX Launch Configuration
	{"PKS", 6, 31, "H"},              // Protection Key for Supervisor

	// AMD-defined CPU features, CPUID level 0x80000007.edx, word 7
	{"HW_PSTATE", 7, 7, ""}, // Hardware Pstates
	{"ITSC", 7, 8, "a"},     // Invariant TSC
	{"CPB", 7, 9, ""},       // Core Performance Boost (Turbo)
	{"EFRO", 7, 10, ""},     // APERF/MPERF Read Only interface

	// AMD-defined CPU features, CPUID level 0x80000008.ebx, word 8
	{"CLZERO", 8, 0, "A"},           // CLZERO instruction
	{"RSTR_FP_ERR_PTRS", 8, 2, "A"}, // (F)X{SAVE,RSTOR} always saves/restores FPU Error pointers
	{"WBNOINVD", 8, 9, ""},          // WBNOINVD instruction
	{"IBPB", 8, 12, "A"},            // IBPB support only (no IBRS, used by AMD)
	{"IBRS", 8, 14, "S"},            // MSR_SPEC_CTRL.IBRS
	{"AMD_STIBP", 8, 15, "S"},       // MSR_SPEC_CTRL.STIBP
	{"IBRS_ALWAYS", 8, 16, "S"},     // IBRS preferred always on
	{"STIBP_ALWAYS", 8, 17, "S"},    // STIBP preferred always on
	{"IBRS_FAST", 8, 18, "S"},       // IBRS preferred over software options
	{"IBRS_SAME_MODE", 8, 19, "S"},  // IBRS provides same-mode protection
	{"NO_LMSL", 8, 20, "S|"},        // EFER.LMSLE no longer supported.
	{"AMD_PPIN", 8, 23, ""},         // Protected Processor Inventory Number
	{"AMD_SSBD", 8, 24, "S"},        // MSR_SPEC_CTRL.SSBD available
	{"VIRT_SSBD", 8, 25, "!"},       // MSR_VIRT_SPEC_CTRL.SSBD
	{"SSB_NO", 8, 26, "A"},          // Hardware not vulnerable to SSB
	{"CPPC", 8, 27, ""},             // Collaborative Processor Performance Control
	{"PSFD", 8, 28, "S"},            // MSR_SPEC_CTRL.PSFD
	{"BTC_NO", 8, 29, "A"},          // Hardware not vulnerable to Branch Type Confusion
	{"IBPB_RET", 8, 30, "A"},        // IBPB clears RSB/RAS too.

	// Intel-defined CPU features, CPUID level 0x00000007:0.edx, word 9
	{"SGX_KEYS", 9, 1, ""},             // SGX Attestation Service
	{"AVX512_4VNNIW", 9, 2, ""},        // Xeon Phi AVX512 Neural Network Instructions
	{"AVX512_4FMAPS", 9, 3, ""},        // Xeon Phi AVX512 Multiply Accumulation Single Precision
	{"FSRM", 9, 4, "A"},                // Fast Short REP MOVS
	{"UINTR", 9, 5, ""},                // User-mode Interrupts
	{"AVX512_VP2INTERSECT", 9, 8, "a"}, // VP2INTERSECT{D,Q} insns
	{"SRBDS_CTRL", 9, 9, ""},           // MSR_MCU_OPT_CTRL and RNGDS_MITG_DIS.
	{"MD_CLEAR", 9, 10, "!A|"},         // VERW clears microarchitectural buffers
	{"RTM_ALWAYS_ABORT", 9, 11, "!"},   // RTM disabled (but XBEGIN wont fault)
	{"TSX_FORCE_ABORT", 9, 13, ""},     // MSR_TSX_FORCE_ABORT.RTM_ABORT
	{"SERIALIZE", 9, 14, "A"},          // SERIALIZE insn
	{"HYBRID", 9, 15, ""},              // Heterogeneous platform
	{"TSXLDTRK", 9, 16, "a"},           // TSX load tracking suspend/resume insns
	{"PCONFIG", 9, 18, ""},             // PCONFIG instruction
	{"ARCH_LBR", 9, 19, ""},            // Architectural Last Branch Record
	{"CET_IBT", 9, 20, ""},             // CET - Indirect Branch Tracking
	{"AMX_BF16", 9, 22, ""},            // AMX BFloat16 instruction
	{"AVX512_FP16", 9, 23, "A"},        // AVX512 FP16 instructions
	{"AMX_TILE", 9, 24, ""},            // AMX Tile architecture
	{"AMX_INT8", 9, 25, ""},            // AMX 8-bit integer instructions
	{"IBRSB", 9, 26, "A"},              // IBRS and IBPB support (used by Intel)
	{"STIBP", 9, 27, "A"},              // STIBP
	{"L1D_FLUSH", 9, 28, "S"},          // MSR_FLUSH_CMD and L1D flush.
	{"ARCH_CAPS", 9, 29, "!A"},         // IA32_ARCH_CAPABILITIES MSR
	{"CORE_CAPS", 9, 30, ""},           // IA32_CORE_CAPABILITIES MSR
	{"SSBD", 9, 31, "A"},               // MSR_SPEC_CTRL.SSBD available

	// Intel-defined CPU features, CPUID level 0x00000007:1.eax, word 10
	{"SHA512", 10, 0, "A"},       // SHA512 Instructions
	{"SM3", 10, 1, "A"},          // SM3 Instructions
	{"SM4", 10, 2, "A"},          // SM4 Instructions
	{"AVX_VNNI", 10, 4, "A"},     // AVX-VNNI Instructions
	{"AVX512_BF16", 10, 5, "A"},  // AVX512 BFloat16 Instructions
	{"LASS", 10, 6, "s"},         // Linear Address Space Separation
	{"CMPCCXADD", 10, 7, "a"},    // CMPccXADD Instructions
	{"ARCH_PERF_MON", 10, 8, ""}, // Architectural Perfmon
	{"FZRM", 10, 10, "A"},        // Fast Zero-length REP MOVSB
	{"FSRS", 10, 11, "A"},        // Fast Short REP STOSB
	{"FSRCS", 10, 12, "A"},       // Fast Short REP CMPSB/SCASB
	{"FRED", 10, 17, ""},         // Flexible Return and Event Delivery
	{"LKGS", 10, 18, ""},         // Load Kernel GS instruction
	{"WRMSRNS", 10, 19, "S"},     // WRMSR Non-Serialising
	{"NMI_SRC", 10, 20, ""},      // NMI-Source Reporting
	{"AMX_FP16", 10, 21, ""},     // AMX FP16 instruction
	{"AVX_IFMA", 10, 23, "A"},    // AVX-IFMA Instructions
	{"LAM", 10, 26, ""},          // Linear Address Masking
	{"MSRLIST", 10, 27, ""},      // {RD,WR}MSRLIST instructions
	{"NO_INVD", 10, 30, ""},      // INVD instruction unusable
	{"MOVRS", 10, 31, "a"},       // MOV-read-shared instructions

	// AMD-defined CPU features, CPUID level 0x80000021.eax, word 11
	{"NO_NEST_BP", 11, 0, "A"},      // No Nested Data Breakpoints
	{"FS_GS_NS", 11, 1, "S|"},       // FS/GS base MSRs non-serialising
	{"LFENCE_DISPATCH", 11, 2, "A"}, // LFENCE always serializing
	{"VERW_CLEAR", 11, 5, "!A|"},    // VERW clears microarchitectural buffers
	{"NSCB", 11, 6, "A"},            // Null Selector Clears Base (and limit too)
	{"AUTO_IBRS", 11, 8, "S"},       // Automatic IBRS
	{"AMD_FSRS", 11, 10, "A"},       // Fast Short REP STOSB
	{"AMD_FSRC", 11, 11, "A"},       // Fast Short REP CMPSB
	{"CPUID_USER_DIS", 11, 17, ""},  // CPUID disable for CPL > 0 software
	{"EPSF", 11, 18, "A"},           // Enhanced Predictive Store Forwarding
	{"FSRSC", 11, 19, "A"},          // Fast Short REP SCASB
	{"AMD_PREFETCHI", 11, 20, "A"},  // PREFETCHIT{0,1} Instructions
	{"AVX512_BMM", 11, 23, "a"},     // AVX512 Bitmap Manipulation Instructions
	{"SBPB", 11, 27, "A"},           // Selective Branch Predictor Barrier
	{"IBPB_BRTYPE", 11, 28, "A"},    // IBPB flushes Branch Type predictions too
	{"SRSO_NO", 11, 29, "A"},        // Hardware not vulnerable to Speculative Return Stack Overflow
	{"SRSO_US_NO", 11, 30, "A!"},    // Hardware not vulnerable to SRSO across the User/Supervisor boundary
	{"SRSO_MSR_FIX", 11, 31, ""},    // MSR_BP_CFG.BP_SPEC_REDUCE available

	// Intel-defined CPU features, CPUID level 0x00000007:1.ebx, word 12
	{"INTEL_PPIN", 12, 0, ""}, // Protected Processor Inventory Number

	// Intel-defined CPU features, CPUID level 0x00000007:2.edx, word 13
	{"INTEL_PSFD", 13, 0, "A"}, // MSR_SPEC_CTRL.PSFD
	{"IPRED_CTRL", 13, 1, "S"}, // MSR_SPEC_CTRL.IPRED_DIS_*
	{"RRSBA_CTRL", 13, 2, "S"}, // MSR_SPEC_CTRL.RRSBA_DIS_*
	{"DDP_CTRL", 13, 3, ""},    // MSR_SPEC_CTRL.DDP_DIS_U
	{"BHI_CTRL", 13, 4, "S"},   // MSR_SPEC_CTRL.BHI_DIS_S
	{"MCDT_NO", 13, 5, "A"},    // MCDT_NO
	{"UC_LOCK_DIS", 13, 6, ""}, // UC-lock disable

	// Intel-defined CPU features, CPUID level 0x00000007:1.ecx, word 14

	// Intel-defined CPU features, CPUID level 0x00000007:1.edx, word 15
	{"AVX_VNNI_INT8", 15, 4, "A"},   // AVX-VNNI-INT8 Instructions
	{"AVX_NE_CONVERT", 15, 5, "A"},  // AVX-NE-CONVERT Instructions
	{"AMX_COMPLEX", 15, 8, ""},      // AMX Complex Instructions
	{"AVX_VNNI_INT16", 15, 10, "A"}, // AVX-VNNI-INT16 Instructions
	{"PREFETCHI", 15, 14, "A"},      // PREFETCHIT{0,1} Instructions
	{"UIRET_UIF", 15, 17, ""},       // UIRET updates UIF
	{"CET_SSS", 15, 18, ""},         // CET Supervisor Shadow Stacks safe to use
	{"SLSM", 15, 24, ""},            // Static Lockstep Mode

	// Intel-defined CPU features, MSR_ARCH_CAPS 0x10a.eax, word 16
	{"RDCL_NO", 16, 0, "A"},           // No Rogue Data Cache Load (Meltdown)
	{"EIBRS", 16, 1, "A"},             // Enhanced IBRS
	{"RSBA", 16, 2, "!"},              // RSB Alternative (Retpoline not safe)
	{"SKIP_L1DFL", 16, 3, ""},         // Don't need to flush L1D on VMEntry
	{"INTEL_SSB_NO", 16, 4, "A"},      // No Speculative Store Bypass
	{"MDS_NO", 16, 5, "A"},            // No Microarchitectural Data Sampling
	{"IF_PSCHANGE_MC_NO", 16, 6, "A"}, // No Instruction fetch #MC
	{"TSX_CTRL", 16, 7, ""},           // MSR_TSX_CTRL
	{"TAA_NO", 16, 8, "A"},            // No TSX Async Abort
	{"MCU_CTRL", 16, 9, ""},           // MSR_MCU_CTRL
	{"MISC_PKG_CTRL", 16, 10, ""},     // MSR_MISC_PKG_CTRL
	{"ENERGY_FILTERING", 16, 11, ""},  // MSR_MISC_PKG_CTRL.ENERGY_FILTERING
	{"DOITM", 16, 12, ""},             // Data Operand Invariant Timing Mode
	{"SBDR_SSDP_NO", 16, 13, "A"},     // No Shared Buffer Data Read or Sideband Stale Data Propagation
	{"FBSDP_NO", 16, 14, "A"},         // No Fill Buffer Stale Data Propagation
	{"PSDP_NO", 16, 15, "A"},          // No Primary Stale Data Propagation
	{"MCU_EXT", 16, 16, ""},           // MCU_STATUS/ENUM MSRs
	{"FB_CLEAR", 16, 17, "!A|"},       // Fill Buffers cleared by VERW
	{"FB_CLEAR_CTRL", 16, 18, ""},     // MSR_OPT_CPU_CTRL.FB_CLEAR_DIS
	{"RRSBA", 16, 19, "!"},            // Restricted RSB Alternative
	{"BHI_NO", 16, 20, "A"},           // No Branch History Injection
	{"XAPIC_STATUS", 16, 21, ""},      // MSR_XAPIC_DISABLE_STATUS
	{"OVRCLK_STATUS", 16, 23, ""},     // MSR_OVERCLOCKING_STATUS
	{"PBRSB_NO", 16, 24, "A"},         // No Post-Barrier RSB predictions
	{"GDS_CTRL", 16, 25, ""},          // MCU_OPT_CTRL.GDS_MIT_{DIS,LOCK}
	{"GDS_NO", 16, 26, "A"},           // No Gather Data Sampling
	{"RFDS_NO", 16, 27, "A"},          // No Register File Data Sampling
	{"RFDS_CLEAR", 16, 28, "!A|"},     // Register File(s) cleared by VERW
	{"IGN_UMONITOR", 16, 29, ""},      // MCU_OPT_CTRL.IGN_UMONITOR
	{"MON_UMON_MITG", 16, 30, ""},     // MCU_OPT_CTRL.MON_UMON_MITG

	// Intel-defined CPU features, MSR_ARCH_CAPS 0x10a.edx, word 17 (express in terms of word 16)
	{"PB_OPT_CTRL", 17, 0, ""}, // MSR_PB_OPT_CTRL.IBPB_ALT
	{"ITS_NO", 17, 30, "!A"},   // No Indirect Target Selection

	// AMD-defined CPU features, CPUID level 0x80000021.ecx, word 18
	{"TSA_SQ_NO", 18, 1, "A"}, // No Store Queue Transitive Scheduler Attacks
	{"TSA_L1_NO", 18, 2, "A"}, // No L1D Transitive Scheduler Attacks
}
