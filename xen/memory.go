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
