/*
 * The oops: what the kernel prints about an exception it cannot handle
 * before it gives up, in Linux's format.
 */
#include <kallsyms.h>
#include <kernel.h>
#include <page.h>
#include <smp.h>
#include <spinlock.h>
#include <traps.h>
#include <xen/hypervisor.h>
#include <xen/mmu.h>

/* Frames a backtrace follows, and lines it prints, at most. */
#define STACKTRACE_DEPTH	16
#define STACKTRACE_LINES	32

static DEFINE_SPINLOCK(die_lock);
static int die_owner = -1;
static unsigned int die_nest_count;
static int die_counter;

/*
 * One vCPU prints an oops at a time, and the oops ends the domain: a
 * second vCPU that oopses meanwhile waits here until it does. An oops
 * raised while this vCPU prints one goes on printing.
 */
void oops_begin(void)
{
	int cpu = smp_processor_id();

	if (!spin_trylock(&die_lock)) {
		if (cpu != READ_ONCE(die_owner))
			spin_lock(&die_lock);
		else if (die_nest_count > 1)
			xen_crash();	/* the oops path itself keeps faulting */
	}
	die_nest_count++;
	WRITE_ONCE(die_owner, cpu);
}

void __noreturn oops_end(void)
{
	printk("---[ end trace %016lx ]---\n", 0UL);
	panic("Fatal exception");
}

static bool kernel_text_address(unsigned long addr)
{
	unsigned long size, offset;

	return kallsyms_lookup(addr, &size, &offset) != NULL;
}

/*
 * The backtrace, as Linux's frame-pointer unwinder prints it: every word
 * on this vCPU's stack from regs->sp up that is a text address. Those in
 * the return-address slot of a frame on the %rbp chain from regs->bp are
 * the call chain; the others, printed with "? ", may be stale. The chain
 * ends at %rbp 0 (head.S starts it so), at a frame that is not above the
 * one before it on this stack, or after STACKTRACE_DEPTH frames.
 *
 * gcc gives no frame to a function that does not use the stack, so when
 * such a function faults, the return address to its caller, at regs->sp,
 * is one of the "? " lines.
 */
static void show_trace(struct pt_regs *regs)
{
	unsigned long top = this_pcpu()->top_of_stack;
	unsigned long bottom = top - THREAD_SIZE;
	unsigned long sp = regs->sp, bp = regs->bp;
	char sym[KSYM_SYMBOL_LEN];
	int frames = 0, lines = 0;

	printk("Call Trace:\n");
	if (sp < bottom || sp >= top || (sp & 7))
		return;
	for (; sp < top && lines < STACKTRACE_LINES; sp += sizeof(long)) {
		unsigned long addr = *(const unsigned long *)sp;
		bool reliable;

		if (!kernel_text_address(addr))
			continue;
		reliable = frames < STACKTRACE_DEPTH && bp >= regs->sp &&
			   bp < top - sizeof(long) && !(bp & 7) &&
			   sp == bp + sizeof(long);
		sprint_backtrace(sym, addr);
		printk(" %s%s\n", reliable ? "" : "? ", sym);
		lines++;
		if (reliable) {
			unsigned long next = *(const unsigned long *)bp;

			frames++;
			bp = next > bp ? next : 0;
		}
	}
}

void show_regs(struct pt_regs *regs)
{
	char sym[KSYM_SYMBOL_LEN];

	printk("CPU: %u PID: 0 Comm: %s\n", smp_processor_id(), kernel_name);
	/*
	 * Xen clears the RPL of the code selector of a frame from kernel
	 * mode; the kernel runs with FLAT_KERNEL_CS, RPL 3.
	 */
	sprint_symbol(sym, regs->ip);
	printk("RIP: %04lx:%s\n", (regs->cs & 0xffff) | 3, sym);
	printk("RSP: %04lx:%016lx EFLAGS: %08lx\n", regs->ss & 0xffff,
	       regs->sp, regs->flags);
	printk("RAX: %016lx RBX: %016lx RCX: %016lx\n",
	       regs->ax, regs->bx, regs->cx);
	printk("RDX: %016lx RSI: %016lx RDI: %016lx\n",
	       regs->dx, regs->si, regs->di);
	printk("RBP: %016lx R08: %016lx R09: %016lx\n",
	       regs->bp, regs->r8, regs->r9);
	printk("R10: %016lx R11: %016lx R12: %016lx\n",
	       regs->r10, regs->r11, regs->r12);
	printk("R13: %016lx R14: %016lx R15: %016lx\n",
	       regs->r13, regs->r14, regs->r15);
	printk("CR2: %016lx CR3: %016lx\n", xen_read_cr2(), xen_read_cr3());
	if (!user_mode(regs))
		show_trace(regs);
}

void __die(const char *str, struct pt_regs *regs, long err)
{
	printk("%s: %04lx [#%d] SMP\n", str, err & 0xffff, ++die_counter);
	show_regs(regs);
}

void die(const char *str, struct pt_regs *regs, long err)
{
	oops_begin();
	__die(str, regs, err);
	oops_end();
}
