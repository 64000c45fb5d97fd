/*
 * Pinning and unpinning an mm's pagetables, as Linux's Xen code does it
 * at fork and exit, in two phases each:
 *
 *	pin:	every frame read-only in the linear map; MMUEXT_PIN_L4_TABLE
 *	unpin:	MMUEXT_UNPIN_TABLE; every frame writable again
 *
 * Between the phases the frames are read-only but no pagetable: the
 * hypervisor emulates no write to them, and a plain write to a pte there
 * faults. Reclaim may be writing to one then (see paravirt.h for the
 * strategies): lock-pte-pages holds every pte page's lock across both
 * phases, and hv-pin-aware announces the frames to the hypervisor, from
 * the first phase of the pin to the last of the unpin, so that it
 * emulates such writes.
 */
#include <delay.h>
#include <hypercall.h>
#include <kernel.h>
#include <mm.h>
#include <mmu_context.h>
#include <paravirt.h>
#include <race.h>
#include <xen/mmu.h>
#include <xen/pvsim.h>

unsigned long xen_pin_window_us;

/* More than the model's mms have: a pgd, a pud, a pmd and their ptes. */
#define XEN_PIN_MAX_FRAMES	64

/*
 * An mm's pagetable frames: the pgd, then the user half's tables; and
 * the pte pages among them, in address order.
 */
struct pgd_frames {
	unsigned int nr, nr_pte;
	struct page *page[XEN_PIN_MAX_FRAMES];
	unsigned long mfn[XEN_PIN_MAX_FRAMES];
	struct page *pte[XEN_PIN_MAX_FRAMES];
};

static void add_frame(struct pgd_frames *f, void *table)
{
	BUG_ON(f->nr == XEN_PIN_MAX_FRAMES);
	f->page[f->nr] = virt_to_page(table);
	f->mfn[f->nr] = virt_to_mfn(table);
	f->nr++;
}

/* The kernel's slots share swapper_pg_dir's tables, pinned already. */
static void xen_pgd_walk(struct mm_struct *mm, struct pgd_frames *f)
{
	unsigned int i, j, k;

	f->nr = f->nr_pte = 0;
	add_frame(f, mm->pgd);
	for (i = 0; i < pgd_index(TASK_SIZE); i++) {
		pud_t *pud;

		if (!pgd_present(mm->pgd[i]))
			continue;
		pud = pgd_page_vaddr(mm->pgd[i]);
		add_frame(f, pud);
		for (j = 0; j < PTRS_PER_PUD; j++) {
			pmd_t *pmd;

			if (!pud_present(pud[j]))
				continue;
			pmd = pud_page_vaddr(pud[j]);
			add_frame(f, pmd);
			for (k = 0; k < PTRS_PER_PMD; k++) {
				if (!pmd_present(pmd[k]))
					continue;
				add_frame(f, pmd_page_vaddr(pmd[k]));
				f->pte[f->nr_pte++] = f->page[f->nr - 1];
			}
		}
	}
}

static void lock_pte_pages(struct pgd_frames *f)
{
	unsigned int i;

	for (i = 0; i < f->nr_pte; i++)
		spin_lock(&f->pte[i]->ptl);
}

static void unlock_pte_pages(struct pgd_frames *f)
{
	unsigned int i;

	for (i = 0; i < f->nr_pte; i++)
		spin_unlock(&f->pte[i]->ptl);
}

static void __noreturn xen_pin_bug(const char *what, long rc)
{
	printk("kernel BUG: %s failed: %ld\n", what, rc);
	xen_crash();
}

/* Issues a batch; the last update_va_mapping in it flushes this vCPU's TLB. */
static void xen_mc_issue(struct multicall_entry *mc, unsigned int n,
			 int last_uvm, const char *what)
{
	unsigned int i;
	int rc;

	if (last_uvm >= 0)
		mc[last_uvm].args[2] = UVMF_TLB_FLUSH | UVMF_LOCAL;
	rc = HYPERVISOR_multicall(mc, n);
	if (rc)
		xen_pin_bug(what, rc);
	for (i = 0; i < n; i++) {
		if (mc[i].result) {
			printk("%s: call %u of %u (hypercall %lu) failed: %ld\n",
			       what, i, n, mc[i].op, (long)mc[i].result);
			xen_crash();
		}
	}
}

