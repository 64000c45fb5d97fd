/*
 * Guest user mode, as Xen's x86-64 PV runs it, each step against Xen's
 * answer:
 *
 *   - a user L4 (the kernel's slots, plus slot 1 mapping a page only user
 *     mode sees), pinned and set with MMUEXT_NEW_USER_BASEPTR, and a user
 *     GS base (SEGBASE_GS_USER) besides the kernel's (SEGBASE_GS_KERNEL);
 *   - HYPERVISOR_iret to a CS with RPL 3 enters user mode: the user L4
 *     and the user GS base;
 *   - a syscall with no syscall callback raises #UD at the syscall; with
 *     one (CALLBACKF_mask_events), it enters the kernel's callback on the
 *     stack_switch stack with Xen's frame [RCX, R11, RIP, CS, RFLAGS,
 *     RSP, SS], CS keeping RPL 3, DF clear and events masked, on the
 *     kernel L4 and GS base; HYPERVISOR_iret with VGCF_in_syscall returns
 *     as sysret does, with RCX = RIP and R11 = RFLAGS;
 *   - a #PF and a #UD in user mode reach the kernel's handlers with the
 *     user CS, the #PF's error code with X86_PF_USER and CR2 right;
 *   - a call into the hypercall page from user mode never reaches the
 *     hypervisor: Xen's 64-bit PV hypercall page makes hypercalls with
 *     `syscall`, which from user mode enters the kernel's syscall
 *     callback, RAX the hypercall number, and returns into the page;
 *   - an event made pending while the kernel has events masked is taken
 *     as soon as HYPERVISOR_iret returns to user mode, with the user's
 *     frame.
 *
 * The user code is a function of this image (mapped in both L4s); it
 * cannot print, so it hands what it saw to the kernel in syscalls, and
 * ends with an exit syscall, after which the kernel powers off.
 */
#include <hypercall.h>
#include <kernel.h>
#include <mm.h>
#include <page.h>
#include <pgtable.h>
#include <processor.h>
#include <ptrace.h>
#include <smp.h>
#include <traps.h>
#include <xen/callback.h>
#include <xen/errno.h>
#include <xen/event_channel.h>
#include <xen/events.h>
#include <xen/hypervisor.h>
#include <xen/mmu.h>
#include <xen/page.h>
#include <xen/version.h>

PVSIM_DESCRIPTION("guest user mode: iret to ring 3 on the user L4 and GS base; syscalls, exceptions and upcalls back to the kernel");

/* iret_context.flags: the frame comes from a syscall (Xen's xen.h). */
#ifndef VGCF_in_syscall
#define VGCF_in_syscall		(1UL << 8)
#endif

/* L4 slot 1: only the user L4 maps it. */
#define USER_BASE		0x0000008000000000UL
#define USER_DATA_VA		USER_BASE			/* the user-only page */
#define USER_HOLE_VA		(USER_BASE + PAGE_SIZE)		/* never mapped */
#define USER_STACK_VA		(USER_BASE + 2 * PAGE_SIZE)	/* the user stack */
#define USER_STACK_TOP		(USER_STACK_VA + PAGE_SIZE)

#define USER_ONLY_MARKER	0x00796c6e4f726573UL	/* "serOnly" */
#define USER_GS_MARKER		0x0053477265735521UL	/* "!UserGS" */
#define HELLO_MAGIC		0x5ca1ab1eUL
#define PROBE_FAULTED		0xfa17fa17fa17fa17UL

/* The user code's syscalls: number in RAX, arguments in RDI, RSI, RDX, R10. */
enum {
	SYS_HELLO = 1,		/* (%gs:0, the user-only marker, RSP) */
	SYS_SYSRET,		/* (RCX, R11, RFLAGS, RAX after SYS_HELLO) */
	SYS_HYPERCALL,		/* (what the hypercall page returned) */
	SYS_EVENT,		/* make an event pending, events masked */
	SYS_EVENT_SEEN,		/* (upcalls counted on return from SYS_EVENT) */
	SYS_EXIT = 60,
};
#define SYSRET_HELLO		0x600dUL
#define HYPERCALL_FROM_USER	0x17dUL

