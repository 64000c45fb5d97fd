package xen

// The read-only machine-to-phys table (arch-x86/xen-x86_64.h).
const (
	// MachToPhysVirtStart and MachToPhysVirtEnd bound Xen's default
	// read-only M2P (HYPERVISOR_VIRT_START, L4 slot 256).
	MachToPhysVirtStart = 0xffff800000000000
	MachToPhysVirtEnd   = 0xffff804000000000
	// InvalidM2PEntry (INVALID_M2P_ENTRY) is the M2P's value for a machine
	// frame no guest frame is.
	InvalidM2PEntry = ^uint64(0)
)

// memory_op (public/memory.h): commands pvsim answers, and the structures
// they read and write.
const (
	HypercallMemoryOp = 12 // __HYPERVISOR_memory_op

	// MemOpCmdMask selects the command of memory_op's first argument;
	// the bits above MemOpExtentShift are a continuation's start extent.
	MemOpCmdMask     = 0x3f
	MemOpExtentShift = 6

	XenMemMaximumRAMPage     = 2  // XENMEM_maximum_ram_page
	XenMemCurrentReservation = 3  // XENMEM_current_reservation: arg is a domid_t
	XenMemMaximumReservation = 4  // XENMEM_maximum_reservation
	XenMemMemoryMap          = 9  // XENMEM_memory_map: struct xen_memory_map
	XenMemMachphysMapping    = 12 // XENMEM_machphys_mapping: struct xen_machphys_mapping
	XenMemMaximumGPFN        = 14 // XENMEM_maximum_gpfn

	// MemoryMapSize is struct xen_memory_map: nr_entries (unsigned int),
	// then the buffer handle at MemoryMapBuffer.
	MemoryMapSize   = 16
	MemoryMapBuffer = 8
	// E820EntrySize is struct e820entry, packed: addr, size (u64), type
	// (u32).
	E820EntrySize = 20
	E820RAM       = 1
	E820Reserved  = 2

	// MachphysMappingSize is struct xen_machphys_mapping: v_start, v_end,
	// max_mfn.
	MachphysMappingSize = 24
)
