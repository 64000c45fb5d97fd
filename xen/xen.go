// Package xen holds the subset of the Xen public ABI (xen/include/public,
// x86-64 PV flavour) that pvsim implements: hypercall numbers, command and
// flag values, structure layouts and error codes. Values are Xen's own, so a
// guest written against Xen's headers runs unchanged; pvsim's extensions are
// marked as such.
//
// The package holds numbers only. It decodes nothing and has no behaviour, so
// that every other package can name the ABI the way the Xen headers do.
package xen

import "strconv"

// Hypercall numbers (__HYPERVISOR_*).
const (
	HypercallSetTrapTable     = 0
	HypercallMMUUpdate        = 1
	HypercallSetGDT           = 2
	HypercallStackSwitch      = 3
	HypercallUpdateDescriptor = 10
	HypercallMulticall        = 13
	HypercallUpdateVAMapping  = 14
	HypercallXenVersion       = 17
	HypercallConsoleIO        = 18
	HypercallIret             = 23
	HypercallVCPUOp           = 24
	HypercallSetSegmentBase   = 25
	HypercallMMUExtOp         = 26
	HypercallSchedOp          = 29

	// HypercallPVSimOp is pvsim's extension hypercall (pvsim_op), numbered
	// past Xen's own, which end below 64. See PVSimOp*.
	HypercallPVSimOp = 64

	// NrHypercalls is how many 32-byte entries the hypercall page holds.
	NrHypercalls = 128
	// HypercallStubSize is the size of one hypercall page entry.
	HypercallStubSize = 32
)

// Errno is a Xen error code. Hypercalls return its negation in RAX.
type Errno int64

// Xen's error codes (xen/include/public/errno.h), positive as in the header.
const (
	EPERM  Errno = 1
	ENOENT Errno = 2
	ESRCH  Errno = 3
	EINTR  Errno = 4
	EIO    Errno = 5
	ENXIO  Errno = 6
	ENODEV Errno = 19
	E2BIG  Errno = 7
	EAGAIN Errno = 11
	ENOMEM Errno = 12
	EACCES Errno = 13
	EFAULT Errno = 14
	EBUSY  Errno = 16
	EEXIST Errno = 17
	EINVAL Errno = 22
	ENOSPC Errno = 28
	ENOSYS Errno = 38
	// ETIME: a singleshot timer asked for in the future
	// (VCPU_SSHOTTMR_future) whose time has passed.
	ETIME Errno = 62
	// EOPNOTSUPP: what event_channel_op answers for the FIFO ABI when it
	// is not built in.
	EOPNOTSUPP Errno = 95
)

var errnoNames = map[Errno]string{
	EPERM: "EPERM", ENOENT: "ENOENT", ESRCH: "ESRCH", EINTR: "EINTR", EIO: "EIO", ENXIO: "ENXIO", ENODEV: "ENODEV",
	E2BIG: "E2BIG", EAGAIN: "EAGAIN", ENOMEM: "ENOMEM", EACCES: "EACCES",
	EFAULT: "EFAULT", EBUSY: "EBUSY", EEXIST: "EEXIST", EINVAL: "EINVAL",
	ENOSPC: "ENOSPC", ENOSYS: "ENOSYS", ETIME: "ETIME", EOPNOTSUPP: "EOPNOTSUPP",
}

func (e Errno) Error() string {
	if n, ok := errnoNames[e]; ok {
		return n
	}
	return "errno " + strconv.FormatInt(int64(e), 10)
}

// Ret is the value a hypercall returns in RAX for this error: -errno.
func (e Errno) Ret() uint64 { return uint64(-int64(e)) }

// console_io commands.
const (
	ConsoleIOWrite = 0 // CONSOLEIO_write
	ConsoleIORead  = 1 // CONSOLEIO_read
)

// xen_version commands.
const (
	XenVerVersion            = 0 // XENVER_version: major<<16 | minor
	XenVerExtraVersion       = 1 // XENVER_extraversion: char[16]
	XenVerCapabilities       = 3 // XENVER_capabilities: char[1024]
	XenVerPlatformParameters = 5 // XENVER_platform_parameters: {unsigned long virt_start}
	XenVerGetFeatures        = 6 // XENVER_get_features: struct xen_feature_info
	XenVerPageSize           = 7 // XENVER_pagesize
	XenVerCompileInfo        = 2 // XENVER_compile_info: struct xen_compile_info
	XenVerChangeset          = 4 // XENVER_changeset: char[64]
	XenVerGuestHandle        = 8 // XENVER_guest_handle: uint8_t[16]
	XenVerCommandline        = 9 // XENVER_commandline: char[1024]

	// Sizes of the strings and structures they write.
	XenCompileInfoSize = 144 // compiler[64], compile_by[16], compile_domain[32], compile_date[32]
	XenChangesetSize   = 64
	XenCommandlineSize = 1024
	XenGuestHandleSize = 16
)

