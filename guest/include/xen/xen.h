/*
 * Core of the Xen PV guest ABI: hypercall numbers, start_info, console
 * and memory-management operations. Values and layouts are Xen's; the
 * assertions pin them.
 */
#ifndef _XEN_XEN_H
#define _XEN_XEN_H

#ifndef __ASSEMBLER__
#include <types.h>
#include <xen/arch-x86_64.h>

typedef uint16_t domid_t;
#endif

#define DOMID_SELF			0x7ff0

/* Hypercall numbers: hypercall N is at hypercall_page + N * 32. */
#define __HYPERVISOR_set_trap_table	0
#define __HYPERVISOR_mmu_update		1
#define __HYPERVISOR_set_gdt		2
#define __HYPERVISOR_stack_switch	3
#define __HYPERVISOR_set_callbacks	4
#define __HYPERVISOR_fpu_taskswitch	5
#define __HYPERVISOR_platform_op	7
#define __HYPERVISOR_set_debugreg	8
#define __HYPERVISOR_get_debugreg	9
#define __HYPERVISOR_update_descriptor	10
#define __HYPERVISOR_memory_op		12
#define __HYPERVISOR_multicall		13
#define __HYPERVISOR_update_va_mapping	14
#define __HYPERVISOR_set_timer_op	15
#define __HYPERVISOR_xen_version	17
#define __HYPERVISOR_console_io		18
#define __HYPERVISOR_grant_table_op	20
#define __HYPERVISOR_vm_assist		21
#define __HYPERVISOR_iret		23
#define __HYPERVISOR_vcpu_op		24
#define __HYPERVISOR_set_segment_base	25
#define __HYPERVISOR_mmuext_op		26
#define __HYPERVISOR_nmi_op		28
#define __HYPERVISOR_sched_op		29
#define __HYPERVISOR_callback_op	30
#define __HYPERVISOR_event_channel_op	32
#define __HYPERVISOR_physdev_op		33
#define __HYPERVISOR_sysctl		35
#define __HYPERVISOR_domctl		36

#ifndef __ASSEMBLER__

/* console_io hypercall commands. */
#define CONSOLEIO_write			0	/* (len, buf) */
#define CONSOLEIO_read			1	/* (len, buf) */

/* mmu_update: ptr's low 2 bits select the command. */
#define MMU_NORMAL_PT_UPDATE		0	/* *ptr = val, checked */
#define MMU_MACHPHYS_UPDATE		1	/* m2p[ptr >> 12] = val */
#define MMU_PT_UPDATE_PRESERVE_AD	2	/* as NORMAL, keeping A/D bits */

struct mmu_update {
	uint64_t ptr;			/* machine address of the PTE | command */
	uint64_t val;			/* new contents */
};

/*
 * update_va_mapping flags: which TLB flush follows the update (NONE,
 * TLB_FLUSH or INVLPG), and on which vCPUs (LOCAL, ALL, or MULTI: the
 * flags carry a pointer to a vCPU mask, whose low 3 bits are clear).
 */
#define UVMF_NONE			0UL
#define UVMF_TLB_FLUSH			1UL
#define UVMF_INVLPG			2UL
#define UVMF_FLUSHTYPE_MASK		3UL
#define UVMF_MULTI			0UL	/* flush the vCPUs in a mask */
#define UVMF_LOCAL			0UL	/* flush this vCPU only */
#define UVMF_ALL			4UL	/* flush every vCPU */

/* mmuext_op commands. */
#define MMUEXT_PIN_L1_TABLE		0
#define MMUEXT_PIN_L2_TABLE		1
#define MMUEXT_PIN_L3_TABLE		2
#define MMUEXT_PIN_L4_TABLE		3
#define MMUEXT_UNPIN_TABLE		4
#define MMUEXT_NEW_BASEPTR		5
#define MMUEXT_TLB_FLUSH_LOCAL		6
#define MMUEXT_INVLPG_LOCAL		7
#define MMUEXT_TLB_FLUSH_MULTI		8
#define MMUEXT_INVLPG_MULTI		9
#define MMUEXT_TLB_FLUSH_ALL		10
#define MMUEXT_INVLPG_ALL		11
#define MMUEXT_FLUSH_CACHE		12
#define MMUEXT_SET_LDT			13
#define MMUEXT_NEW_USER_BASEPTR		15