enum { L4, L3, L2, L1, NR_TABLES };
enum { DATA, STACK, NR_DATA };

static struct page *tables[NR_TABLES];
static struct page *data[NR_DATA];

/*
 * The GS bases. The kernel's is a copy of this vCPU's struct pcpu, whose
 * first word points at itself: %gs:0 is the kernel marker and per-CPU
 * data still works. The user's is a page holding USER_GS_MARKER.
 */
static struct pcpu kernel_pcpu;
static u64 user_gs_page[PAGE_SIZE / 8] __aligned(PAGE_SIZE) = { USER_GS_MARKER };

/* The kernel stack stack_switch names: entries from user mode land here. */
static char entry_stack[THREAD_SIZE] __aligned(16);

static evtchn_port_t ipi_port;
static unsigned long upcalls, syscalls;

/* What the upcall handler saw (the last upcall). */
static struct {
	bool user_mode;
	unsigned long ip, cs, gs0, mask;
} upcall_seen;

/* Armed by SYS_EVENT: the user rip the upcall must interrupt. */
static unsigned long event_ip;
static unsigned long upcalls_before_event;

/* RFLAGS on entry to the syscall callback, before anything changes it. */
unsigned long syscall_entry_flags;

void usermode_syscall_entry(void);
void do_user_syscall(struct pt_regs *regs);

/* Labels in the user code and the kernel probe (global, in asm). */
extern char user_syscall_insn[], user_syscall_ret[];
extern char user_pf_insn[], user_pf_resume[];
extern char user_ud_insn[], user_ud_resume[];
extern char kprobe_insn[], kprobe_resume[];

static void check(const char *what, bool ok)
{
	if (!ok)
		panic("usermode: FAIL: %s", what);
	printk("usermode: %s: ok\n", what);
}

static void expect(const char *what, unsigned long got, unsigned long want)
{
	if (got != want)
		panic("usermode: FAIL: %s: got 0x%lx, want 0x%lx", what, got, want);
	printk("usermode: %s: 0x%lx\n", what, got);
}

static unsigned long read_gs0(void)
{
	unsigned long v;

	asm volatile("movq %%gs:0, %0" : "=r" (v));
	return v;
}

/*
 * A load from va in kernel mode; PROBE_FAULTED if it faults (the trap
 * hook resumes after it). One copy only: its labels are global.
 */
static noinline unsigned long kernel_probe(unsigned long va)
{
	unsigned long v;

	asm volatile(".globl kprobe_insn\n"
		     "kprobe_insn: movq (%1), %0\n"
		     ".globl kprobe_resume\n"
		     "kprobe_resume:\n"
		     : "=a" (v) : "r" (va) : "memory");
	return v;
}

static struct {
	unsigned long error_code, cr2, ip;
	bool user_mode;
	int hits;
} kprobe_fault;

/* ---------------------------------------------------------------- */
/* User mode. Nothing here may print or use per-CPU data.            */

static unsigned long user_syscall(unsigned long nr, unsigned long a1,
				  unsigned long a2, unsigned long a3,
				  unsigned long a4)
{
	register unsigned long rax asm("rax") = nr;
	register unsigned long rdi asm("rdi") = a1;
	register unsigned long rsi asm("rsi") = a2;
	register unsigned long rdx asm("rdx") = a3;
	register unsigned long r10 asm("r10") = a4;

	asm volatile("syscall"
		     : "+r" (rax), "+r" (rdi), "+r" (rsi), "+r" (rdx), "+r" (r10)
		     : : "rcx", "r11", "memory");
	return rax;
}

