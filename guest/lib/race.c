/*
 * The race's counters and its oracles: checks that count what went
 * wrong, as it happens, rather than infer it from the counters.
 *
 * lost dirty: a write through a child's pte reached the page after the
 * pte came to map it clean, and when the pte is cleared, by exit or by
 * reclaim, it has no Dirty bit left to say so. Each child writes only its
 * own word of a page (page_slot()), so the word then differs from the one
 * recorded at the mapping.
 *
 * ineffective young: a young clear that left Accessed set, while no vCPU
 * had the mm loaded to set it again.
 *
 * use after free: a pte cleared maps a page that reclaim freed after the
 * pte came to map it.
 *
 * reclaim hidden: reclaim unmapped a page from every pte the reverse map
 * reaches, and a pte of a vma out of the reverse map still maps it, so
 * the page cannot be freed (pin-before-visible, during fork and exit).
 */
#include <barrier.h>
#include <list.h>
#include <race.h>
#include <rmap.h>
#include <spinlock.h>

struct race_stats race_stats;

/* The vmas whose ptes the reverse map cannot reach, under hidden_lock. */
static LIST_HEAD(hidden_vmas);
static DEFINE_SPINLOCK(hidden_lock);

void race_note_mapped(struct mm_struct *mm, unsigned long index,
		      struct page *page, u64 free_seq)
{
	mm->map_seq[index] = free_seq;
	mm->clean_word[index] = READ_ONCE(*page_slot(page, mm));
}

void race_note_hidden(struct vm_area_struct *vma)
{
	spin_lock(&hidden_lock);
	if (!vma->hidden) {
		list_add_tail(&vma->hidden_node, &hidden_vmas);
		vma->hidden = true;
	}
	spin_unlock(&hidden_lock);
}

/*
 * Under hidden_lock, so that a check that found the vma on the list has
 * done with its ptes before they can be freed.
 */
void race_note_visible(struct vm_area_struct *vma)
{
	spin_lock(&hidden_lock);
	if (vma->hidden) {
		list_del(&vma->hidden_node);
		vma->hidden = false;
	}
	spin_unlock(&hidden_lock);
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

void race_check_unmapped(struct mm_struct *mm, unsigned long index, pte_t pte,
			 struct page *page)
{
	if (READ_ONCE(page->free_seq) != mm->map_seq[index]) {
		race_stat_inc(use_after_free);
		return;
	}
	if (!pte_dirty(pte) &&
	    READ_ONCE(*page_slot(page, mm)) != mm->clean_word[index])
		race_stat_inc(lost_dirty);
}

/* Whether a pte of a hidden vma maps page, read without its lock. */
static bool hidden_pte_maps(struct vm_area_struct *vma, struct page *page)
{
	unsigned long address = vma_address(page, vma);
	pte_t pte;
	pmd_t *pmd;

	if (vma->anon_vma != page->mapping || address >= vma->vm_end)
		return false;
	pmd = mm_find_pmd(vma->vm_mm, address);
	if (!pmd)
		return false;
	pte = ptep_get(pte_offset_kernel(pmd, address));
	return pte_present(pte) && pte_page(pte) == page;
}

void race_check_unmap_failed(struct page *page)
{
	struct vm_area_struct *vma;
	bool hidden = false;

	spin_lock(&hidden_lock);
	list_for_each_entry(vma, &hidden_vmas, hidden_node) {
		if (hidden_pte_maps(vma, page)) {
			hidden = true;
			break;
		}
	}
	spin_unlock(&hidden_lock);
	if (hidden)
		race_stat_inc(reclaim_hidden);
}