struct mmuext_op {
	unsigned int cmd;		/* MMUEXT_* */
	union {
		xen_pfn_t mfn;		/* PIN_*, UNPIN_TABLE, NEW_*BASEPTR */
		unsigned long linear_addr; /* INVLPG_*, SET_LDT */
	} arg1;
	union {
		unsigned int nr_ents;	/* SET_LDT */
		const void *vcpumask;	/* TLB_FLUSH_MULTI, INVLPG_MULTI */
		xen_pfn_t src_mfn;
	} arg2;
};

/* One call of a multicall batch. */
struct multicall_entry {
	xen_ulong_t op;			/* __HYPERVISOR_* */
	xen_ulong_t result;		/* out: the call's return value */
	xen_ulong_t args[6];
};

/* start_info.flags */
#define SIF_PRIVILEGED			(1 << 0)
#define SIF_INITDOMAIN			(1 << 1)
#define SIF_MULTIBOOT_MOD		(1 << 2)
#define SIF_MOD_START_PFN		(1 << 3)

#define MAX_GUEST_CMDLINE		1024

/*
 * Handed to the kernel at boot in %rsi. Addresses named "virtual" are in
 * the kernel's own mapping.
 */
struct start_info {
	char magic[32];			/* "xen-3.0-x86_64" */
	unsigned long nr_pages;		/* pages in the domain */
	unsigned long shared_info;	/* machine address of shared info */
	uint32_t flags;			/* SIF_* */
	xen_pfn_t store_mfn;
	uint32_t store_evtchn;
	union {
		struct {
			xen_pfn_t mfn;	/* console ring page */
			uint32_t evtchn;
		} domU;
		struct {
			uint32_t info_off;
			uint32_t info_size;
		} dom0;
	} console;
	unsigned long pt_base;		/* virtual address of the initial L4 */
	unsigned long nr_pt_frames;	/* frames of the initial page tables */
	unsigned long mfn_list;		/* virtual address of the p2m list */
	unsigned long mod_start;
	unsigned long mod_len;
	int8_t cmd_line[MAX_GUEST_CMDLINE];
	unsigned long first_p2m_pfn;
	unsigned long nr_p2m_frames;
};

/*
 * Per-vCPU state the hypervisor shares with the guest. Slot N of
 * shared_info.vcpu_info belongs to vCPU N; the hypervisor writes CR2 into
 * arch.cr2 before it delivers a page fault.
 */
#define XEN_LEGACY_MAX_VCPUS		32

struct vcpu_time_info {
	uint32_t version;		/* odd while an update is in progress */
	uint32_t pad0;
	uint64_t tsc_timestamp;		/* TSC at the last update */
	uint64_t system_time;		/* ns since boot at the last update */
	uint32_t tsc_to_system_mul;	/* TSC to ns: (tsc << shift) * mul >> 32 */
	int8_t tsc_shift;
	int8_t flags;
	uint8_t pad1[2];
};

struct vcpu_info {
	uint8_t evtchn_upcall_pending;	/* an event is pending */
	uint8_t evtchn_upcall_mask;	/* events are masked */
	xen_ulong_t evtchn_pending_sel;	/* which words of evtchn_pending */
	struct arch_vcpu_info arch;
	struct vcpu_time_info time;
};

/*
 * The shared info page, at machine address start_info.shared_info. It
 * belongs to the hypervisor: the guest only reads it, and changes the
 * event fields.
 */
struct shared_info {
	struct vcpu_info vcpu_info[XEN_LEGACY_MAX_VCPUS];
	xen_ulong_t evtchn_pending[sizeof(xen_ulong_t) * 8];
	xen_ulong_t evtchn_mask[sizeof(xen_ulong_t) * 8];
	uint32_t wc_version;		/* wallclock time, as vcpu_time_info */
	uint32_t wc_sec;
	uint32_t wc_nsec;
	uint32_t wc_sec_hi;
	struct arch_shared_info arch;
};