// XENVER_get_features submap 0 bits (public/features.h) pvsim can offer.
const (
	XenFeatMMUPTUpdatePreserveAD = 5  // XENFEAT_mmu_pt_update_preserve_ad
	XenFeatGnttabMapAvailBits    = 7  // XENFEAT_gnttab_map_avail_bits
	XenFeatDirectMapped          = 17 // XENFEAT_direct_mapped
)

// sched_op commands and shutdown reasons.
const (
	SchedOpYield    = 0 // SCHEDOP_yield
	SchedOpBlock    = 1 // SCHEDOP_block
	SchedOpShutdown = 2 // SCHEDOP_shutdown: arg is struct sched_shutdown {unsigned int reason}
	SchedOpPoll     = 3 // SCHEDOP_poll: arg is struct sched_poll
)

// struct sched_poll (sched.h): a guest handle to an array of
// evtchn_port_t (u32), nr_ports (u32), and timeout (u64, absolute system
// time; 0 for none). Xen refuses more than SchedPollMaxPorts ports.
const (
	SchedPollPorts    = 0
	SchedPollNrPorts  = 8
	SchedPollTimeout  = 16
	SchedPollSize     = 24
	SchedPollMaxPorts = 128
)

// ShutdownReason is the reason a domain gives in SCHEDOP_shutdown.
type ShutdownReason uint32

const (
	ShutdownPoweroff ShutdownReason = 0
	ShutdownReboot   ShutdownReason = 1
	ShutdownSuspend  ShutdownReason = 2
	ShutdownCrash    ShutdownReason = 3
	ShutdownWatchdog ShutdownReason = 4
)

func (r ShutdownReason) String() string {
	switch r {
	case ShutdownPoweroff:
		return "poweroff"
	case ShutdownReboot:
		return "reboot"
	case ShutdownSuspend:
		return "suspend"
	case ShutdownCrash:
		return "crash"
	case ShutdownWatchdog:
		return "watchdog"
	}
	return "reason " + strconv.FormatUint(uint64(r), 10)
}

// vcpu_op commands.
const (
	VCPUOpInitialise = 0 // VCPUOP_initialise: arg is struct vcpu_guest_context
	VCPUOpUp         = 1 // VCPUOP_up
	VCPUOpDown       = 2 // VCPUOP_down
	VCPUOpIsUp       = 3 // VCPUOP_is_up
	// VCPUOpRegisterRunstateMemoryArea (VCPUOP_register_runstate_memory_area):
	// arg is a guest virtual address where Xen keeps the vCPU's struct
	// vcpu_runstate_info.
	VCPUOpRegisterRunstateMemoryArea = 5
	// VCPUOpSetPeriodicTimer (VCPUOP_set_periodic_timer): arg is struct
	// vcpu_set_periodic_timer, period_ns (u64); VCPUOpStopPeriodicTimer
	// stops it.
	VCPUOpSetPeriodicTimer  = 6
	VCPUOpStopPeriodicTimer = 7
	// VCPUOpSetSingleshotTimer (VCPUOP_set_singleshot_timer): arg is
	// struct vcpu_set_singleshot_timer, timeout_abs_ns (u64) and flags
	// (u32); for the calling vCPU only. VCPUOpStopSingleshotTimer stops it.
	VCPUOpSetSingleshotTimer  = 8
	VCPUOpStopSingleshotTimer = 9
	SingleshotTimerSize       = 16
	SingleshotTimerFlags      = 8
	SSHotTmrFuture            = 1 << 0 // VCPU_SSHOTTMR_future
	// VCPUOpRegisterVCPUInfo (VCPUOP_register_vcpu_info): arg is struct
	// vcpu_register_vcpu_info, mfn (u64), offset and rsvd (u32): where
	// the vCPU's vcpu_info is to be kept from now on.
	VCPUOpRegisterVCPUInfo = 10
	RegisterVCPUInfoSize   = 16
	RegisterVCPUInfoOffset = 8
)