static noinline __noreturn void user_main(void)
{
	unsigned long gs0, marker, ret, rcx, r11, flags, seen;
	int hc;

	asm volatile("movq %%gs:0, %0" : "=r" (gs0));
	marker = READ_ONCE(*(unsigned long *)USER_DATA_VA);

	/*
	 * The first syscall, with DF set: at first there is no syscall
	 * callback, so it raises #UD here; the kernel registers one and
	 * lets it run again. RCX and R11 are as the return left them.
	 */
	{
		register unsigned long a asm("rax") = SYS_HELLO;
		register unsigned long d asm("rdi") = gs0;
		register unsigned long s asm("rsi") = marker;
		register unsigned long c asm("rcx");
		register unsigned long e asm("r11");
		register unsigned long f asm("rdx");

		asm volatile("movq %%rsp, %%rdx\n\t"
			     "std\n\t"
			     ".globl user_syscall_insn\n"
			     "user_syscall_insn: syscall\n"
			     ".globl user_syscall_ret\n"
			     "user_syscall_ret:\n\t"
			     "pushfq\n\t"
			     "popq %%rdx\n\t"
			     "cld"
			     : "+r" (a), "+r" (d), "+r" (s), "=r" (c), "=r" (e), "=r" (f)
			     : : "memory", "cc");
		ret = a;
		rcx = c;
		r11 = e;
		flags = f;
	}
	user_syscall(SYS_SYSRET, rcx, r11, flags, ret);

	/* A #PF: a write to a hole of the user mapping. */
	asm volatile(".globl user_pf_insn\n"
		     "user_pf_insn: movq %1, (%0)\n"
		     ".globl user_pf_resume\n"
		     "user_pf_resume:\n"
		     : : "r" (USER_HOLE_VA + 0x18), "r" (ret) : "memory");

	/* A #UD. */
	asm volatile(".globl user_ud_insn\n"
		     "user_ud_insn: ud2\n"
		     ".globl user_ud_resume\n"
		     "user_ud_resume:\n" : : : "memory");

	/* The hypercall page, from user mode. */
	hc = HYPERVISOR_xen_version(XENVER_version, NULL);
	user_syscall(SYS_HYPERCALL, (unsigned long)(long)hc, 0, 0, 0);

	/* An event the kernel makes pending while it has events masked. */
	user_syscall(SYS_EVENT, 0, 0, 0, 0);
	seen = READ_ONCE(upcalls);
	user_syscall(SYS_EVENT_SEEN, seen, 0, 0, 0);

	user_syscall(SYS_EXIT, 0, 0, 0, 0);
	for (;;)
		;
}

/* ---------------------------------------------------------------- */
/* Kernel mode.                                                      */

/*
 * The syscall callback. Xen's frame is RCX, R11, then the user's return
 * frame (RIP, CS, RFLAGS, RSP, SS), as Linux's xen_syscall_target takes
 * it: pop RCX and R11, then save a struct pt_regs (as lib/entry.S's
 * exc_common, with orig_ax -1). The return is HYPERVISOR_iret with
 * VGCF_in_syscall, as Linux's xen_sysret64.
 */
asm(".pushsection .text\n"
    ".globl usermode_syscall_entry\n"
    ".type usermode_syscall_entry, @function\n"
    "usermode_syscall_entry:\n"
    "	popq	%rcx\n"
    "	popq	%r11\n"
    "	pushfq\n"
    "	popq	syscall_entry_flags(%rip)\n"
    "	pushq	$-1\n"
    "	pushq	%rdi\n"
    "	pushq	%rsi\n"
    "	pushq	%rdx\n"
    "	pushq	%rcx\n"
    "	pushq	%rax\n"
    "	pushq	%r8\n"
    "	pushq	%r9\n"
    "	pushq	%r10\n"
    "	pushq	%r11\n"
    "	pushq	%rbx\n"
    "	pushq	%rbp\n"
    "	pushq	%r12\n"
    "	pushq	%r13\n"
    "	pushq	%r14\n"
    "	pushq	%r15\n"
    "	cld\n"
    "	movq	%rsp, %rdi\n"
    "	movq	%rsp, %rbx\n"
    "	andq	$~15, %rsp\n"
    "	call	do_user_syscall\n"
    "	movq	%rbx, %rsp\n"
    "	popq	%r15\n"
    "	popq	%r14\n"
    "	popq	%r13\n"
    "	popq	%r12\n"
    "	popq	%rbp\n"
    "	popq	%rbx\n"
    "	popq	%r11\n"
    "	popq	%r10\n"
    "	popq	%r9\n"
    "	popq	%r8\n"
    "	popq	%rax\n"
    "	popq	%rcx\n"
    "	popq	%rdx\n"
    "	popq	%rsi\n"
    "	popq	%rdi\n"
    "	addq	$8, %rsp\n"
    "	pushq	$0x100\n"			/* VGCF_in_syscall */
    "	jmp	hypercall_page + 23 * 32\n"	/* __HYPERVISOR_iret */
    ".size usermode_syscall_entry, . - usermode_syscall_entry\n"
    ".popsection\n");