_Static_assert(sizeof(struct mmu_update) == 16, "mmu_update");
_Static_assert(sizeof(struct mmuext_op) == 24, "mmuext_op");
_Static_assert(offsetof(struct mmuext_op, arg1) == 8, "mmuext_op.arg1");
_Static_assert(offsetof(struct mmuext_op, arg2) == 16, "mmuext_op.arg2");
_Static_assert(sizeof(struct multicall_entry) == 64, "multicall_entry");
_Static_assert(offsetof(struct multicall_entry, result) == 8, "multicall_entry.result");
_Static_assert(offsetof(struct multicall_entry, args) == 16, "multicall_entry.args");

_Static_assert(sizeof(struct start_info) == 1168, "start_info");
_Static_assert(offsetof(struct start_info, nr_pages) == 32, "start_info.nr_pages");
_Static_assert(offsetof(struct start_info, shared_info) == 40, "start_info.shared_info");
_Static_assert(offsetof(struct start_info, flags) == 48, "start_info.flags");
_Static_assert(offsetof(struct start_info, store_mfn) == 56, "start_info.store_mfn");
_Static_assert(offsetof(struct start_info, store_evtchn) == 64, "start_info.store_evtchn");
_Static_assert(offsetof(struct start_info, console) == 72, "start_info.console");
_Static_assert(offsetof(struct start_info, pt_base) == 88, "start_info.pt_base");
_Static_assert(offsetof(struct start_info, nr_pt_frames) == 96, "start_info.nr_pt_frames");
_Static_assert(offsetof(struct start_info, mfn_list) == 104, "start_info.mfn_list");
_Static_assert(offsetof(struct start_info, mod_start) == 112, "start_info.mod_start");
_Static_assert(offsetof(struct start_info, mod_len) == 120, "start_info.mod_len");
_Static_assert(offsetof(struct start_info, cmd_line) == 128, "start_info.cmd_line");
_Static_assert(offsetof(struct start_info, first_p2m_pfn) == 1152, "start_info.first_p2m_pfn");
_Static_assert(offsetof(struct start_info, nr_p2m_frames) == 1160, "start_info.nr_p2m_frames");

_Static_assert(sizeof(struct vcpu_time_info) == 32, "vcpu_time_info");
_Static_assert(offsetof(struct vcpu_time_info, tsc_to_system_mul) == 24, "vcpu_time_info.tsc_to_system_mul");
_Static_assert(sizeof(struct vcpu_info) == 64, "vcpu_info");
_Static_assert(offsetof(struct vcpu_info, evtchn_upcall_mask) == 1, "vcpu_info.evtchn_upcall_mask");
_Static_assert(offsetof(struct vcpu_info, evtchn_pending_sel) == 8, "vcpu_info.evtchn_pending_sel");
_Static_assert(offsetof(struct vcpu_info, arch) == 16, "vcpu_info.arch");
_Static_assert(offsetof(struct vcpu_info, arch.cr2) == 16, "vcpu_info.arch.cr2");
_Static_assert(offsetof(struct vcpu_info, time) == 32, "vcpu_info.time");
_Static_assert(offsetof(struct shared_info, vcpu_info) == 0, "shared_info.vcpu_info");
_Static_assert(offsetof(struct shared_info, evtchn_pending) == 2048, "shared_info.evtchn_pending");
_Static_assert(offsetof(struct shared_info, evtchn_mask) == 2560, "shared_info.evtchn_mask");
_Static_assert(offsetof(struct shared_info, wc_version) == 3072, "shared_info.wc_version");
_Static_assert(offsetof(struct shared_info, wc_sec_hi) == 3084, "shared_info.wc_sec_hi");
_Static_assert(offsetof(struct shared_info, arch) == 3088, "shared_info.arch");
_Static_assert(sizeof(struct shared_info) == 3136, "shared_info");

#endif /* !__ASSEMBLER__ */

/* Listed here, after the rest, so that no line above moves. */
#define __HYPERVISOR_set_timer_op	15

#endif /* _XEN_XEN_H */
