/* exit_mmap(): the teardown of an mm's memory, in Linux's order. */
#include <kernel.h>
#include <mm.h>
#include <mmu_context.h>
#include <paravirt.h>
#include <race.h>
#include <rmap.h>
#include <sched.h>
#include <slab.h>
#include <xen/pvsim.h>

/*
 * Xen unpins first (arch_exit_mmap()), with the vmas still in the
 * reverse map: reclaim reaches the ptes all through the unpin. Only
 * free_pgtables() takes the vmas out, after the ptes are cleared.
 * pin-before-visible takes them out before the unpin instead; their
 * ptes still count as mappings until unmap_vmas() clears them.
 */
void exit_mmap(struct mm_struct *mm)
{
	bool unlink_first = pv_mmu_strategy == STRATEGY_PIN_BEFORE_VISIBLE;
	struct vm_area_struct *vma, *next;

	trace_mark("exit_mmap", mm->id);
	if (unlink_first) {
		for (vma = mm->mmap; vma; vma = vma->vm_next) {
			anon_vma_unlink(vma);
			race_note_hidden(vma);
		}
	}

	arch_exit_mmap(mm);
	unmap_vmas(mm);
	if (unlink_first)
		for (vma = mm->mmap; vma; vma = vma->vm_next)
			race_note_visible(vma);
	free_pgtables(mm);

	for (vma = mm->mmap; vma; vma = next) {
		next = vma->vm_next;
		kfree(vma);
	}
	mm->mmap = NULL;
}