_Static_assert(VGCF_in_syscall == 0x100 && __HYPERVISOR_iret == 23, "usermode_syscall_entry's constants");

static int register_callback(unsigned int type, unsigned int flags, void (*fn)(void))
{
	struct callback_register cb = { .type = type, .flags = flags, .address = (unsigned long)fn };

	return HYPERVISOR_callback_op(CALLBACKOP_register, &cb);
}

static int set_user_baseptr(unsigned long pfn)
{
	struct mmuext_op op = {
		.cmd = MMUEXT_NEW_USER_BASEPTR,
		.arg1.mfn = pfn_to_mfn(pfn),
	};
	unsigned int done;

	return HYPERVISOR_mmuext_op(&op, 1, &done, DOMID_SELF);
}

static bool in_user_stack(unsigned long sp)
{
	return sp > USER_STACK_VA && sp <= USER_STACK_TOP;
}

/* What every entry from user mode finds: the user's frame, the kernel's GS. */
static void check_from_user(const char *what, struct pt_regs *regs)
{
	if (!user_mode(regs) || (regs->cs & 0xffff) != FLAT_RING3_CS64 ||
	    regs->ss != FLAT_RING3_SS64 || !in_user_stack(regs->sp))
		panic("usermode: FAIL: %s: frame cs 0x%lx ss 0x%lx sp 0x%lx, want cs 0x%x (RPL 3), ss 0x%x, sp on the user stack",
		      what, regs->cs, regs->ss, regs->sp, FLAT_RING3_CS64, FLAT_RING3_SS64);
	if (read_gs0() != (unsigned long)&kernel_pcpu)
		panic("usermode: FAIL: %s: %%gs:0 is 0x%lx, not the kernel's (0x%lx)",
		      what, read_gs0(), (unsigned long)&kernel_pcpu);
}

static void hello(struct pt_regs *regs)
{
	expect("syscall frame CS (FLAT_RING3_CS64, RPL 3)", regs->cs & 0xffff, FLAT_RING3_CS64);
	expect("syscall frame SS", regs->ss, FLAT_RING3_SS64);
	check("syscall frame: user_mode(regs)", user_mode(regs));
	check("syscall frame RIP is the syscall's return address", regs->ip == (unsigned long)user_syscall_ret);
	check("syscall frame RCX is the return address, R11 the user RFLAGS",
	      regs->cx == regs->ip && regs->r11 == regs->flags);
	check("syscall frame RSP is the user's", regs->sp == regs->dx);
	check("syscall frame RFLAGS keeps the user's DF", regs->flags & X86_EFLAGS_DF);
	check("the syscall callback runs with DF clear", !(syscall_entry_flags & X86_EFLAGS_DF));
	expect("the syscall callback runs with events masked (CALLBACKF_mask_events)",
	       READ_ONCE(xen_vcpu_info()->evtchn_upcall_mask), 1);
	check("on the stack_switch stack",
	      (unsigned long)regs >= (unsigned long)entry_stack &&
	      (unsigned long)regs < (unsigned long)entry_stack + sizeof(entry_stack));
	check("kernel GS base back in kernel mode (%gs:0)", read_gs0() == (unsigned long)&kernel_pcpu);
	expect("user mode read %gs:0 (SEGBASE_GS_USER)", regs->di, USER_GS_MARKER);
	expect("user mode read the user-only page (the user L4)", regs->si, USER_ONLY_MARKER);
	expect("kernel mode after the syscall: the user-only page is not mapped (the kernel L4)",
	       kernel_probe(USER_DATA_VA), PROBE_FAULTED);
	/* Make RCX and R11 differ from what sysret gives, to see it does. */
	regs->cx = 0xbad0c0de;
	regs->r11 = 0xbad0f1a9;
	regs->ax = SYSRET_HELLO;
}