// struct vcpu_runstate_info (vcpu.h): state (int), state_entry_time,
// then time[4], the nanoseconds spent in each state.
const (
	RunstateInfoSize      = 48
	RunstateEntryTime     = 8
	RunstateTime          = 16
	RunstateRunning       = 0 // RUNSTATE_running
	RunstateRunnable      = 1 // RUNSTATE_runnable
	RunstateBlocked       = 2 // RUNSTATE_blocked
	RunstateOffline       = 3 // RUNSTATE_offline
	XenRunstateUpdateFlag = 1 << 63
)

// set_segment_base selectors.
const (
	SegBaseFS        = 0 // SEGBASE_FS
	SegBaseGSUser    = 1 // SEGBASE_GS_USER
	SegBaseGSKernl   = 2 // SEGBASE_GS_KERNEL
	SegBaseGSUserSel = 3 // SEGBASE_GS_USER_SEL: the value is a selector
)

// MaxLDTEntries is the most entries MMUEXT_SET_LDT takes (8192, a full
// LDT of 64 KiB).
const MaxLDTEntries = 8192

// Flat segment selectors of the x86-64 PV ABI (arch-x86/xen-x86_64.h). They
// live in the Xen-reserved part of every GDT, from FirstReservedGDTByte.
const (
	FlatRing3CS32 = 0xe023
	FlatRing3CS64 = 0xe033
	FlatRing3DS32 = 0xe02b
	FlatRing3DS64 = 0x0000
	FlatRing3SS64 = 0xe02b

	HypervisorCS   = 0xe008 // __HYPERVISOR_CS: ring-0 64-bit code
	HypervisorDS32 = 0xe010 // __HYPERVISOR_DS32: ring-0 data
	HypervisorCS32 = 0xe038 // __HYPERVISOR_CS32
	TSSSelector    = 0xe040 // TSS_ENTRY << 3
	LDTSelector    = 0xe050 // LDT_ENTRY << 3
	PerCPUSelector = 0xe060 // PER_CPU_GDT_ENTRY << 3

	FirstReservedGDTPage = 14
	FirstReservedGDTByte = FirstReservedGDTPage * 4096
)

// The hypervisor's reserved virtual range: L4 slots 256..271.
const (
	HypervisorVirtStart = 0xffff800000000000
	HypervisorVirtEnd   = 0xffff880000000000
	FirstReservedL4Slot = 256
	LastReservedL4Slot  = 271
)

// Xen ELF note types (xen/include/public/elfnote.h).
const (
	ElfNoteInfo          = 0
	ElfNoteEntry         = 1
	ElfNoteHypercallPage = 2
	ElfNoteVirtBase      = 3
	ElfNotePaddrOffset   = 4
	ElfNoteXenVersion    = 5
	ElfNoteGuestOS       = 6
	ElfNoteGuestVersion  = 7
	ElfNoteLoader        = 8
	ElfNotePAEMode       = 9
	ElfNoteFeatures      = 10
)

// StartInfoMagic is the magic string at the start of start_info on x86-64.
const StartInfoMagic = "xen-3.0-x86_64"

// Layout of struct start_info (x86-64).
const (
	StartInfoMagicOff      = 0
	StartInfoNrPages       = 32
	StartInfoSharedInfo    = 40
	StartInfoFlags         = 48
	StartInfoStoreMFN      = 56
	StartInfoStoreEvtchn   = 64
	StartInfoConsoleMFN    = 72
	StartInfoConsoleEvtchn = 80
	StartInfoPtBase        = 88
	StartInfoNrPtFrames    = 96
	StartInfoMFNList       = 104
	StartInfoModStart      = 112
	StartInfoModLen        = 120
	StartInfoCmdLine       = 128
	StartInfoFirstP2MPFN   = 1152
	StartInfoNrP2MFrames   = 1160
	StartInfoSize          = 1168

	MaxGuestCmdline = 1024
)

// Layout of struct cpu_user_regs (x86-64), 200 bytes.
const (
	UserRegsR15    = 0
	UserRegsR14    = 8
	UserRegsR13    = 16
	UserRegsR12    = 24
	UserRegsRBP    = 32
	UserRegsRBX    = 40
	UserRegsR11    = 48
	UserRegsR10    = 56
	UserRegsR9     = 64
	UserRegsR8     = 72
	UserRegsRAX    = 80
	UserRegsRCX    = 88
	UserRegsRDX    = 96
	UserRegsRSI    = 104
	UserRegsRDI    = 112
	UserRegsRIP    = 128
	UserRegsCS     = 136
	UserRegsRFLAGS = 144
	UserRegsRSP    = 152
	UserRegsSS     = 160
	UserRegsSize   = 200
)

