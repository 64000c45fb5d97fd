/*
 * Exception delivery and iret. Each case runs one faulting instruction
 * that has an exception-table fixup, with CF set and a distinctive value
 * in every general-purpose register but %rsp and %rbp. A trap hook records
 * what the handler saw. Then the case checks the vector, the error code
 * and, for a page fault, CR2; that the handler saw the faulting rip, rsp,
 * rbp, the kernel's selectors and every register; that execution resumed
 * at the fixup; and that every register, and CF, came back through iret.
 * One case takes a page fault inside the handler of another, one changes
 * registers in the handler. Then every other vCPU takes a page fault of
 * its own, at an address of its own, with its own trap table and CR2. A
 * mismatch panics with the case's name.
 */
#include <atomic.h>
#include <extable.h>
#include <hypercall.h>
#include <kernel.h>
#include <mm.h>
#include <pgtable.h>
#include <processor.h>
#include <smp.h>
#include <string.h>
#include <traps.h>
#include <xen/errno.h>
#include <xen/sched.h>

PVSIM_DESCRIPTION("takes #UD, #DE, #GP and #PF in its own handlers, resumes at fixups, checks vectors, error codes, CR2 and registers");

/* The value a register is loaded with: n is its number in pt_regs order. */
#define REGVAL(n)	(0x5eed000000c0de00UL | ((unsigned long)(n) << 32) | (n))

/* What the MODIFY case's handler puts in %rbx, %rcx and %r11. */
#define NEW_RBX		0xb0b0b0b0b0b0b0b0UL
#define NEW_RCX		0xc0c0c0c0c0c0c0c0UL
#define NEW_R11		0x1111111111111111UL

/* An address nothing maps: L4 slot 0 is empty. */
#define UNMAPPED	0x00000000deadb000UL
#define NONCANONICAL	0xdead000000000000UL

enum trap_mode {
	PLAIN,		/* the handler only looks */
	NESTED,		/* it takes a page fault of its own first */
	MODIFY,		/* it changes %rbx, %rcx and %r11 */
};

struct trap_record {
	unsigned long trapnr, error_code, cr2;
};

/* Registers before the faulting instruction, and after its fixup. */
static struct pt_regs before, after;

/* Written by the faulting code: where it faulted, and how it went on. */
static struct fault_record {
	unsigned long ip, sp, bp;
	int no_fault;		/* set if the instruction did not fault */
	u8 carry;		/* CF at the fixup */
} rec;

_Static_assert(offsetof(struct fault_record, sp) == 8, "fault_record.sp");
_Static_assert(offsetof(struct fault_record, bp) == 16, "fault_record.bp");
_Static_assert(offsetof(struct fault_record, no_fault) == 24, "fault_record.no_fault");
_Static_assert(offsetof(struct fault_record, carry) == 28, "fault_record.carry");

/* Written by the hook: the registers of the first trap, and every trap. */
static enum trap_mode mode;
static struct pt_regs trap_regs;
static struct trap_record traps_seen[4];
static unsigned int nr_traps;
static int nested_err;

/*
 * DEFINE_FAULT(fn, insn): fn() runs insn, which must fault, with the
 * registers loaded from before, and stores them to after. insn may use
 * %rdx as an address. It fills in rec (whose fields it names by offset:
 * an asm statement has at most 30 operands, and the registers take 28).
 */
#define DEFINE_FAULT(fn, insn)						\
static noinline void fn(void)						\
{									\
	register unsigned long r8 asm("r8") = before.r8;		\
	register unsigned long r9 asm("r9") = before.r9;		\
	register unsigned long r10 asm("r10") = before.r10;		\
	register unsigned long r11 asm("r11") = before.r11;		\
	register unsigned long r12 asm("r12") = before.r12;		\
	register unsigned long r13 asm("r13") = before.r13;		\
	register unsigned long r14 asm("r14") = before.r14;		\
	register unsigned long r15 asm("r15") = before.r15;		\
	unsigned long ax = before.ax, bx = before.bx, cx = before.cx;	\
	unsigned long dx = before.dx, si = before.si, di = before.di;	\
									\
	asm volatile("pushq %%rax\n\t"					\
		     "leaq 1f(%%rip), %%rax\n\t"			\
		     "movq %%rax, %[rec]\n\t"				\
		     "popq %%rax\n\t"					\
		     "movq %%rsp, 8+%[rec]\n\t"				\
		     "movq %%rbp, 16+%[rec]\n\t"			\
		     "stc\n"						\
		     "1:\t" insn "\n\t"					\
		     "movl $1, 24+%[rec]\n"				\
		     "2:\tsetc 28+%[rec]\n"				\
		     _ASM_EXTABLE(1b, 2b)				\
		     : "+a" (ax), "+b" (bx), "+c" (cx), "+d" (dx),	\
		       "+S" (si), "+D" (di), "+r" (r8), "+r" (r9),	\
		       "+r" (r10), "+r" (r11), "+r" (r12), "+r" (r13),	\
		       "+r" (r14), "+r" (r15), [rec] "+m" (rec)		\
		     : : "cc", "memory");				\
									\
	after.ax = ax; after.bx = bx; after.cx = cx;			\
	after.dx = dx; after.si = si; after.di = di;			\
	after.r8 = r8; after.r9 = r9; after.r10 = r10;			\
	after.r11 = r11; after.r12 = r12; after.r13 = r13;		\
	after.r14 = r14; after.r15 = r15;				\
}