static void sysret(struct pt_regs *regs)
{
	unsigned long rcx = regs->di, r11 = regs->si, flags = regs->dx;

	expect("SYS_HELLO's result in RAX", regs->r10, SYSRET_HELLO);
	if (rcx != (unsigned long)user_syscall_ret)
		panic("usermode: FAIL: iret with VGCF_in_syscall: RCX 0x%lx, want the return RIP 0x%lx, as Xen's sysret",
		      rcx, (unsigned long)user_syscall_ret);
	printk("usermode: iret with VGCF_in_syscall: RCX is the return RIP, as Xen's sysret: ok\n");
	if (r11 != flags)
		panic("usermode: FAIL: iret with VGCF_in_syscall: R11 0x%lx, want the RFLAGS returned to 0x%lx, as Xen's sysret",
		      r11, flags);
	printk("usermode: iret with VGCF_in_syscall: R11 is the RFLAGS returned to, as Xen's sysret: ok\n");
	check("the user's DF came back with its RFLAGS", flags & X86_EFLAGS_DF);
}

static void event(struct pt_regs *regs)
{
	struct evtchn_send s = { .port = ipi_port };

	expect("SYS_EVENT: events masked in the kernel", READ_ONCE(xen_vcpu_info()->evtchn_upcall_mask), 1);
	upcalls_before_event = upcalls;
	expect("EVTCHNOP_send to this vCPU, masked", HYPERVISOR_event_channel_op(EVTCHNOP_send, &s), 0);
	expect("masked: no upcall yet", upcalls - upcalls_before_event, 0);
	expect("masked: the upcall waits pending", READ_ONCE(xen_vcpu_info()->evtchn_upcall_pending), 1);
	event_ip = regs->ip;
	check("returning to user mode with IF set in the frame", regs->flags & X86_EFLAGS_IF);
}

static void event_seen(struct pt_regs *regs)
{
	expect("upcalls taken on the way back to user mode",
	       regs->di - upcalls_before_event, 1);
	check("the upcall's frame: user_mode(regs)", upcall_seen.user_mode);
	expect("the upcall's frame CS", upcall_seen.cs & 0xffff, FLAT_RING3_CS64);
	check("the upcall's frame RIP is where the iret returned to", upcall_seen.ip == event_ip);
	check("the upcall ran on the kernel GS base", upcall_seen.gs0 == (unsigned long)&kernel_pcpu);
	expect("the upcall ran masked", upcall_seen.mask, 1);
}

void do_user_syscall(struct pt_regs *regs)
{
	syscalls++;
	check_from_user("syscall", regs);
	switch (regs->ax) {
	case SYS_HELLO:
		hello(regs);
		break;
	case SYS_SYSRET:
		sysret(regs);
		break;
	case __HYPERVISOR_xen_version:
		expect("the hypercall page from user mode: a syscall to the kernel, RAX __HYPERVISOR_xen_version",
		       regs->ax, __HYPERVISOR_xen_version);
		expect("its first argument (XENVER_version)", regs->di, XENVER_version);
		regs->ax = HYPERCALL_FROM_USER;
		break;
	case SYS_HYPERCALL:
		expect("HYPERVISOR_xen_version through the hypercall page from user mode returns the kernel's answer",
		       regs->di, HYPERCALL_FROM_USER);
		break;
	case SYS_EVENT:
		event(regs);
		break;
	case SYS_EVENT_SEEN:
		event_seen(regs);
		break;
	case SYS_EXIT:
		printk("usermode: %lu syscalls, %lu upcalls\n", syscalls, upcalls);
		printk("usermode: ok\n");
		xen_poweroff();
	default:
		panic("usermode: FAIL: unknown syscall %lu", regs->ax);
	}
}

