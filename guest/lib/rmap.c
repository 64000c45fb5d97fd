/*
 * The reverse map of anonymous pages, and the three walks reclaim makes
 * over it: page_referenced(), page_mkclean() and try_to_unmap(). Each
 * holds the anon_vma's lock across the walk and a pte's page-table lock
 * while it changes the pte.
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
 * exits, for race_stats.
 */
static int ptep_clear_flush_young_timed(struct vm_area_struct *vma,
					unsigned long address, pte_t *pte)
{
	u64 start, cycles, exits;
	int young;

	trace_mark("page_referenced_one", virt_to_machine(pte).maddr);
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
	}
	return young;
}

/*
 * rmap_walk(): calls rmap_one for each pte that maps page through a vma
 * of its anon_vma, with the anon_vma's lock and that pte's page-table
 * lock held, and adds up what the calls return. Linux grew this walker
 * later (rmap_walk); the three walks below share it.
 */
typedef int (*rmap_one_t)(struct page *page, struct vm_area_struct *vma,
			  unsigned long address, pte_t *pte);

static int rmap_walk(struct page *page, rmap_one_t rmap_one)
{
	struct anon_vma *anon_vma = page->mapping;
	struct vm_area_struct *vma;
	unsigned long address;
	spinlock_t *ptl;
	pte_t *pte;
	int ret = 0;

	if (!PageAnon(page) || !anon_vma)
		return 0;
	spin_lock(&anon_vma->lock);
	list_for_each_entry(vma, &anon_vma->head, anon_vma_node) {
		address = page_address_in_vma(page, vma);
		if (!address)
			continue;
		pte = page_check_address(page, vma->vm_mm, address, &ptl);
		if (!pte)
			continue;
		ret += rmap_one(page, vma, address, pte);
		spin_unlock(ptl);
	}
	spin_unlock(&anon_vma->lock);
	return ret;
}

static int page_referenced_one(struct page *page, struct vm_area_struct *vma,
			       unsigned long address, pte_t *pte)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long seq, mask;
	int young;

	seq = READ_ONCE(mm->switch_seq);
	mask = smp_load_acquire(&mm->cpu_vm_mask);
	young = ptep_clear_flush_young_timed(vma, address, pte);
	if (young)
		race_check_young(mm, seq, mask, pte);
	return young;
}

int page_referenced(struct page *page)
{
	return rmap_walk(page, page_referenced_one);
}

/*
 * Clears Dirty in the page's pte of vma. A vCPU that has the mm loaded
 * may hold the pte in its TLB as dirty already and write on without
 * setting Dirty again: the flush returns once every such vCPU flushed,
 * so the writes the cleared Dirty stood for are in the page by then.
 */
static int page_mkclean_one(struct page *page, struct vm_area_struct *vma,
			    unsigned long address, pte_t *pte)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long mask;
	int dirty, rc;

	trace_mark("page_mkclean_one", virt_to_machine(pte).maddr);
	dirty = ptep_test_and_clear_dirty(vma, address, pte);
	if (dirty) {
		mask = READ_ONCE(mm->cpu_vm_mask);
		if (mask) {
			rc = xen_flush_tlb_mask(&mask);
			if (rc) {
				printk("page_mkclean: MMUEXT_TLB_FLUSH_MULTI of vCPUs %lx failed: %d\n",
				       mask, rc);
				xen_crash();
			}
		}
		race_note_written_back(mm, page);
	}
	return dirty;
}

int page_mkclean(struct page *page)
{
	return rmap_walk(page, page_mkclean_one);
}

/*
 * The mm may be in any state, pinned, unpinned or in between: the
 * strategy's ptep_get_and_clear() clears the pte.
 */
static int try_to_unmap_one(struct page *page, struct vm_area_struct *vma,
			    unsigned long address, pte_t *pte)
{
	pte_t pteval;

	trace_mark("try_to_unmap_one", virt_to_machine(pte).maddr);
	pteval = ptep_get_and_clear(vma->vm_mm, address, pte);
	flush_tlb_page(vma, address);
	if (pte_dirty(pteval))
		set_page_dirty(page);
	page_remove_rmap(page);
	return 0;
}

void try_to_unmap(struct page *page)
{
	rmap_walk(page, try_to_unmap_one);
}