// UserRegsGPR are the offsets in struct cpu_user_regs of the 16 general
// registers, in the x86 encoding's order: RAX, RCX, RDX, RBX, RSP, RBP,
// RSI, RDI, R8 to R15.
var UserRegsGPR = [16]int{UserRegsRAX, UserRegsRCX, UserRegsRDX, UserRegsRBX, UserRegsRSP, UserRegsRBP,
	UserRegsRSI, UserRegsRDI, UserRegsR8, UserRegsR9, UserRegsR10, UserRegsR11, UserRegsR12, UserRegsR13,
	UserRegsR14, UserRegsR15}

// Layout of struct vcpu_guest_context (x86-64), 5168 bytes.
const (
	VCPUCtxFlags        = 512
	VCPUCtxUserRegs     = 520
	VCPUCtxTrapCtxt     = 720
	VCPUCtxLDTBase      = 4816
	VCPUCtxLDTEnts      = 4824
	VCPUCtxGDTFrames    = 4832 // unsigned long gdt_frames[16]
	VCPUCtxGDTEnts      = 4960
	VCPUCtxKernelSS     = 4968
	VCPUCtxKernelSP     = 4976
	VCPUCtxCtrlReg      = 4984 // unsigned long ctrlreg[8]; the user L4 in ctrlreg[1]
	VCPUCtxDebugReg     = 5048 // unsigned long debugreg[8]
	VCPUCtxEventCB      = 5112 // event_callback_eip
	VCPUCtxFailsafeCB   = 5120 // failsafe_callback_eip
	VCPUCtxSyscallCB    = 5128 // syscall_callback_eip
	VCPUCtxVMAssist     = 5136
	VCPUCtxFSBase       = 5144
	VCPUCtxGSBaseKernel = 5152
	VCPUCtxGSBaseUser   = 5160
	VCPUCtxSize         = 5168
)

// mmu_update request types: the low bits of mmu_update.ptr.
const (
	MMUNormalPTUpdate     = 0 // MMU_NORMAL_PT_UPDATE
	MMUMachPhysUpdate     = 1 // MMU_MACHPHYS_UPDATE
	MMUPTUpdatePreserveAD = 2 // MMU_PT_UPDATE_PRESERVE_AD
	MMUUpdateSize         = 16

	// MMUUpdatePreempted marks the count of a continued mmu_update or
	// mmuext_op (MMU_UPDATE_PREEMPTED): the guest's done count already
	// holds what the earlier slices did. Counts are 32 bits.
	MMUUpdatePreempted = 1 << 31
)

// update_va_mapping flags.
const (
	UVMFNone          = 0
	UVMFTLBFlush      = 1
	UVMFInvlpg        = 2
	UVMFFlushTypeMask = 3
	UVMFAll           = 4 // flush on every vCPU; without it, LOCAL, or MULTI when flags>>3 != 0
)

// mmuext_op commands (MMUEXT_*), and struct mmuext_op's layout.
const (
	MMUExtPinL1Table    = 0
	MMUExtPinL2Table    = 1
	MMUExtPinL3Table    = 2
	MMUExtPinL4Table    = 3
	MMUExtUnpinTable    = 4
	MMUExtNewBasePtr    = 5
	MMUExtTLBFlushLocal = 6
	MMUExtInvlpgLocal   = 7
	MMUExtTLBFlushMulti = 8
	MMUExtInvlpgMulti   = 9
	MMUExtTLBFlushAll   = 10
	MMUExtInvlpgAll     = 11
	// MMUExtNewUserBasePtr (MMUEXT_NEW_USER_BASEPTR) sets the L4 a 64-bit
	// PV guest's user mode runs on.
	MMUExtSetLDT         = 13 // arg1 linear address, arg2 nr_ents
	MMUExtNewUserBasePtr = 15

	MMUExtOpSize = 24 // cmd at 0, arg1 at 8, arg2 at 16
)

// struct multicall_entry: op, result, args[6].
const (
	MulticallEntrySize = 64
	MulticallResult    = 8
	MulticallArgs      = 16
)

// DomIDSelf names the calling domain.
const DomIDSelf = 0x7ff0