DEFINE_FAULT(do_ud2, "ud2")
DEFINE_FAULT(do_divide_by_zero, "divq %%rdx")
DEFINE_FAULT(do_read, "cmpq $0, (%%rdx)")
DEFINE_FAULT(do_write, "movl $0x5a5a5a5a, (%%rdx)")
DEFINE_FAULT(do_read_cr8, "movq %%cr8, %%rax")
DEFINE_FAULT(do_hlt, "hlt")

/* Reads *addr into *val, or returns -EFAULT, as get_kernel_nofault(). */
static noinline int read_nofault(const unsigned long *addr, unsigned long *val)
{
	unsigned long v = 0;
	int err = -EFAULT;

	asm volatile("1:\tmovq (%[addr]), %[v]\n\t"
		     "xorl %[err], %[err]\n"
		     "2:\n"
		     _ASM_EXTABLE(1b, 2b)
		     : [err] "+r" (err), [v] "+r" (v)
		     : [addr] "r" (addr)
		     : "memory");
	*val = v;
	return err;
}

static int traps_hook(struct pt_regs *regs, int trapnr)
{
	struct thread_struct *thread = &this_pcpu()->thread;
	unsigned int n = nr_traps++;
	unsigned long val;

	if (n < ARRAY_SIZE(traps_seen)) {
		traps_seen[n].trapnr = thread->trap_nr;
		traps_seen[n].error_code = thread->error_code;
		traps_seen[n].cr2 = trapnr == X86_TRAP_PF ? thread->cr2 : 0;
	}
	if (n == 0) {
		trap_regs = *regs;
		if (mode == NESTED)
			nested_err = read_nofault((const unsigned long *)UNMAPPED, &val);
		if (mode == MODIFY) {
			regs->bx = NEW_RBX;
			regs->cx = NEW_RCX;
			regs->r11 = NEW_R11;
		}
	}
	return 0;	/* on to the exception table */
}

struct trap_case {
	const char *name;
	void (*fn)(void);
	enum trap_mode mode;
	unsigned long dx;		/* %rdx: the address accessed */
	unsigned long trapnr;
	unsigned long error_code;
};

static const struct trap_case *cur;

static void expect(const char *what, unsigned long got, unsigned long want)
{
	if (got != want)
		panic("traps: %s: %s is 0x%lx, want 0x%lx", cur->name, what,
		      got, want);
}

static void check_regs(const char *when, const struct pt_regs *got,
		       const struct pt_regs *want)
{
	static const struct {
		const char *name;
		size_t off;
	} gprs[] = {
#define GPR(r)	{ #r, offsetof(struct pt_regs, r) }
		GPR(ax), GPR(bx), GPR(cx), GPR(dx), GPR(si), GPR(di),
		GPR(r8), GPR(r9), GPR(r10), GPR(r11), GPR(r12), GPR(r13),
		GPR(r14), GPR(r15),
#undef GPR
	};
	char what[48];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(gprs); i++) {
		snprintf(what, sizeof(what), "%s %s", when, gprs[i].name);
		expect(what, *(const unsigned long *)((const char *)got + gprs[i].off),
		       *(const unsigned long *)((const char *)want + gprs[i].off));
	}
}

static void run_case(const struct trap_case *c)
{
	const struct trap_record *seen = &traps_seen[0];
	struct pt_regs want_after;
	unsigned int i;

	cur = c;
	/* r15 to di: every general-purpose register. */
	for (i = 0; i < offsetof(struct pt_regs, orig_ax) / sizeof(long); i++)
		((unsigned long *)&before)[i] = REGVAL(i);
	before.dx = c->dx;
	memset(&after, 0, sizeof(after));
	memset(&trap_regs, 0, sizeof(trap_regs));
	memset(traps_seen, 0, sizeof(traps_seen));
	nr_traps = 0;
	memset(&rec, 0, sizeof(rec));
	mode = c->mode;
	nested_err = 0;

	c->fn();

	expect("instruction completed without a fault", rec.no_fault, 0);
	expect("traps taken", nr_traps, c->mode == NESTED ? 2 : 1);
	expect("vector", seen->trapnr, c->trapnr);
	expect("error code", seen->error_code, c->error_code);
	if (c->trapnr == X86_TRAP_PF)
		expect("cr2", seen->cr2, c->dx);

	/* The frame the handler got. */
	expect("handler's rip", trap_regs.ip, rec.ip);
	expect("handler's rsp", trap_regs.sp, rec.sp);
	expect("handler's rbp", trap_regs.bp, rec.bp);
	expect("handler's cs", trap_regs.cs & 0xffff, FLAT_KERNEL_CS & ~3);
	expect("handler's ss", trap_regs.ss & 0xffff, FLAT_KERNEL_SS);
	expect("handler's CF", trap_regs.flags & X86_EFLAGS_CF, X86_EFLAGS_CF);
	check_regs("handler's", &trap_regs, &before);

	/* What came back through iret. */
	want_after = before;
	if (c->mode == MODIFY) {
		want_after.bx = NEW_RBX;
		want_after.cx = NEW_RCX;
		want_after.r11 = NEW_R11;
	}
	check_regs("resumed", &after, &want_after);
	expect("resumed CF", rec.carry, 1);

	if (c->mode == NESTED) {
		expect("nested read's result", nested_err, -EFAULT);
		expect("nested vector", traps_seen[1].trapnr, X86_TRAP_PF);
		expect("nested error code", traps_seen[1].error_code, 0);
		expect("nested cr2", traps_seen[1].cr2, UNMAPPED);
	}
	/* The last trap is what thread_struct holds. */
	expect("thread.trap_nr", this_pcpu()->thread.trap_nr,
	       traps_seen[nr_traps - 1].trapnr);

	if (c->trapnr == X86_TRAP_PF)
		printk("traps: %s: vector %lu, error 0x%lx, cr2 0x%lx, resumed at the fixup\n",
		       c->name, seen->trapnr, seen->error_code, seen->cr2);
	else
		printk("traps: %s: vector %lu, error 0x%lx, resumed at the fixup\n",
		       c->name, seen->trapnr, seen->error_code);
}