static void count_port(evtchn_port_t port)
{
	if (port != ipi_port)
		panic("usermode: FAIL: an upcall for port %u, not the IPI's (%u)", port, ipi_port);
}

static int usermode_trap(struct pt_regs *regs, int trapnr)
{
	unsigned long ip = regs->ip;

	switch (trapnr) {
	case XEN_UPCALL_VECTOR:
		upcall_seen.user_mode = user_mode(regs);
		upcall_seen.ip = ip;
		upcall_seen.cs = regs->cs;
		upcall_seen.gs0 = read_gs0();
		upcall_seen.mask = READ_ONCE(xen_vcpu_info()->evtchn_upcall_mask);
		upcalls++;
		xen_evtchn_do_upcall(count_port);
		return 1;

	case X86_TRAP_PF:
		if (ip == (unsigned long)kprobe_insn) {
			kprobe_fault.error_code = regs->orig_ax;
			kprobe_fault.cr2 = xen_read_cr2();
			kprobe_fault.ip = ip;
			kprobe_fault.user_mode = user_mode(regs);
			kprobe_fault.hits++;
			regs->ax = PROBE_FAULTED;
			regs->ip = (unsigned long)kprobe_resume;
			return 1;
		}
		if (ip == (unsigned long)user_pf_insn) {
			check_from_user("#PF", regs);
			check("#PF from user mode: user_mode(regs)", user_mode(regs));
			expect("#PF from user mode: error code (X86_PF_USER | X86_PF_WRITE)",
			       regs->orig_ax, X86_PF_USER | X86_PF_WRITE);
			expect("#PF from user mode: CR2 - the hole", xen_read_cr2() - USER_HOLE_VA, 0x18);
			check("#PF from user mode: on the stack_switch stack",
			      (unsigned long)regs >= (unsigned long)entry_stack &&
			      (unsigned long)regs < (unsigned long)entry_stack + sizeof(entry_stack));
			regs->ip = (unsigned long)user_pf_resume;
			return 1;
		}
		return 0;

	case X86_TRAP_UD:
		if (ip == (unsigned long)user_syscall_insn) {
			check_from_user("#UD", regs);
			check("syscall with no syscall callback: #UD at the syscall, from user mode", user_mode(regs));
			expect("CALLBACKOP_register(CALLBACKTYPE_syscall, CALLBACKF_mask_events)",
			       register_callback(CALLBACKTYPE_syscall, CALLBACKF_mask_events, usermode_syscall_entry), 0);
			return 1;	/* the syscall runs again */
		}
		if (ip == (unsigned long)user_ud_insn) {
			check_from_user("#UD", regs);
			check("ud2 in user mode: #UD, user_mode(regs)", user_mode(regs));
			regs->ip = (unsigned long)user_ud_resume;
			return 1;
		}
		return 0;
	}
	return 0;
}

static struct page *must_alloc_page(void)
{
	struct page *page = alloc_page();

	if (!page)
		panic("usermode: FAIL: alloc_page");
	return page;
}

/*
 * The user L4: the kernel's slots as its own pgd has them (the hypervisor
 * fills in its own), and slot 1 mapping the user-only page and the user
 * stack through fresh L3, L2 and L1 tables.
 */
