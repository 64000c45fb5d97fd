/*
 * The x86-64 PV guest ABI: selectors, segment bases and the register and
 * vCPU-context layouts shared with the hypervisor. Layouts are fixed by the
 * ABI; the assertions below pin every offset pvsim relies on.
 */
#ifndef _XEN_ARCH_X86_64_H
#define _XEN_ARCH_X86_64_H

#include <types.h>

typedef unsigned long xen_pfn_t;
typedef unsigned long xen_ulong_t;

/* The flat selectors a 64-bit PV kernel runs with (it runs in ring 3). */
#define FLAT_RING3_CS32		0xe023
#define FLAT_RING3_CS64		0xe033
#define FLAT_RING3_DS32		0xe02b
#define FLAT_RING3_DS64		0x0000
#define FLAT_RING3_SS64		0xe02b
#define FLAT_KERNEL_CS		FLAT_RING3_CS64
#define FLAT_KERNEL_DS		FLAT_RING3_DS64
#define FLAT_KERNEL_SS		FLAT_RING3_SS64

/* set_segment_base hypercall: which base to set. */
#define SEGBASE_FS		0
#define SEGBASE_GS_USER		1
#define SEGBASE_GS_KERNEL	2
#define SEGBASE_GS_USER_SEL	3

/*
 * The hypervisor's part of every address space: L4 slots 256..271. A guest
 * L4 leaves them empty; the hypervisor fills them in when it validates it.
 */
#define HYPERVISOR_VIRT_START	0xffff800000000000UL
#define HYPERVISOR_VIRT_END	0xffff880000000000UL

/* A control register 3 value names the frame of the top-level page table. */
#define xen_pfn_to_cr3(pfn)	((unsigned long)(pfn) << 12)
#define xen_cr3_to_pfn(cr3)	((unsigned long)(cr3) >> 12)

struct cpu_user_regs {
	uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
	uint64_t rax, rcx, rdx, rsi, rdi;
	uint32_t error_code;		/* private to the hypervisor */
	uint32_t entry_vector;		/* private to the hypervisor */
	uint64_t rip;
	uint16_t cs, _pad0[1];
	uint8_t saved_upcall_mask;
	uint8_t _pad1[3];
	uint64_t rflags;
	uint64_t rsp;
	uint16_t ss, _pad2[3];
	uint16_t es, _pad3[3];
	uint16_t ds, _pad4[3];
	uint16_t fs, _pad5[3];
	uint16_t gs, _pad6[3];
};

/* One virtual IDT entry, as passed to set_trap_table. */
struct trap_info {
	uint8_t vector;			/* exception vector */
	uint8_t flags;			/* bits 0-1: DPL; bit 2: mask events */
	uint16_t cs;			/* code selector */
	unsigned long address;		/* handler */
};

/* The x86 part of a vcpu_info: CR2 of the last page fault delivered. */
struct arch_vcpu_info {
	unsigned long cr2;
	unsigned long pad;
};

/* The x86 part of the shared info page. */
struct arch_shared_info {
	unsigned long max_pfn;		/* the p2m list's length */
	xen_pfn_t pfn_to_mfn_frame_list_list;
	unsigned long nmi_reason;
	unsigned long p2m_cr3;		/* a virtually mapped p2m list */
	unsigned long p2m_vaddr;
	unsigned long p2m_generation;
};

/* vcpu_guest_context.flags */
#define VGCF_i387_valid		(1 << 0)
#define VGCF_in_kernel		(1 << 2)
#define VGCF_failsafe_disables_events (1 << 3)
#define VGCF_syscall_disables_events (1 << 4)
#define VGCF_online		(1 << 5)

/* The state VCPUOP_initialise starts a vCPU from. */
struct vcpu_guest_context {
	struct { char x[512]; } fpu_ctxt;	/* FXSAVE image */
	unsigned long flags;			/* VGCF_* */
	struct cpu_user_regs user_regs;
	struct trap_info trap_ctxt[256];	/* virtual IDT */
	unsigned long ldt_base, ldt_ents;
	unsigned long gdt_frames[16], gdt_ents;
	unsigned long kernel_ss, kernel_sp;	/* stack for entering the kernel */
	unsigned long ctrlreg[8];		/* ctrlreg[3]: xen_pfn_to_cr3(L4) */
	unsigned long debugreg[8];
	unsigned long event_callback_eip;
	unsigned long failsafe_callback_eip;
	unsigned long syscall_callback_eip;
	unsigned long vm_assist;		/* VMASST_TYPE_* bitmap */
	uint64_t fs_base;
	uint64_t gs_base_kernel;		/* GS base while in the kernel */
	uint64_t gs_base_user;
};