/*
 * Remaps every frame with prot, XEN_MC_BATCH calls to a multicall. With
 * announce, pagetable_pending(1) comes first; with withdraw,
 * pagetable_pending(0) comes last.
 */
static void xen_remap_frames(struct pgd_frames *f, pgprot_t prot,
			     bool announce, bool withdraw, const char *what)
{
	struct multicall_entry mc[XEN_MC_BATCH];
	unsigned int i, n = 0;
	int last_uvm = -1;

	if (announce)
		MULTI_pvsim_op(&mc[n++], PVSIMOP_pagetable_pending,
			       (unsigned long)f->mfn, f->nr, 1);
	for (i = 0; i < f->nr; i++) {
		unsigned long pfn = page_to_pfn(f->page[i]);

		last_uvm = n;
		MULTI_update_va_mapping(&mc[n++],
					(unsigned long)pfn_to_virt(pfn),
					pte_val(pfn_pte(pfn, prot)), 0);
		if (n == XEN_MC_BATCH) {
			xen_mc_issue(mc, n, last_uvm, what);
			n = 0;
			last_uvm = -1;
		}
	}
	if (withdraw)
		MULTI_pvsim_op(&mc[n++], PVSIMOP_pagetable_pending,
			       (unsigned long)f->mfn, f->nr, 0);
	if (n)
		xen_mc_issue(mc, n, last_uvm, what);
}

static void xen_pin_window(void)
{
	if (xen_pin_window_us)
		udelay(xen_pin_window_us);
}

void xen_pgd_pin(struct mm_struct *mm)
{
	bool lock = pv_mmu_strategy == STRATEGY_LOCK_PTE_PAGES;
	bool pending = pv_mmu_strategy == STRATEGY_HV_PIN_AWARE;
	unsigned long mfn = virt_to_mfn(mm->pgd);
	struct pgd_frames f;
	unsigned int i;
	int rc;

	BUG_ON(mm->context.pinned);
	xen_pgd_walk(mm, &f);
	if (lock)
		lock_pte_pages(&f);

	xen_remap_frames(&f, PAGE_KERNEL_RO, pending, false,
			 "xen_pgd_pin: making the pagetables read-only");
	trace_mark("xen_pgd_pin phase 1", mfn);
	xen_pin_window();
	rc = xen_do_pin(MMUEXT_PIN_L4_TABLE, virt_to_pfn(mm->pgd));
	if (rc)
		xen_pin_bug("xen_pgd_pin: MMUEXT_PIN_L4_TABLE", rc);
	trace_mark("xen_pgd_pin phase 2", mfn);

	mm->context.pinned = true;
	for (i = 0; i < f.nr; i++)
		SetPagePinned(f.page[i]);
	if (lock)
		unlock_pte_pages(&f);
	race_stat_inc(pin_windows);
}

void xen_pgd_unpin(struct mm_struct *mm)
{
	bool lock = pv_mmu_strategy == STRATEGY_LOCK_PTE_PAGES;
	bool pending = pv_mmu_strategy == STRATEGY_HV_PIN_AWARE;
	unsigned long mfn = virt_to_mfn(mm->pgd);
	struct pgd_frames f;
	unsigned int i;
	int rc;

	BUG_ON(!mm->context.pinned);
	xen_pgd_walk(mm, &f);
	if (lock)
		lock_pte_pages(&f);

	rc = xen_do_pin(MMUEXT_UNPIN_TABLE, virt_to_pfn(mm->pgd));
	if (rc)
		xen_pin_bug("xen_pgd_unpin: MMUEXT_UNPIN_TABLE", rc);
	trace_mark("xen_pgd_unpin phase 1", mfn);
	xen_pin_window();
	xen_remap_frames(&f, PAGE_KERNEL, false, pending,
			 "xen_pgd_unpin: making the pagetables writable");
	trace_mark("xen_pgd_unpin phase 2", mfn);

	mm->context.pinned = false;
	for (i = 0; i < f.nr; i++)
		ClearPagePinned(f.page[i]);
	if (lock)
		unlock_pte_pages(&f);
	race_stat_inc(pin_windows);
}

void arch_dup_mmap(struct mm_struct *oldmm, struct mm_struct *mm)
{
	xen_pgd_pin(mm);
}

void arch_exit_mmap(struct mm_struct *mm)
{
	if (mm->context.pinned)
		xen_pgd_unpin(mm);
}