static unsigned long build_user_l4(void)
{
	pgd_t *pgd;
	pud_t *pud;
	pmd_t *pmd;
	pte_t *pte;
	unsigned int i;

	for (i = 0; i < NR_TABLES; i++)
		tables[i] = must_alloc_page();
	for (i = 0; i < NR_DATA; i++)
		data[i] = must_alloc_page();
	pgd = page_address(tables[L4]);
	pud = page_address(tables[L3]);
	pmd = page_address(tables[L2]);
	pte = page_address(tables[L1]);

	for (i = pgd_index(HYPERVISOR_VIRT_END); i < PTRS_PER_PGD; i++)
		native_set_pgd(pgd + i, swapper_pg_dir[i]);
	pgd_populate(pgd + pgd_index(USER_BASE), pud);
	pud_populate(pud + pud_index(USER_BASE), pmd);
	pmd_populate_kernel(pmd + pmd_index(USER_BASE), pte);
	native_set_pte(pte + pte_index(USER_DATA_VA), pfn_pte(page_to_pfn(data[DATA]), PAGE_SHARED));
	native_set_pte(pte + pte_index(USER_STACK_VA), pfn_pte(page_to_pfn(data[STACK]), PAGE_SHARED));
	*(unsigned long *)page_address(data[DATA]) = USER_ONLY_MARKER;

	expect("make the new pagetables read-only", xen_make_pages_readonly(tables, NR_TABLES), 0);
	expect("MMUEXT_PIN_L4_TABLE of the user L4", xen_pin_table(MMUEXT_PIN_L4_TABLE, page_to_pfn(tables[L4])), 0);
	expect("MMUEXT_NEW_USER_BASEPTR", set_user_baseptr(page_to_pfn(tables[L4])), 0);
	return page_to_pfn(tables[L4]);
}

/* HYPERVISOR_iret to rip in user mode, on rsp, with events enabled. */
static __noreturn void enter_user_mode(unsigned long rip, unsigned long rsp)
{
	unsigned long frame[6] = {
		0,				/* flags */
		rip,
		FLAT_RING3_CS64,		/* RPL 3: user mode */
		X86_EFLAGS_IF | X86_EFLAGS_FIXED,
		rsp,
		FLAT_RING3_SS64,
	};

	asm volatile("movq %0, %%rsp\n\t"
		     "jmp hypercall_page + %c1"
		     : : "r" (frame), "i" (__HYPERVISOR_iret * 32) : "memory");
	__builtin_unreachable();
}

void kernel_main(void)
{
	struct evtchn_bind_ipi b = { .vcpu = 0 };

	trap_hook = usermode_trap;

	build_user_l4();

	/* The GS bases: a kernel one that still works as per-CPU data. */
	kernel_pcpu = *this_pcpu();
	kernel_pcpu.self = &kernel_pcpu;
	expect("set_segment_base(SEGBASE_GS_KERNEL)", HYPERVISOR_set_segment_base(SEGBASE_GS_KERNEL, (unsigned long)&kernel_pcpu), 0);
	check("kernel mode runs on it (%gs:0)", read_gs0() == (unsigned long)&kernel_pcpu && smp_processor_id() == 0);
	expect("set_segment_base(SEGBASE_GS_USER)", HYPERVISOR_set_segment_base(SEGBASE_GS_USER, (unsigned long)user_gs_page), 0);
	check("kernel mode keeps its GS base after SEGBASE_GS_USER", read_gs0() == (unsigned long)&kernel_pcpu);

	/* The page user mode owns is not in the kernel's address space. */
	expect("kernel mode: the user-only page is not mapped", kernel_probe(USER_DATA_VA), PROBE_FAULTED);
	check("kernel mode #PF: !user_mode(regs), at the load",
	      kprobe_fault.hits == 1 && !kprobe_fault.user_mode && kprobe_fault.ip == (unsigned long)kprobe_insn);
	expect("kernel mode #PF: error code (no X86_PF_USER)", kprobe_fault.error_code, 0);
	expect("kernel mode #PF: CR2", kprobe_fault.cr2, USER_DATA_VA);

	expect("stack_switch to the entry stack",
	       HYPERVISOR_stack_switch(FLAT_KERNEL_SS, (unsigned long)entry_stack + sizeof(entry_stack)), 0);
	expect("CALLBACKOP_register(CALLBACKTYPE_event)", register_callback(CALLBACKTYPE_event, 0, xen_hypervisor_callback), 0);
	expect("EVTCHNOP_bind_ipi", HYPERVISOR_event_channel_op(EVTCHNOP_bind_ipi, &b), 0);
	ipi_port = b.port;

	/* From here on the kernel runs on the entry stack only. */
	kernel_pcpu.top_of_stack = (unsigned long)entry_stack + sizeof(entry_stack);
	printk("usermode: entering user mode\n");
	enter_user_mode((unsigned long)user_main, USER_STACK_TOP - 8);
}