static atomic_t secondaries_done = ATOMIC_INIT(0);

void secondary_main(void)
{
	struct thread_struct *thread = &this_pcpu()->thread;
	unsigned int cpu = smp_processor_id();
	unsigned long addr = UNMAPPED + cpu * PAGE_SIZE, val;
	int err;

	err = read_nofault((const unsigned long *)addr, &val);
	if (err != -EFAULT || thread->trap_nr != X86_TRAP_PF ||
	    thread->error_code != 0 || thread->cr2 != addr)
		panic("traps: vCPU %u: read of 0x%lx: result %d, vector %lu, error 0x%lx, cr2 0x%lx",
		      cpu, addr, err, thread->trap_nr, thread->error_code,
		      thread->cr2);
	printk("traps: vCPU %u: #PF at 0x%lx, resumed at the fixup\n", cpu, addr);
	atomic_inc(&secondaries_done);
}

/* Remaps a data page's linear-map alias with prot. */
static void remap_page(struct page *page, pgprot_t prot)
{
	unsigned long pfn = page_to_pfn(page);
	int rc;

	rc = HYPERVISOR_update_va_mapping((unsigned long)pfn_to_virt(pfn),
					  pte_val(pfn_pte(pfn, prot)), UVMF_INVLPG);
	if (rc)
		panic("traps: update_va_mapping of frame %lu failed: %d", pfn, rc);
}

static struct page *must_alloc_page(void)
{
	struct page *page = alloc_page();

	if (!page)
		panic("traps: out of memory");
	return page;
}

void kernel_main(void)
{
	struct page *page = must_alloc_page();
	unsigned long ro = (unsigned long)page_address(page);
	const struct trap_case cases[] = {
		{ "#UD ud2", do_ud2, PLAIN, 0, X86_TRAP_UD, 0 },
		{ "#DE divide by zero", do_divide_by_zero, PLAIN, 0, X86_TRAP_DE, 0 },
		{ "#GP non-canonical read", do_read, PLAIN, NONCANONICAL, X86_TRAP_GP, 0 },
		{ "#GP mov from %cr8", do_read_cr8, PLAIN, 0, X86_TRAP_GP, 0 },
		{ "#GP hlt", do_hlt, PLAIN, 0, X86_TRAP_GP, 0 },
		{ "#PF read of an unmapped address", do_read, PLAIN, UNMAPPED,
		  X86_TRAP_PF, 0 },
		/* Past RAM and the shared info page the builder maps after it. */
		{ "#PF read past the end of memory", do_read, PLAIN,
		  (unsigned long)pfn_to_virt(PFN_DOWN(xen_start_info->shared_info) + 1),
		  X86_TRAP_PF, 0 },
		{ "#PF write to a read-only page", do_write, PLAIN, ro,
		  X86_TRAP_PF, X86_PF_PROT | X86_PF_WRITE },
		{ "#PF in the #UD handler", do_ud2, NESTED, 0, X86_TRAP_UD, 0 },
		{ "#UD handler sets %rbx, %rcx, %r11", do_ud2, MODIFY, 0,
		  X86_TRAP_UD, 0 },
	};
	unsigned int i;

	remap_page(page, PAGE_KERNEL_RO);
	trap_hook = traps_hook;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		run_case(&cases[i]);
	trap_hook = NULL;
	remap_page(page, PAGE_KERNEL);
	__free_page(page);

	smp_init();
	while (atomic_read(&secondaries_done) < (int)num_possible_cpus() - 1)
		HYPERVISOR_sched_op(SCHEDOP_yield, NULL);

	printk("traps: all %u cases passed\n", (unsigned int)ARRAY_SIZE(cases));
	xen_poweroff();
}
