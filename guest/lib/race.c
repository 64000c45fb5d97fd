/*
 * The race's counters and its oracles: checks that count what went
 * wrong, as it happens, rather than infer it from the counters.
 *
 * lost dirty: a write through a child's pte reached the page after the
 * last writeback of that pte, and at exit the pte has no Dirty bit left
 * to say so. Each child writes only its own word of a page (page_slot()),
 * so the word at exit differs from the one writeback recorded.
 *
 * ineffective young: a young clear that left Accessed set, while no vCPU
 * had the mm loaded to set it again.
 *
 * use after free: at exit, a pte maps a page that reclaim freed after
 * the pte came to map it.
 */
#include <barrier.h>
#include <race.h>

struct race_stats race_stats;

void race_note_mapped(struct mm_struct *mm, unsigned long index,
		      struct page *page, u64 free_seq)
{
	mm->map_seq[index] = free_seq;
	mm->written_back[index] = READ_ONCE(*page_slot(page, mm));
}

void race_note_written_back(struct mm_struct *mm, struct page *page)
{
	mm->written_back[page->index] = READ_ONCE(*page_slot(page, mm));
	race_stat_inc(writebacks);
}

/*
 * The entry is read first, then the mask and the count: a vCPU that
 * loads the mm after that sets its bit first and bumps the count, so it
 * cannot have set Accessed in what was read.
 */
void race_check_young(struct mm_struct *mm, unsigned long seq,
		      unsigned long mask, pte_t *ptep)
{
	bool young = pte_young(ptep_get(ptep));

	smp_rmb();
	if (young && !mask && !READ_ONCE(mm->cpu_vm_mask) &&
	    READ_ONCE(mm->switch_seq) == seq)
		race_stat_inc(ineffective_young);
}

void race_check_zap(struct mm_struct *mm, unsigned long index, pte_t pte,
		    struct page *page)
{
	if (READ_ONCE(page->free_seq) != mm->map_seq[index]) {
		race_stat_inc(use_after_free);
		return;
	}
	if (!pte_dirty(pte) &&
	    READ_ONCE(*page_slot(page, mm)) != mm->written_back[index])
		race_stat_inc(lost_dirty);
}