// PVSimDomID is the domain id of pvsim's one domain: 1, the first a
// toolstack gives a guest. BackendDomID, 0, is the control domain's, the
// backend of the guest's console and xenstore: in pvsim it exists only as
// the remote end of their event channels, and grants nothing.
const (
	PVSimDomID   = 1
	BackendDomID = 0
)

// HYPERVISOR_iret (arch-x86/xen-x86_64.h): the guest jumps to the iret
// stub with flags, rip, cs, rflags, rsp, ss on its stack; the stub pushes
// rcx, r11 and rax below them, giving struct iret_context.
const (
	IretRAX    = 0
	IretR11    = 8
	IretRCX    = 16
	IretFlags  = 24
	IretRIP    = 32
	IretCS     = 40
	IretRFLAGS = 48
	IretRSP    = 56
	IretSS     = 64
	IretSize   = 72

	// VGCFInSyscall in iret_context.flags: return as from a syscall,
	// by sysret: rcx and r11 are not restored from the frame but become
	// rip and rflags, and cs and ss the flat ones (VGCF_in_syscall).
	VGCFInSyscall = 1 << 8

	// vcpu_guest_context.flags.
	VGCFI387Valid              = 1 << 0 // VGCF_I387_VALID
	VGCFInKernel               = 1 << 2 // VGCF_in_kernel
	VGCFFailsafeDisablesEvents = 1 << 3 // VGCF_failsafe_disables_events
	VGCFSyscallDisablesEvents  = 1 << 4 // VGCF_syscall_disables_events
	VGCFOnline                 = 1 << 5 // VGCF_online
)

// struct trap_info, one entry of set_trap_table's list.
const (
	TrapInfoVector  = 0
	TrapInfoFlags   = 1
	TrapInfoCS      = 2
	TrapInfoAddress = 8
	TrapInfoSize    = 16
)

// The shared info page: struct shared_info begins with
// vcpu_info[LegacyMaxVCPUs]; a vCPU's CR2 at a #PF is in its
// vcpu_info.arch.cr2.
const (
	LegacyMaxVCPUs = 32 // XEN_LEGACY_MAX_VCPUS
	VCPUInfoSize   = 64
	VCPUInfoCR2    = 16
	VCPUInfoTime   = 32 // struct vcpu_time_info
)

// struct vcpu_time_info, the pvclock a vCPU reads its time from: system
// time in ns is system_time + scale(rdtsc() - tsc_timestamp), where scale
// shifts by tsc_shift (left when positive) and multiplies by
// tsc_to_system_mul / 2^32. version is odd while the hypervisor updates it.
const (
	TimeInfoVersion      = 0  // uint32
	TimeInfoTSCTimestamp = 8  // uint64
	TimeInfoSystemTime   = 16 // uint64
	TimeInfoTSCMul       = 24 // uint32 tsc_to_system_mul
	TimeInfoTSCShift     = 28 // int8
	TimeInfoSize         = 32
)

// pvsim's extension hypercall, pvsim_op(cmd, a1, a2, a3) (not Xen's). A
// guest finds it through XENVER_get_features with submap index
// PVSimFeaturesSubmap, whose bits are PVSimFeat*.
const (
	// PVSimFeaturesSubmap is the xen_feature_info.submap_idx that answers
	// pvsim's feature bits ("pvsm"); Xen's own submaps are numbered from 0.
	PVSimFeaturesSubmap = 0x7076736d

	PVSimFeatTestAndClearPTEFlags = 0
	PVSimFeatPagetablePending     = 1
	PVSimFeatTraceMark            = 2
	PVSimFeatExitCounters         = 3
	// PVSimFeatDeterministic is set when the domain runs under the
	// deterministic scheduler: vCPUs run one at a time and switch only at
	// exits, so a busy-wait must exit (SCHEDOP_yield) to let others run.
	PVSimFeatDeterministic = 4

	// PVSimOpTestAndClearPTEFlags (a1 = machine address of an L1 entry,
	// a2 = mask): atomically clear mask in the entry and return old&mask.
	PVSimOpTestAndClearPTEFlags = 1
	// PVSimOpPagetablePending (a1 = array of mfns, a2 = count, a3 = 1 to
	// announce, 0 to withdraw): the frames are becoming pagetables (pin
	// phase 1) or have just stopped being ones (unpin); a faulting write to
	// one that is not a pagetable in use is emulated, not bounced.
	PVSimOpPagetablePending = 2
	// PVSimOpTraceMark (a1 = label string, a2 = number): a mark in the
	// exit trace.
	PVSimOpTraceMark = 3
	// PVSimOpRegisterExitCounters (a1 = mfn): the hypervisor keeps vCPU
	// i's exit count as a uint64 at offset 8*i of that frame.
	PVSimOpRegisterExitCounters = 4
	// PVSimOpSchedPoint (a1 = label string, a2 = number): an explicit
	// scheduling point; in a deterministic domain the scheduler may switch
	// vCPUs here. Elsewhere a no-op.
	PVSimOpSchedPoint = 5
	// PVSimOpSnapshotPoint: the domain's state here, with only the caller
	// up, is the same for every schedule; an explorer may snapshot it and
	// start each schedule from there.
	PVSimOpSnapshotPoint = 6

	// PVSimMaxPending bounds one PVSimOpPagetablePending call.
	PVSimMaxPending = 512
	// PVSimMaxLabel bounds a trace mark's label, NUL excluded. A label is
	// not empty.
	PVSimMaxLabel = 63
)

