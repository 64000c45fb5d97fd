/*
 * Pinning and unpinning an mm's pagetables at fork and exit, as Linux's
 * Xen code did (arch/i386/xen/mmu.c in 2.6.23, arch/x86/xen/mmu.c in
 * 2.6.24), in one multicall batch each:
 *
 *	pin:	xen_mc_batch(); pgd_walk(pgd, pin_page): each table read-only,
 *		the pgd last; MMUEXT_PIN_L4_TABLE; xen_mc_issue()
 *	unpin:	xen_mc_batch(); MMUEXT_UNPIN_TABLE; pgd_walk(pgd, unpin_page):
 *		each table writable, the pgd last; xen_mc_issue()
 *
 * Xen runs each entry of a multicall as a hypercall of its own, holding
 * nothing between them, so between the last read-only remap and the pin
 * (and between the unpin and the first writable remap) the frames are
 * read-only but no pagetable: the hypervisor emulates no write to them,
 * and a plain write to a pte there faults. Reclaim may be writing to one
 * then (see paravirt.h for the strategies):
 *
 * - lock-pte-pages is 2.6.24's "xen: lock pte pages while pinning/
 *   unpinning": pin_page takes each pte page's split lock, queues its
 *   read-only remap and an MMUEXT_PIN_L1_TABLE of it, and has the lock
 *   released by a callback once the multicall carrying them has run;
 *   unpin_page takes the lock, queues MMUEXT_UNPIN_TABLE of the pte page
 *   and its writable remap, and releases it the same way. A pte page is
 *   thus locked whenever it is read-only and not pinned.
 * - hv-pin-aware (a pvsim extension) announces the frames to the
 *   hypervisor in the pin's batch, before the first remap, and withdraws
 *   them in the unpin's, after the last; the hypervisor emulates writes
 *   to announced frames.
 *
 * With xen_pin_window_us set, the batch is issued before the pin (or
 * after the unpin) and the CPU waits that long before it goes on: a
 * window the stress runs can widen at will.
 */
#include <delay.h>
#include <hypercall.h>
#include <kernel.h>
#include <mm.h>
#include <mmu_context.h>
#include <paravirt.h>
#include <race.h>
#include <xen/mmu.h>
#include <xen/multicalls.h>
#include <xen/pvsim.h>

unsigned long xen_pin_window_us;

/* More than the model's mms have: a pgd, a pud, a pmd and their ptes. */
#define XEN_PIN_MAX_FRAMES	64

enum pt_level {
	PT_PGD,
	PT_PUD,
	PT_PMD,
	PT_PTE,
};

/*
 * Linux's pgd_walk over the user half of an mm (the kernel's slots share
 * swapper_pg_dir's tables, pinned already): func on each pud, pmd and pte
 * page in address order, then on the pgd, so that the last call can
 * carry the TLB flush.
 */
static void pgd_walk(struct mm_struct *mm,
		     void (*func)(struct mm_struct *, struct page *, enum pt_level))
{
	unsigned int i, j, k;

	for (i = 0; i < pgd_index(TASK_SIZE); i++) {
		pud_t *pud;

		if (!pgd_present(mm->pgd[i]))
			continue;
		pud = pgd_page_vaddr(mm->pgd[i]);
		func(mm, virt_to_page(pud), PT_PUD);
		for (j = 0; j < PTRS_PER_PUD; j++) {
			pmd_t *pmd;

			if (!pud_present(pud[j]))
				continue;
			pmd = pud_page_vaddr(pud[j]);
			func(mm, virt_to_page(pmd), PT_PMD);
			for (k = 0; k < PTRS_PER_PMD; k++) {
				if (pmd_present(pmd[k]))
					func(mm, virt_to_page(pmd_page_vaddr(pmd[k])), PT_PTE);
			}
		}
	}
	func(mm, virt_to_page(mm->pgd), PT_PGD);
}

static bool lock_pte_pages(void)
{
	return pv_mmu_strategy == STRATEGY_LOCK_PTE_PAGES;
}

/*
 * The split pte lock of a pte page (2.6.24's lock_pte), marked as held
 * by a pin or unpin for the race's count of reclaim waiting on it.
 */
static spinlock_t *lock_pte(struct page *page)
{
	spin_lock(&page->ptl);
	SetPagePinLocked(page);
	return &page->ptl;
}

static void do_unlock(void *v)
{
	spinlock_t *ptl = v;

	ClearPagePinLocked(container_of(ptl, struct page, ptl));
	spin_unlock(ptl);
}

/* Queues an mmuext_op on the table at pfn (Linux's xen_do_pin). */
static void xen_do_pin(unsigned int level, unsigned long pfn)
{
	struct multicall_space mcs = __xen_mc_entry(sizeof(struct mmuext_op));
	struct mmuext_op *op = mcs.args;

	op->cmd = level;
	op->arg1.mfn = pfn_to_mfn(pfn);
	MULTI_mmuext_op(mcs.mc, op, 1, NULL, DOMID_SELF);
}

