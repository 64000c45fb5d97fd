/*
 * The reverse map of anonymous pages, and the two walks reclaim makes
 * over it, as Linux 2.6.23's mm/rmap.c: page_referenced() and
 * try_to_unmap(). Each holds the anon_vma's lock across the walk and a
 * pte's page-table lock while it changes the pte.
 */
#include <barrier.h>
#include <kernel.h>
#include <paravirt.h>
#include <processor.h>
#include <pvclock.h>
#include <race.h>
#include <rmap.h>
#include <slab.h>
#include <xen/mmu.h>
#include <xen/pvsim.h>

/* The anon_vma is never freed: the vma it was made for never goes. */
void anon_vma_prepare(struct vm_area_struct *vma)
{
	struct anon_vma *anon_vma = kzalloc(sizeof(*anon_vma));

	if (!anon_vma)
		panic("anon_vma_prepare: out of memory");
	spin_lock_init(&anon_vma->lock);
	INIT_LIST_HEAD(&anon_vma->head);
	vma->anon_vma = anon_vma;
	list_add_tail(&vma->anon_vma_node, &anon_vma->head);
}

void anon_vma_link(struct vm_area_struct *vma)
{
	struct anon_vma *anon_vma = vma->anon_vma;

	spin_lock(&anon_vma->lock);
	list_add_tail(&vma->anon_vma_node, &anon_vma->head);
	spin_unlock(&anon_vma->lock);
}

/* A vma that is not linked, or no longer, is left as it is. */
void anon_vma_unlink(struct vm_area_struct *vma)
{
	struct anon_vma *anon_vma = vma->anon_vma;

	spin_lock(&anon_vma->lock);
	list_del_init(&vma->anon_vma_node);
	spin_unlock(&anon_vma->lock);
}

void page_add_new_anon_rmap(struct page *page, struct vm_area_struct *vma,
			    unsigned long address)
{
	SetPageAnon(page);
	page->mapping = vma->anon_vma;
	page->index = (address - vma->vm_start) >> PAGE_SHIFT;
	atomic_inc(&page->_mapcount);
}

pte_t *page_check_address(struct page *page, struct mm_struct *mm,
			  unsigned long address, spinlock_t **ptlp)
{
	pmd_t *pmd = mm_find_pmd(mm, address);
	spinlock_t *ptl;
	pte_t *pte;

	if (!pmd)
		return NULL;
	pte = pte_offset_kernel(pmd, address);
	/* A quick check before taking the lock. */
	if (!pte_present(ptep_get(pte)))
		return NULL;

	ptl = pte_lockptr(mm, pmd);
	if (!spin_trylock(ptl)) {
		/* lock-pte-pages at work: a pin or unpin holds the pte page. */
		if (PagePinLocked(container_of(ptl, struct page, ptl)))
			race_stat_inc(pin_lock_waits);
		spin_lock(ptl);
	}
	if (pte_present(ptep_get(pte)) && pte_page(ptep_get(pte)) == page) {
		*ptlp = ptl;
		return pte;
	}
	spin_unlock(ptl);
	return NULL;
}

/* The address of page in vma, or 0 when the vma does not cover it. */
static unsigned long page_address_in_vma(struct page *page,
					 struct vm_area_struct *vma)
{
	unsigned long address = vma_address(page, vma);

	return address < vma->vm_end ? address : 0;
}

/*
 * ptep_clear_flush_young(), with the clear alone timed, in ns and in VM
 * exits, for race_stats, and checked: a clear that left the pte young,
 * when no vCPU could have set Accessed again, was ineffective.
 */
static int ptep_clear_flush_young_checked(struct vm_area_struct *vma,
					  unsigned long address, pte_t *pte)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long seq, mask;
	u64 start, cycles, exits;
	int young;

	seq = READ_ONCE(mm->switch_seq);
	mask = smp_load_acquire(&mm->cpu_vm_mask);
	exits = pvsim_exits();
	start = rdtsc();
	young = ptep_test_and_clear_young(vma, address, pte);
	cycles = rdtsc() - start;
	exits = pvsim_exits() - exits;

	race_stat_inc(young_calls);
	if (young) {
		race_stat_inc(young_clears);
		race_stat_add(young_clear_ns, pvclock_cycles_to_ns(cycles));
		race_stat_add(young_clear_exits, exits);
		flush_tlb_page(vma, address);
		race_check_young(mm, seq, mask, pte);
	}
	return young;
}

/*
 * rmap_walk(): calls rmap_one for each pte that maps page through a vma
 * of its anon_vma, with the anon_vma's lock and that pte's page-table
 * lock held, until it returns false. Linux grew this walker later
 * (rmap_walk, whose rmap_one also says whether to go on); the two walks
 * below share it.
 */
typedef bool (*rmap_one_t)(struct page *page, struct vm_area_struct *vma,
			   unsigned long address, pte_t *pte, void *arg);

static void rmap_walk(struct page *page, rmap_one_t rmap_one, void *arg)
{
	struct anon_vma *anon_vma = page->mapping;
	struct vm_area_struct *vma;
	unsigned long address;
	spinlock_t *ptl;
	pte_t *pte;
	bool more = true;

	if (!PageAnon(page) || !anon_vma)
		return;
	spin_lock(&anon_vma->lock);
	list_for_each_entry(vma, &anon_vma->head, anon_vma_node) {
		address = page_address_in_vma(page, vma);
		if (!address)
			continue;
		pte = page_check_address(page, vma->vm_mm, address, &ptl);
		if (!pte)
			continue;
		more = rmap_one(page, vma, address, pte, arg);
		spin_unlock(ptl);
		if (!more)
			break;
	}
	spin_unlock(&anon_vma->lock);
}

static bool page_referenced_one(struct page *page, struct vm_area_struct *vma,
				unsigned long address, pte_t *pte, void *arg)
{
	int *referenced = arg;

	trace_mark("page_referenced_one", virt_to_machine(pte).maddr);
	*referenced += ptep_clear_flush_young_checked(vma, address, pte);
	return true;
}

int page_referenced(struct page *page)
{
	int referenced = 0;

	rmap_walk(page, page_referenced_one, &referenced);
	return referenced;
}

/*
 * As Linux 2.6.23's: a pte young again since page_referenced() keeps the
 * page (SWAP_FAIL). The mm may be in any state, pinned, unpinned or in
 * between: the strategy's ptep_get_and_clear() clears the pte. The pte
 * is left none, where Linux leaves a swap entry: the page is not written
 * to swap, only freed.
 */
static bool try_to_unmap_one(struct page *page, struct vm_area_struct *vma,
			     unsigned long address, pte_t *pte, void *arg)
{
	int *ret = arg;
	pte_t pteval;

	trace_mark("try_to_unmap_one", virt_to_machine(pte).maddr);
	if (ptep_clear_flush_young_checked(vma, address, pte)) {
		*ret = SWAP_FAIL;
		return false;
	}
	pteval = ptep_get_and_clear(vma->vm_mm, address, pte);
	flush_tlb_page(vma, address);
	race_check_unmapped(vma->vm_mm, page->index, pteval, page);
	/* Move the dirty bit to the physical page now the pte is gone. */
	if (pte_dirty(pteval))
		set_page_dirty(page);
	page_remove_rmap(page);
	return page_mapped(page);
}

int try_to_unmap(struct page *page)
{
	int ret = SWAP_AGAIN;

	rmap_walk(page, try_to_unmap_one, &ret);
	if (ret != SWAP_FAIL && !page_mapped(page))
		ret = SWAP_SUCCESS;
	return ret;
}
