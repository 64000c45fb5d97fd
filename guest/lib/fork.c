/*
 * fork's side of an mm: mm_alloc(), dup_mm() and the last mmput(), as
 * Linux 2.6.23's kernel/fork.c. dup_mmap() links each copied vma into the
 * reverse map before it copies the ptes, and pins the child
 * (arch_dup_mmap()) last: reclaim reaches the child's ptes all through
 * the pin. A fork that runs out of memory tears the child down with
 * mmput(), as dup_mm() does.
 */
#include <atomic.h>
#include <kernel.h>
#include <mm.h>
#include <mmu_context.h>
#include <paravirt.h>
#include <race.h>
#include <rmap.h>
#include <sched.h>
#include <slab.h>
#include <xen/errno.h>
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

	if (!mm)
		return NULL;
	mm->pgd = pgd_alloc(mm);
	if (!mm->pgd) {
		kfree(mm);
		return NULL;
	}
	atomic_set(&mm->mm_users, 1);
	mm->id = atomic_add_return(1, &last_mm_id);

	spin_lock(&mmlist_lock);
	list_add_tail(&mm->mmlist, &init_mm.mmlist);
	spin_unlock(&mmlist_lock);
	return mm;
}

/*
 * pin-before-visible links the copies into the reverse map only once the
 * child is pinned, as the October 2007 proposal asked: until then, reclaim
 * cannot reach the child's ptes, and a page they map stays mapped however
 * often reclaim unmaps it from the parent.
 */
static int dup_mmap(struct mm_struct *mm, struct mm_struct *oldmm)
{
	bool pin_first = pv_mmu_strategy == STRATEGY_PIN_BEFORE_VISIBLE;
	struct vm_area_struct *mpnt, *tmp, **pprev = &mm->mmap;
	int retval;

	trace_mark("dup_mmap", mm->id);
	for (mpnt = oldmm->mmap; mpnt; mpnt = mpnt->vm_next) {
		tmp = kzalloc(sizeof(*tmp));
		if (!tmp)
			return -ENOMEM;
		*tmp = *mpnt;
		tmp->vm_mm = mm;
		tmp->vm_next = NULL;
		tmp->hidden = false;
		INIT_LIST_HEAD(&tmp->anon_vma_node);
		if (!pin_first) {
			/* From here on, reclaim finds the child's ptes. */
			trace_mark("anon_vma_link", mm->id);
			anon_vma_link(tmp);
		} else {
			race_note_hidden(tmp);
		}
		*pprev = tmp;
		pprev = &tmp->vm_next;
		retval = copy_page_range(mm, oldmm, mpnt);
		if (retval)
			return retval;
	}

	trace_mark("arch_dup_mmap", mm->id);
	arch_dup_mmap(oldmm, mm);

	if (pin_first) {
		for (tmp = mm->mmap; tmp; tmp = tmp->vm_next) {
			trace_mark("anon_vma_link", mm->id);
			anon_vma_link(tmp);
			race_note_visible(tmp);
		}
	}
	return 0;
}

struct mm_struct *dup_mm(struct mm_struct *oldmm)
{
	struct mm_struct *mm = mm_alloc();

	if (!mm)
		return NULL;
	if (dup_mmap(mm, oldmm)) {
		mmput(mm);
		return NULL;
	}
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
