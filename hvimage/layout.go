// Package hvimage is the hypervisor region as bytes: its virtual layout,
// the IDT, the per-vCPU GDT (Xen's reserved entries where Xen puts them),
// TSS and CPL0 stacks, the exception entry stubs, the executor and its
// short paths (CPL0 code that writes guest pagetables in guest context),
// the executor's command block, and the hypercall page the guest calls. It
// writes them into a domain's memory before any vCPU runs; hv drives them
// at run time. Disassembly goldens of all its code are in testdata/.
package hvimage

import (
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/xen"
)

// Virtual layout of the hypervisor region. It lives in Xen's reserved range
// (L4 slots 256..271, copied into every guest L4), from slot 257: on
// kvm_pvm, CPL3 accesses to slot 256 fault (a read of RAM there raises #PF
// with the reserved bit set, a store to the doorbell there a not-present
// #PF; measured), and the doorbell must be reachable from CPL3. Xen keeps
// its read-only machine-to-phys table in slot 256; pvsim provides none.
// Every leaf in the region is supervisor-only, except the doorbell.
const (
	TextVA     = xen.HypervisorVirtStart + 1<<39 // slot 257: entry stubs, executor
	IDTVA      = TextVA + 0x10000
	DoorbellVA = TextVA + 0x20000
	// SyscallEntryVA is where a guest kernel's syscall lands (MSR_LSTAR):
	// the syscall hypercall transport (SyscallEntryCode), user-executable.
	SyscallEntryVA = TextVA + 0x30000
	perCPUVA       = TextVA + 0x100000 // one perCPUSpan per vCPU
	perCPUSpan     = 0x40000
	// ldtVA is where each vCPU's LDT is mapped, LDTPages pages a vCPU:
	// Xen's per-vCPU LDT shadow area, whose pages are the guest's LDT
	// frames, mapped on the first fault in them.
	ldtVA = TextVA + 0x800000
	// LDTPages is the pages of a full LDT (xen.MaxLDTEntries entries).
	LDTPages = xen.MaxLDTEntries * 8 / mmu.PageSize

	// Offsets inside one vCPU's area.
	cpuGDTOff     = 0x00000 // 16 pages: 14 guest GDT pages, then Xen's reserved page
	cpuTSSOff     = 0x10000
	cpuStackOff   = 0x20000 // CPL0 stack, TSS.RSP0 points at its top
	CPUStackPages = 8
	cpuISTOff     = 0x30000 // stack for #DF, NMI and #MC (IST1)
	cpuISTPages   = 2
	cpuCmdOff     = 0x38000 // the executor's command block

	// M2PVA is where the hypervisor maps the read-only machine-to-phys
	// table the guest may read (XENMEM_machphys_mapping): Xen keeps it at
	// MACH2PHYS_VIRT_START, in slot 256, which CPL3 cannot reach on
	// kvm_pvm; this is slot 258.
	M2PVA = xen.HypervisorVirtStart + 2<<39

	// AliasVA is where the hypervisor maps every guest frame read-write
	// for the executor: Xen's direct map, L4 slot 262.
	AliasVA = 0xffff830000000000

	// MaxVCPUs is how many vCPUs the region has room for.
	MaxVCPUs = 8

	// GDTLimit and TSSLimit are the limits the vCPUs load.
	GDTLimit = xen.FirstReservedGDTByte + mmu.PageSize - 1
	TSSLimit = 0x67
)

// CPUAreaVA is the start of vCPU cpu's area.
func CPUAreaVA(cpu int) uint64 { return perCPUVA + uint64(cpu)*perCPUSpan }

// CPUGDTVA is vCPU cpu's GDT.
func CPUGDTVA(cpu int) uint64 { return CPUAreaVA(cpu) + cpuGDTOff }

// CPUTSSVA is vCPU cpu's TSS.
func CPUTSSVA(cpu int) uint64 { return CPUAreaVA(cpu) + cpuTSSOff }

// CPUStackVA is the lowest address of vCPU cpu's CPL0 stack, CPUStackPages
// pages long.
func CPUStackVA(cpu int) uint64 { return CPUAreaVA(cpu) + cpuStackOff }

// CPUStackTop is the top of vCPU cpu's CPL0 stack (TSS.RSP0).
func CPUStackTop(cpu int) uint64 { return CPUStackVA(cpu) + CPUStackPages*mmu.PageSize }

func cpuISTTop(cpu int) uint64 { return CPUAreaVA(cpu) + cpuISTOff + cpuISTPages*mmu.PageSize }

// CPULDTVA is where vCPU cpu's LDT is mapped (its LDTR's base).
func CPULDTVA(cpu int) uint64 { return ldtVA + uint64(cpu)*LDTPages*mmu.PageSize }

// CPUCmdBlockVA is vCPU cpu's executor command block.
func CPUCmdBlockVA(cpu int) uint64 { return CPUAreaVA(cpu) + cpuCmdOff }

// Alias is where the executor reaches guest-physical address pa.
func Alias(pa uint64) uint64 { return AliasVA + pa }
