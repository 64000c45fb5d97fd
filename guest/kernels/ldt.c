/*
 * The LDT, as Xen maps it for a PV guest, each step against Xen's answer:
 *
 *   - with no LDT, a selector that names the LDT faults: #GP(selector);
 *   - MMUEXT_SET_LDT names the LDT's pages; the first load of an LDT
 *     selector maps the page (the hypervisor's LDT fault, invisible to the
 *     guest), later loads find it mapped;
 *   - a descriptor that is not present raises #NP, a selector past the
 *     LDT's entries #GP, each with the selector's error code;
 *   - a page in use as the LDT is a descriptor page: it cannot be made
 *     writable until SET_LDT drops it;
 *   - a page whose descriptors Xen refuses (a TSS) is never mapped: the
 *     load raises #GP(selector), as Xen injects it.
 *
 * Linux uses the LDT for modify_ldt(2) (Wine, old threading libraries);
 * its xen_alloc_ldt makes the pages read-only before SET_LDT, as here.
 */
#include <hypercall.h>
#include <kernel.h>
#include <mm.h>
#include <page.h>
#include <pgtable.h>
#include <ptrace.h>
#include <traps.h>
#include <xen/errno.h>
#include <xen/mmu.h>
#include <xen/xen.h>

PVSIM_DESCRIPTION("the LDT: mapped on first use, #NP and #GP from its selectors, its pages held as descriptor pages");

#define LDT_SEL(i)	((i) << 3 | 4 | 3)	/* an LDT selector, RPL 3 */
#define DATA_DPL3	0x00cff3000000ffffUL	/* flat, writable, present */
#define DATA_NOT_PRESENT (DATA_DPL3 & ~(1UL << 47))
#define TSS64		0x0000890000000067UL	/* a system descriptor */

/* The outcome of the last segment load: 0, or the vector and error code. */
static unsigned long load_vector, load_error;

extern const char ldt_load_insn[];

static int ldt_trap(struct pt_regs *regs, int trapnr)
{
	if (regs->ip != (unsigned long)ldt_load_insn)
		return 0;
	load_vector = trapnr;
	load_error = regs->orig_ax;
	regs->ip += 2;			/* mov %ax, %es */
	return 1;
}

/* Loads sel into %es; returns the vector it raised, or 0. */
static noinline unsigned long load_es(unsigned long sel)
{
	load_vector = load_error = 0;
	asm volatile(".globl ldt_load_insn\n"
		     "ldt_load_insn: mov %w0, %%es\n"
		     : : "r" (sel) : "memory");
	asm volatile("mov %w0, %%es" : : "r" (0UL));
	return load_vector;
}

static void expect(const char *what, long got, long want)
{
	if (got != want)
		panic("ldt: FAIL: %s: got %ld (0x%lx), want %ld (0x%lx)", what, got, got, want, want);
	printk("ldt: %s: 0x%lx\n", what, got);
}

static int set_ldt(void *base, unsigned int ents)
{
	struct mmuext_op op = { .cmd = MMUEXT_SET_LDT };

	op.arg1.linear_addr = (unsigned long)base;
	op.arg2.nr_ents = ents;
	return HYPERVISOR_mmuext_op(&op, 1, NULL, DOMID_SELF);
}

static int remap(void *va, pgprot_t prot)
{
	return HYPERVISOR_update_va_mapping((unsigned long)va,
					    pte_val(pfn_pte(virt_to_pfn(va), prot)), UVMF_INVLPG);
}

void kernel_main(void)
{
	u64 *ldt = (u64 *)get_zeroed_page(), *bad = (u64 *)get_zeroed_page();

	trap_hook = ldt_trap;
	expect("no LDT: load an LDT selector", load_es(LDT_SEL(1)), X86_TRAP_GP);
	expect("no LDT: #GP's error code is the selector", load_error, LDT_SEL(1) & ~3);

	ldt[1] = DATA_DPL3;
	ldt[2] = DATA_NOT_PRESENT;
	expect("the LDT page made read-only", remap(ldt, PAGE_KERNEL_RO), 0);
	expect("SET_LDT, 4 entries", set_ldt(ldt, 4), 0);
	expect("load a present data selector", load_es(LDT_SEL(1)), 0);
	expect("load it again", load_es(LDT_SEL(1)), 0);
	expect("a descriptor not present", load_es(LDT_SEL(2)), X86_TRAP_NP);
	expect("#NP's error code is the selector", load_error, LDT_SEL(2) & ~3);
	expect("a selector past the LDT's entries", load_es(LDT_SEL(5)), X86_TRAP_GP);
	expect("#GP's error code is the selector", load_error, LDT_SEL(5) & ~3);
	expect("the LDT page made writable while in use", remap(ldt, PAGE_KERNEL), -EINVAL);

	bad[1] = TSS64;
	expect("a page with a TSS descriptor made read-only", remap(bad, PAGE_KERNEL_RO), 0);
	expect("SET_LDT to it", set_ldt(bad, 2), 0);
	expect("the old LDT page made writable once SET_LDT dropped it", remap(ldt, PAGE_KERNEL), 0);
	expect("load from an LDT Xen would not map", load_es(LDT_SEL(1)), X86_TRAP_GP);
	expect("#GP's error code is the selector, as Xen injects it", load_error, LDT_SEL(1) & ~3);

	expect("SET_LDT of none", set_ldt(NULL, 0), 0);
	expect("no LDT again", load_es(LDT_SEL(1)), X86_TRAP_GP);
	trap_hook = NULL;
	printk("ldt: ok\n");
	xen_poweroff();
}