_Static_assert(sizeof(struct cpu_user_regs) == 200, "cpu_user_regs");
_Static_assert(offsetof(struct cpu_user_regs, rdi) == 112, "cpu_user_regs.rdi");
_Static_assert(offsetof(struct cpu_user_regs, error_code) == 120, "cpu_user_regs.error_code");
_Static_assert(offsetof(struct cpu_user_regs, entry_vector) == 124, "cpu_user_regs.entry_vector");
_Static_assert(offsetof(struct cpu_user_regs, rip) == 128, "cpu_user_regs.rip");
_Static_assert(offsetof(struct cpu_user_regs, cs) == 136, "cpu_user_regs.cs");
_Static_assert(offsetof(struct cpu_user_regs, saved_upcall_mask) == 140, "cpu_user_regs.saved_upcall_mask");
_Static_assert(offsetof(struct cpu_user_regs, rflags) == 144, "cpu_user_regs.rflags");
_Static_assert(offsetof(struct cpu_user_regs, rsp) == 152, "cpu_user_regs.rsp");
_Static_assert(offsetof(struct cpu_user_regs, ss) == 160, "cpu_user_regs.ss");
_Static_assert(offsetof(struct cpu_user_regs, es) == 168, "cpu_user_regs.es");
_Static_assert(offsetof(struct cpu_user_regs, ds) == 176, "cpu_user_regs.ds");
_Static_assert(offsetof(struct cpu_user_regs, fs) == 184, "cpu_user_regs.fs");
_Static_assert(offsetof(struct cpu_user_regs, gs) == 192, "cpu_user_regs.gs");

_Static_assert(sizeof(struct trap_info) == 16, "trap_info");
_Static_assert(offsetof(struct trap_info, address) == 8, "trap_info.address");

_Static_assert(sizeof(struct arch_vcpu_info) == 16, "arch_vcpu_info");
_Static_assert(sizeof(struct arch_shared_info) == 48, "arch_shared_info");

_Static_assert(sizeof(struct vcpu_guest_context) == 5168, "vcpu_guest_context");
_Static_assert(offsetof(struct vcpu_guest_context, flags) == 512, "vcpu_guest_context.flags");
_Static_assert(offsetof(struct vcpu_guest_context, user_regs) == 520, "vcpu_guest_context.user_regs");
_Static_assert(offsetof(struct vcpu_guest_context, trap_ctxt) == 720, "vcpu_guest_context.trap_ctxt");
_Static_assert(offsetof(struct vcpu_guest_context, ldt_base) == 4816, "vcpu_guest_context.ldt_base");
_Static_assert(offsetof(struct vcpu_guest_context, ldt_ents) == 4824, "vcpu_guest_context.ldt_ents");
_Static_assert(offsetof(struct vcpu_guest_context, gdt_frames) == 4832, "vcpu_guest_context.gdt_frames");
_Static_assert(offsetof(struct vcpu_guest_context, gdt_ents) == 4960, "vcpu_guest_context.gdt_ents");
_Static_assert(offsetof(struct vcpu_guest_context, kernel_ss) == 4968, "vcpu_guest_context.kernel_ss");
_Static_assert(offsetof(struct vcpu_guest_context, kernel_sp) == 4976, "vcpu_guest_context.kernel_sp");
_Static_assert(offsetof(struct vcpu_guest_context, ctrlreg) == 4984, "vcpu_guest_context.ctrlreg");
_Static_assert(offsetof(struct vcpu_guest_context, debugreg) == 5048, "vcpu_guest_context.debugreg");
_Static_assert(offsetof(struct vcpu_guest_context, event_callback_eip) == 5112, "vcpu_guest_context.event_callback_eip");
_Static_assert(offsetof(struct vcpu_guest_context, failsafe_callback_eip) == 5120, "vcpu_guest_context.failsafe_callback_eip");
_Static_assert(offsetof(struct vcpu_guest_context, syscall_callback_eip) == 5128, "vcpu_guest_context.syscall_callback_eip");
_Static_assert(offsetof(struct vcpu_guest_context, vm_assist) == 5136, "vcpu_guest_context.vm_assist");
_Static_assert(offsetof(struct vcpu_guest_context, fs_base) == 5144, "vcpu_guest_context.fs_base");
_Static_assert(offsetof(struct vcpu_guest_context, gs_base_kernel) == 5152, "vcpu_guest_context.gs_base_kernel");
_Static_assert(offsetof(struct vcpu_guest_context, gs_base_user) == 5160, "vcpu_guest_context.gs_base_user");

#endif /* _XEN_ARCH_X86_64_H */
