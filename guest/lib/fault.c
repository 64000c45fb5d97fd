/*
 * Page faults. A kernel-mode fault at an instruction with a fixup resumes
 * there; any other one oopses, as Linux's no_context path does.
 */
#include <extable.h>
#include <kernel.h>
#include <page.h>
#include <pgtable.h>
#include <traps.h>
#include <xen/mmu.h>

/* A console line built piece by piece, then printed with one printk(). */
struct cont_line {
	char buf[128];
	size_t len;
};

static __printf(2, 3) void pr_cont(struct cont_line *l, const char *fmt, ...)
{
	va_list args;

	if (l->len >= sizeof(l->buf))
		return;
	va_start(args, fmt);
	l->len += vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len, fmt, args);
	va_end(args);
}

/*
 * One line with the entries that map address, from the L4 the vCPU runs
 * on down to the first one that is not present or maps a large page. The
 * kernel has four levels, so P4D repeats the PGD entry, as on Linux.
 */
static void dump_pagetable(unsigned long address)
{
	pgd_t *pgd = (pgd_t *)__va(xen_read_cr3()) + pgd_index(address);
	struct cont_line line = { .len = 0 };
	pud_t *pud;
	pmd_t *pmd;
	pte_t *pte;

	pr_cont(&line, "PGD %lx ", pgd_val(*pgd));
	if (!pgd_present(*pgd))
		goto out;
	pr_cont(&line, "P4D %lx ", pgd_val(*pgd));

	pud = pud_offset(pgd, address);
	pr_cont(&line, "PUD %lx ", pud_val(*pud));
	if (!pud_present(*pud) || pud_large(*pud))
		goto out;

	pmd = pmd_offset(pud, address);
	pr_cont(&line, "PMD %lx ", pmd_val(*pmd));
	if (!pmd_present(*pmd) || pmd_large(*pmd))
		goto out;

	pte = pte_offset_kernel(pmd, address);
	pr_cont(&line, "PTE %lx", pte_val(*pte));
out:
	printk("%s\n", line.buf);
}

static void show_fault_oops(struct pt_regs *regs, unsigned long error_code,
			    unsigned long address)
{
	printk("BUG: unable to handle page fault for address: %016lx\n",
	       address);
	printk("#PF: %s %s in %s mode\n",
	       (error_code & X86_PF_USER) ? "user" : "supervisor",
	       (error_code & X86_PF_INSTR) ? "instruction fetch" :
	       (error_code & X86_PF_WRITE) ? "write access" : "read access",
	       user_mode(regs) ? "user" : "kernel");
	printk("#PF: error_code(0x%04lx) - %s\n", error_code,
	       !(error_code & X86_PF_PROT) ? "not-present page" :
	       (error_code & X86_PF_RSVD) ? "reserved bit violation" :
	       (error_code & X86_PF_PK) ? "protection keys violation" :
	       "permissions violation");
	dump_pagetable(address);
}

static noinline void page_fault_oops(struct pt_regs *regs,
				     unsigned long error_code,
				     unsigned long address)
{
	oops_begin();
	show_fault_oops(regs, error_code, address);
	__die("Oops", regs, error_code);
	oops_end();
}

static noinline void kernelmode_fixup_or_oops(struct pt_regs *regs,
					      unsigned long error_code,
					      unsigned long address)
{
	if (fixup_exception(regs))
		return;
	page_fault_oops(regs, error_code, address);
}

/*
 * A fault on a kernel address whose entry allows the access by now, as
 * XenLinux's spurious_fault(). Unpinning remaps frames from read-only to
 * writable flushing only its own vCPU's TLB: another vCPU may still hold
 * a read-only entry and fault on it. The fault dropped the stale entry,
 * so returning retries the access.
 */
static bool spurious_fault(unsigned long error_code, unsigned long address)
{
	unsigned int level;
	pte_t *pte;

	if (error_code & (X86_PF_USER | X86_PF_RSVD))
		return false;
	if (address < __START_KERNEL_map)
		return false;
	pte = lookup_address(address, &level);
	if (!pte || !pte_present(ptep_get(pte)))
		return false;
	if ((error_code & X86_PF_WRITE) && !pte_write(ptep_get(pte)))
		return false;
	return true;
}

/*
 * The hypervisor bounces to the guest every fault it does not resolve
 * itself; writes to live pagetables it emulates never get here.
 */
void do_page_fault(struct pt_regs *regs, unsigned long error_code,
		   unsigned long address)
{
	if (spurious_fault(error_code, address))
		return;
	kernelmode_fixup_or_oops(regs, error_code, address);
}
