/*
 * fork's side of an mm: mm_alloc(), dup_mm() and the last mmput(), in
 * Linux's order. dup_mmap() links each copied vma into the reverse map
 * before it copies the ptes, and pins the child (arch_dup_mmap()) last:
 * reclaim reaches the child's ptes all through the pin.
 */
#include <atomic.h>
#include <kernel.h>
#include <mm.h>
#include <mmu_context.h>
#include <paravirt.h>
#include <rmap.h>
#include <sched.h>
#include <slab.h>
#include <xen/pvsim.h>

struct mm_struct init_mm;
DEFINE_SPINLOCK(mmlist_lock);

static atomic_t last_mm_id = ATOMIC_INIT(0);

void fork_init(void)
{
	init_mm.pgd = swapper_pg_dir;
	atomic_set(&init_mm.mm_users, 1);
	INIT_LIST_HEAD(&init_mm.mmlist);
}

struct mm_struct *mm_alloc(void)
{
	struct mm_struct *mm = kzalloc(sizeof(*mm));

	atomic_set(&mm->mm_users, 1);
	mm->id = atomic_add_return(1, &last_mm_id);
	mm->pgd = pgd_alloc(mm);

	spin_lock(&mmlist_lock);
	list_add_tail(&mm->mmlist, &init_mm.mmlist);
	spin_unlock(&mmlist_lock);
	return mm;
}

static void dup_mmap(struct mm_struct *mm, struct mm_struct *oldmm)
{
	bool pin_first = pv_mmu_strategy == STRATEGY_PIN_BEFORE_VISIBLE;
	struct vm_area_struct *mpnt, *tmp, **pprev = &mm->mmap;

	trace_mark("dup_mmap", mm->id);
	for (mpnt = oldmm->mmap; mpnt; mpnt = mpnt->vm_next) {
		tmp = kzalloc(sizeof(*tmp));
		*tmp = *mpnt;
		tmp->vm_mm = mm;
		tmp->vm_next = NULL;
		INIT_LIST_HEAD(&tmp->anon_vma_node);
		/* From here on, reclaim finds the child's ptes. */
		if (!pin_first) {
			trace_mark("anon_vma_link", mm->id);
			anon_vma_link(tmp);
		}
		*pprev = tmp;
		pprev = &tmp->vm_next;
		copy_page_range(mm, oldmm, mpnt);
	}

	trace_mark("arch_dup_mmap", mm->id);
	arch_dup_mmap(oldmm, mm);

	/*
	 * pin-before-visible: only the pinned child goes into the reverse
	 * map, its mappings counted then. Until now reclaim could free a
	 * page the child maps: nothing told it of the child's pte.
	 */
	if (pin_first) {
		for (tmp = mm->mmap; tmp; tmp = tmp->vm_next) {
			trace_mark("anon_vma_link", mm->id);
			anon_vma_link(tmp);
			vma_dup_rmap(tmp);
		}
	}
}

struct mm_struct *dup_mm(struct mm_struct *oldmm)
{
	struct mm_struct *mm = mm_alloc();

	dup_mmap(mm, oldmm);
	return mm;
}

static void mmdrop(struct mm_struct *mm)
{
	pgd_free(mm, mm->pgd);
	kfree(mm);
}

void mmput(struct mm_struct *mm)
{
	if (!atomic_dec_and_test(&mm->mm_users))
		return;
	exit_mmap(mm);
	spin_lock(&mmlist_lock);
	list_del(&mm->mmlist);
	spin_unlock(&mmlist_lock);
	mmdrop(mm);
}
