package xen

// event_channel_op (public/event_channel.h), the virtual IRQs (xen.h) and
// the 2-level event channel bits of shared_info and vcpu_info, x86-64.

// HypercallEventChannelOp is __HYPERVISOR_event_channel_op(cmd, arg).
const HypercallEventChannelOp = 32

// event_channel_op commands (EVTCHNOP_*).
const (
	EvtchnOpBindInterdomain = 0
	EvtchnOpBindVIRQ        = 1
	EvtchnOpBindPIRQ        = 2
	EvtchnOpClose           = 3
	EvtchnOpSend            = 4
	EvtchnOpStatus          = 5
	EvtchnOpAllocUnbound    = 6
	EvtchnOpBindIPI         = 7
	EvtchnOpBindVCPU        = 8
	EvtchnOpUnmask          = 9
	EvtchnOpReset           = 10
	EvtchnOpInitControl     = 11
	EvtchnOpExpandArray     = 12
	EvtchnOpSetPriority     = 13
	// EvtchnOpResetCont continues a preempted reset. The header shows it
	// to Xen only, but Xen's dispatcher takes it from a guest as well.
	EvtchnOpResetCont = 14
)

// Channel states as evtchn_status reports them (EVTCHNSTAT_*).
const (
	EvtchnStatClosed      = 0
	EvtchnStatUnbound     = 1
	EvtchnStatInterdomain = 2
	EvtchnStatPIRQ        = 3
	EvtchnStatVIRQ        = 4
	EvtchnStatIPI         = 5
)

// Virtual IRQs (VIRQ_*). Per-vCPU ones are bound once per vCPU; the rest
// once per domain, on vCPU 0 (see each comment: V per vCPU, D per domain,
// G global, whose one handling domain binds it).
const (
	VIRQTimer     = 0  // V: VIRQ_TIMER
	VIRQDebug     = 1  // V: VIRQ_DEBUG
	VIRQConsole   = 2  // G: VIRQ_CONSOLE
	VIRQDomExc    = 3  // G: VIRQ_DOM_EXC
	VIRQTBuf      = 4  // G: VIRQ_TBUF
	VIRQDebugger  = 6  // G: VIRQ_DEBUGGER
	VIRQXenOprof  = 7  // V: VIRQ_XENOPROF
	VIRQConRing   = 8  // G: VIRQ_CON_RING
	VIRQPCPUState = 9  // G: VIRQ_PCPU_STATE
	VIRQMemEvent  = 10 // G: VIRQ_MEM_EVENT
	VIRQArgo      = 11 // D: VIRQ_ARGO
	VIRQENOMEM    = 12 // G: VIRQ_ENOMEM
	VIRQXenPMU    = 13 // V: VIRQ_XENPMU
	VIRQArch0     = 16 // VIRQ_ARCH_0..7 are 16..23, global on x86
	VIRQMCA       = 16 // G: VIRQ_MCA, x86's VIRQ_ARCH_0 (arch-x86/xen-mca.h)
	NrVIRQs       = 24 // NR_VIRQS
)

// Evtchn2LNrChannels is how many ports the 2-level ABI has for a 64-bit
// guest (EVTCHN_2L_NR_CHANNELS): one pending bit per port in 64 words of
// 64 bits, one selector bit per word.
const Evtchn2LNrChannels = 64 * 64

// The 2-level ABI's bits in struct shared_info, after its vcpu_info
// array: xen_ulong_t evtchn_pending[64] and evtchn_mask[64], port p in
// bit p%64 of word p/64.
const (
	SharedInfoEvtchnPending = LegacyMaxVCPUs * VCPUInfoSize // 2048
	SharedInfoEvtchnMask    = SharedInfoEvtchnPending + 64*8
	SharedInfoWCVersion     = SharedInfoEvtchnMask + 64*8 // 3072, the first byte after them
)

// struct vcpu_info's event fields: evtchn_upcall_pending and
// evtchn_upcall_mask are bytes, evtchn_pending_sel a xen_ulong_t whose
// bit w says word w of evtchn_pending may hold unmasked pending ports.
const (
	VCPUInfoUpcallPending = 0
	VCPUInfoUpcallMask    = 1
	VCPUInfoPendingSel    = 8
)

// Layouts of event_channel_op's argument structures: each *Size is the
// structure's size, the rest are field offsets. domid_t fields are 16
// bits, ports (evtchn_port_t) and the others 32, gfns 64.
const (
	// struct evtchn_alloc_unbound {dom, remote_dom; port}.
	EvtchnAllocUnboundDom       = 0
	EvtchnAllocUnboundRemoteDom = 2
	EvtchnAllocUnboundPort      = 4
	EvtchnAllocUnboundSize      = 8

	// struct evtchn_bind_interdomain {remote_dom, remote_port; local_port}.
	EvtchnBindInterdomainRemoteDom  = 0
	EvtchnBindInterdomainRemotePort = 4
	EvtchnBindInterdomainLocalPort  = 8
	EvtchnBindInterdomainSize       = 12

	// struct evtchn_bind_virq {virq, vcpu; port}.
	EvtchnBindVIRQVIRQ = 0
	EvtchnBindVIRQVCPU = 4
	EvtchnBindVIRQPort = 8
	EvtchnBindVIRQSize = 12

	// struct evtchn_bind_pirq {pirq, flags; port}.
	EvtchnBindPIRQPIRQ  = 0
	EvtchnBindPIRQFlags = 4
	EvtchnBindPIRQPort  = 8
	EvtchnBindPIRQSize  = 12
	BindPIRQWillShare   = 1 // BIND_PIRQ__WILL_SHARE

	// struct evtchn_bind_ipi {vcpu; port}.
	EvtchnBindIPIVCPU = 0
	EvtchnBindIPIPort = 4
	EvtchnBindIPISize = 8

	// struct evtchn_close, evtchn_send and evtchn_unmask: {port}.
	EvtchnPortArgSize = 4

	// struct evtchn_status {dom, port; status, vcpu, union u}: u is
	// unbound.dom (u16), interdomain.{dom (u16), port}, pirq or virq.
	EvtchnStatusDom             = 0
	EvtchnStatusPort            = 4
	EvtchnStatusStatus          = 8
	EvtchnStatusVCPU            = 12
	EvtchnStatusUnboundDom      = 16
	EvtchnStatusInterdomainDom  = 16
	EvtchnStatusInterdomainPort = 20
	EvtchnStatusPIRQ            = 16
	EvtchnStatusVIRQ            = 16
	EvtchnStatusSize            = 24

	// struct evtchn_bind_vcpu {port, vcpu}.
	EvtchnBindVCPUPort = 0
	EvtchnBindVCPUVCPU = 4
	EvtchnBindVCPUSize = 8

	// struct evtchn_reset {dom}.
	EvtchnResetDom  = 0
	EvtchnResetSize = 2

	// struct evtchn_init_control {control_gfn, offset, vcpu; link_bits,
	// _pad[7]}.
	EvtchnInitControlGFN      = 0
	EvtchnInitControlOffset   = 8
	EvtchnInitControlVCPU     = 12
	EvtchnInitControlLinkBits = 16
	EvtchnInitControlSize     = 24

	// struct evtchn_expand_array {array_gfn}.
	EvtchnExpandArrayGFN  = 0
	EvtchnExpandArraySize = 8

	// struct evtchn_set_priority {port, priority}.
	EvtchnSetPriorityPort     = 0
	EvtchnSetPriorityPriority = 4
	EvtchnSetPrioritySize     = 8
)