// Hypercalls pvsim does not offer, by number, for the names reports
// give them (xen.h).
const (
	HypercallSchedOpCompat         = 6
	HypercallPlatformOp            = 7
	HypercallSetDebugreg           = 8
	HypercallGetDebugreg           = 9
	HypercallSetTimerOp            = 15
	HypercallEventChannelOpCompat  = 16
	HypercallPhysdevOpCompat       = 19
	HypercallUpdateVAMappingOtherD = 22
	HypercallXSMOp                 = 27
	HypercallNMIOp                 = 28
	HypercallXenoprofOp            = 31
	HypercallHVMOp                 = 34
	HypercallKexecOp               = 37
	HypercallTmemOp                = 38
	HypercallArgoOp                = 39
	HypercallXenPMUOp              = 40
	HypercallDMOp                  = 41
	HypercallHypfsOp               = 42
)

var hypercallNames = [NrHypercalls]string{
	HypercallSetTrapTable: "set_trap_table", HypercallMMUUpdate: "mmu_update", HypercallSetGDT: "set_gdt",
	HypercallStackSwitch: "stack_switch", HypercallMulticall: "multicall", HypercallUpdateVAMapping: "update_va_mapping",
	HypercallXenVersion: "xen_version", HypercallConsoleIO: "console_io", HypercallIret: "iret",
	HypercallVCPUOp: "vcpu_op", HypercallSetSegmentBase: "set_segment_base", HypercallMMUExtOp: "mmuext_op",
	HypercallSchedOp: "sched_op", HypercallPVSimOp: "pvsim_op",
	HypercallSetCallbacks: "set_callbacks", HypercallUpdateDescriptor: "update_descriptor", HypercallVMAssist: "vm_assist",
	HypercallCallbackOp: "callback_op", HypercallEventChannelOp: "event_channel_op", HypercallPhysdevOp: "physdev_op",
	HypercallMemoryOp: "memory_op", HypercallFPUTaskswitch: "fpu_taskswitch", HypercallGrantTableOp: "grant_table_op",
	HypercallSysctl: "sysctl", HypercallDomctl: "domctl",
	HypercallSchedOpCompat: "sched_op_compat", HypercallPlatformOp: "platform_op", HypercallSetDebugreg: "set_debugreg",
	HypercallGetDebugreg: "get_debugreg", HypercallSetTimerOp: "set_timer_op", HypercallEventChannelOpCompat: "event_channel_op_compat",
	HypercallPhysdevOpCompat: "physdev_op_compat", HypercallUpdateVAMappingOtherD: "update_va_mapping_otherdomain",
	HypercallXSMOp: "xsm_op", HypercallNMIOp: "nmi_op", HypercallXenoprofOp: "xenoprof_op", HypercallHVMOp: "hvm_op",
	HypercallKexecOp: "kexec_op", HypercallTmemOp: "tmem_op", HypercallArgoOp: "argo_op", HypercallXenPMUOp: "xenpmu_op",
	HypercallDMOp: "dm_op", HypercallHypfsOp: "hypfs_op",
}

// HypercallName is the name of hypercall nr without its __HYPERVISOR_
// prefix, or "hypercall_<nr>" for one pvsim does not know.
func HypercallName(nr int) string {
	if nr >= 0 && nr < NrHypercalls && hypercallNames[nr] != "" {
		return hypercallNames[nr]
	}
	return "hypercall_" + strconv.Itoa(nr)
}