/* Queues a remap of a table's linear-map alias with prot. */
static void xen_remap_table(struct page *page, pgprot_t prot, enum pt_level level)
{
	struct multicall_space mcs = __xen_mc_entry(0);
	unsigned long pfn = page_to_pfn(page);

	MULTI_update_va_mapping(mcs.mc, (unsigned long)pfn_to_virt(pfn),
				pte_val(pfn_pte(pfn, prot)),
				level == PT_PGD ? UVMF_TLB_FLUSH | UVMF_LOCAL : 0);
}

/* A trace mark in the batch, where the entries around it run. */
static void xen_mc_trace_mark(const char *label, unsigned long arg)
{
	struct multicall_space mcs;

	if (!pvsim_trace_marks)
		return;
	mcs = __xen_mc_entry(0);
	MULTI_pvsim_op(mcs.mc, PVSIMOP_trace_mark, (unsigned long)label, arg, 0);
}

/*
 * hv-pin-aware: pagetable_pending(on) for every frame of the mm, queued
 * in the batch. The list must live until the batch is issued.
 */
struct pgd_frames {
	unsigned int nr;
	unsigned long mfn[XEN_PIN_MAX_FRAMES];
};

static struct pgd_frames *collecting;

static void collect_frame(struct mm_struct *mm, struct page *page, enum pt_level level)
{
	BUG_ON(collecting->nr == XEN_PIN_MAX_FRAMES);
	collecting->mfn[collecting->nr++] = pfn_to_mfn(page_to_pfn(page));
}

static void xen_announce(struct mm_struct *mm, struct pgd_frames *f, bool on)
{
	struct multicall_space mcs;

	f->nr = 0;
	collecting = f;
	pgd_walk(mm, collect_frame);
	collecting = NULL;
	mcs = __xen_mc_entry(0);
	MULTI_pvsim_op(mcs.mc, PVSIMOP_pagetable_pending,
		       (unsigned long)f->mfn, f->nr, on);
}

static void pin_page(struct mm_struct *mm, struct page *page, enum pt_level level)
{
	spinlock_t *ptl = NULL;

	if (TestSetPagePinned(page))
		return;		/* already pinned */
	if (level == PT_PTE && lock_pte_pages())
		ptl = lock_pte(page);
	xen_remap_table(page, PAGE_KERNEL_RO, level);
	if (ptl) {
		xen_do_pin(MMUEXT_PIN_L1_TABLE, page_to_pfn(page));
		/* Unlocked once the batch carrying the pin has run. */
		xen_mc_callback(do_unlock, ptl);
	}
}

static void unpin_page(struct mm_struct *mm, struct page *page, enum pt_level level)
{
	spinlock_t *ptl = NULL;

	if (!TestClearPagePinned(page))
		return;
	if (level == PT_PTE && lock_pte_pages()) {
		ptl = lock_pte(page);
		xen_do_pin(MMUEXT_UNPIN_TABLE, page_to_pfn(page));
	}
	xen_remap_table(page, PAGE_KERNEL, level);
	if (ptl)
		xen_mc_callback(do_unlock, ptl);
}

static void xen_pin_window(void)
{
	if (xen_pin_window_us) {
		xen_mc_flush();
		udelay(xen_pin_window_us);
	}
}

void xen_pgd_pin(struct mm_struct *mm)
{
	unsigned long mfn = virt_to_mfn(mm->pgd);
	struct pgd_frames f;

	BUG_ON(mm->context.pinned);
	xen_mc_batch();
	if (pv_mmu_strategy == STRATEGY_HV_PIN_AWARE)
		xen_announce(mm, &f, true);
	xen_mc_trace_mark("xen_pgd_pin phase 1", mfn);
	pgd_walk(mm, pin_page);
	xen_pin_window();
	xen_do_pin(MMUEXT_PIN_L4_TABLE, virt_to_pfn(mm->pgd));
	xen_mc_trace_mark("xen_pgd_pin phase 2", mfn);
	xen_mc_issue(0);
	mm->context.pinned = true;
	race_stat_inc(pin_windows);
}

void xen_pgd_unpin(struct mm_struct *mm)
{
	unsigned long mfn = virt_to_mfn(mm->pgd);
	struct pgd_frames f;

	BUG_ON(!mm->context.pinned);
	xen_mc_batch();
	xen_mc_trace_mark("xen_pgd_unpin phase 1", mfn);
	xen_do_pin(MMUEXT_UNPIN_TABLE, virt_to_pfn(mm->pgd));
	xen_pin_window();
	pgd_walk(mm, unpin_page);
	xen_mc_trace_mark("xen_pgd_unpin phase 2", mfn);
	if (pv_mmu_strategy == STRATEGY_HV_PIN_AWARE)
		xen_announce(mm, &f, false);
	xen_mc_issue(0);
	mm->context.pinned = false;
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
