/*
 * An mm's pagetables: allocating them, faulting anonymous pages in,
 * copying them at fork, clearing and freeing them at exit. The user half
 * of a pgd is the mm's own; the kernel's slots point at swapper_pg_dir's
 * tables.
 */
#include <barrier.h>
#include <kernel.h>
#include <mm.h>
#include <mm_types.h>
#include <paravirt.h>
#include <race.h>
#include <rmap.h>
#include <swap.h>
#include <xen/arch-x86_64.h>

#define PMD_MASK	(~(PMD_SIZE - 1))

/* The end of the pte page's range that addr is in, or end if before. */
static unsigned long pmd_addr_end(unsigned long addr, unsigned long end)
{
	unsigned long boundary = (addr + PMD_SIZE) & PMD_MASK;

	return boundary - 1 < end - 1 ? boundary : end;
}

static void *alloc_table(void)
{
	struct page *page = alloc_page();

	if (!page)
		panic("out of memory for a pagetable");
	return page_address(page);
}

/* Back to the allocator: the mm is unpinned, so the frame is writable. */
static void free_table(void *table)
{
	free_page((unsigned long)table);
}

pgd_t *pgd_alloc(struct mm_struct *mm)
{
	pgd_t *pgd = alloc_table();
	unsigned int i;

	/*
	 * The kernel's slots, as swapper_pg_dir has them; those of the
	 * hypervisor's hole it fills in itself.
	 */
	for (i = pgd_index(HYPERVISOR_VIRT_END); i < PTRS_PER_PGD; i++)
		native_set_pgd(pgd + i, swapper_pg_dir[i]);
	return pgd;
}

void pgd_free(struct mm_struct *mm, pgd_t *pgd)
{
	free_table(pgd);
}

pmd_t *mm_find_pmd(struct mm_struct *mm, unsigned long address)
{
	pgd_t *pgd = pgd_offset(mm, address);
	pud_t *pud;
	pmd_t *pmd;

	if (!pgd_present(*pgd))
		return NULL;
	pud = pud_offset(pgd, address);
	if (!pud_present(*pud))
		return NULL;
	pmd = pmd_offset(pud, address);
	if (!pmd_present(*pmd))
		return NULL;
	return pmd;
}

/* The pmd that maps address in mm, allocating the tables on the way. */
static pmd_t *pmd_alloc(struct mm_struct *mm, unsigned long address)
{
	pgd_t *pgd = pgd_offset(mm, address);
	pud_t *pud;
	pmd_t *pmd;

	if (pgd_none(*pgd)) {
		BUG_ON(mm->context.pinned);
		pgd_populate(pgd, alloc_table());
	}
	pud = pud_offset(pgd, address);
	if (pud_none(*pud)) {
		BUG_ON(mm->context.pinned);
		pud_populate(pud, alloc_table());
	}
	pmd = pmd_offset(pud, address);
	if (pmd_none(*pmd)) {
		pte_t *pte = alloc_table();

		BUG_ON(mm->context.pinned);
		spin_lock_init(&virt_to_page(pte)->ptl);
		pmd_populate_kernel(pmd, pte);
	}
	return pmd;
}

/* The pte of address in mm, allocating tables, with its lock taken. */
static pte_t *pte_alloc_map_lock(struct mm_struct *mm, unsigned long address,
				 spinlock_t **ptlp)
{
	pmd_t *pmd = pmd_alloc(mm, address);

	*ptlp = pte_lockptr(mm, pmd);
	spin_lock(*ptlp);
	return pte_offset_kernel(pmd, address);
}

static unsigned long vma_page_index(struct vm_area_struct *vma,
				    unsigned long address)
{
	unsigned long index = (address - vma->vm_start) >> PAGE_SHIFT;

	BUG_ON(index >= MAX_RACE_PAGES);
	return index;
}

/* A write fault on a pte that is none, as Linux's do_anonymous_page(). */
static void do_anonymous_page(struct mm_struct *mm,
			      struct vm_area_struct *vma,
			      unsigned long address)
{
	struct page *page;
	spinlock_t *ptl;
	pte_t *pte;

	pte = pte_alloc_map_lock(mm, address, &ptl);
	if (pte_none(ptep_get(pte))) {
		page = alloc_anon_page();
		page_add_new_anon_rmap(page, vma, address);
		lru_cache_add(page);
		race_note_mapped(mm, vma_page_index(vma, address), page,
				 READ_ONCE(page->free_seq));
		set_pte_at(mm, address, pte,
			   mfn_pte(page_to_pfn(page), vma->vm_page_prot));
	}
	spin_unlock(ptl);
}

void make_pages_present(struct vm_area_struct *vma)
{
	unsigned long address;

	for (address = vma->vm_start; address < vma->vm_end;
	     address += PAGE_SIZE)
		do_anonymous_page(vma->vm_mm, vma, address);
}

static void copy_one_pte(struct mm_struct *dst_mm, struct mm_struct *src_mm,
			 pte_t *dst_pte, pte_t *src_pte,
			 struct vm_area_struct *vma, unsigned long addr)
{
	struct page *page;
	pte_t pte;
	u64 seq;

	/*
	 * The page's free_seq as of when the child came to map it: read
	 * between two reads of the parent's pte that agree.
	 */
	do {
		pte = ptep_get(src_pte);
		if (pte_none(pte))
			return;
		page = pte_page(pte);
		seq = READ_ONCE(page->free_seq);
		smp_rmb();
	} while (pte_val(ptep_get(src_pte)) != pte_val(pte));

	/*
	 * The vma is shared: no copy-on-write to set up, and the child's
	 * pte starts clean, as Linux makes it for a shared mapping. Linux
	 * also makes it old (pte_mkold); this one keeps Accessed. So a
	 * just-forked child's pages look referenced, as the parent's are,
	 * and reclaim clears Accessed in the child's ptes while fork pins
	 * them: the window that exit, unpinning, has anyway.
	 *
	 * pin-before-visible counts the mapping only once the child is
	 * pinned (vma_dup_rmap()).
	 */
	pte = pte_mkclean(pte);
	if (pv_mmu_strategy != STRATEGY_PIN_BEFORE_VISIBLE)
		page_dup_rmap(page);
	race_note_mapped(dst_mm, vma_page_index(vma, addr), page, seq);
	set_pte_at(dst_mm, addr, dst_pte, pte);
}

static void copy_pte_range(struct mm_struct *dst_mm,
			   struct mm_struct *src_mm, pmd_t *src_pmd,
			   struct vm_area_struct *vma, unsigned long addr,
			   unsigned long end)
{
	spinlock_t *src_ptl, *dst_ptl;
	pte_t *src_pte, *dst_pte;

	dst_pte = pte_alloc_map_lock(dst_mm, addr, &dst_ptl);
	src_pte = pte_offset_kernel(src_pmd, addr);
	src_ptl = pte_lockptr(src_mm, src_pmd);
	spin_lock(src_ptl);
	for (; addr < end; addr += PAGE_SIZE, src_pte++, dst_pte++)
		copy_one_pte(dst_mm, src_mm, dst_pte, src_pte, vma, addr);
	spin_unlock(src_ptl);
	spin_unlock(dst_ptl);
}

void copy_page_range(struct mm_struct *dst_mm, struct mm_struct *src_mm,
		     struct vm_area_struct *vma)
{
	unsigned long addr, next;
	pmd_t *src_pmd;

	for (addr = vma->vm_start; addr < vma->vm_end; addr = next) {
		next = pmd_addr_end(addr, vma->vm_end);
		src_pmd = mm_find_pmd(src_mm, addr);
		if (src_pmd)
			copy_pte_range(dst_mm, src_mm, src_pmd, vma, addr,
				       next);
	}
}

void vma_dup_rmap(struct vm_area_struct *vma)
{
	struct mm_struct *mm = vma->vm_mm;
	unsigned long addr, next;
	spinlock_t *ptl;
	pmd_t *pmd;
	pte_t *pte;

	for (addr = vma->vm_start; addr < vma->vm_end; addr = next) {
		next = pmd_addr_end(addr, vma->vm_end);
		pmd = mm_find_pmd(mm, addr);
		if (!pmd)
			continue;
		pte = pte_offset_kernel(pmd, addr);
		ptl = pte_lockptr(mm, pmd);
		spin_lock(ptl);
		for (; addr < next; addr += PAGE_SIZE, pte++)
			if (pte_present(ptep_get(pte)))
				page_dup_rmap(pte_page(ptep_get(pte)));
		spin_unlock(ptl);
	}
}

/*
 * The tables are writable again (the mm is unpinned) and nothing has it
 * loaded: plain exchanges clear the ptes.
 */
static void zap_pte_range(struct mm_struct *mm, struct vm_area_struct *vma,
			  pmd_t *pmd, unsigned long addr, unsigned long end)
{
	spinlock_t *ptl = pte_lockptr(mm, pmd);
	pte_t *pte = pte_offset_kernel(pmd, addr);

	spin_lock(ptl);
	for (; addr < end; addr += PAGE_SIZE, pte++) {
		struct page *page;
		pte_t ptent;

		if (pte_none(ptep_get(pte)))
			continue;
		ptent = native_ptep_get_and_clear(pte);
		BUG_ON(!pte_present(ptent));
		page = pte_page(ptent);
		race_check_zap(mm, vma_page_index(vma, addr), ptent, page);
		if (pte_dirty(ptent))
			set_page_dirty(page);
		page_remove_rmap(page);
	}
	spin_unlock(ptl);
}

void unmap_vmas(struct mm_struct *mm)
{
	struct vm_area_struct *vma;
	unsigned long addr, next;
	pmd_t *pmd;

	BUG_ON(mm->context.pinned || READ_ONCE(mm->cpu_vm_mask));
	for (vma = mm->mmap; vma; vma = vma->vm_next) {
		for (addr = vma->vm_start; addr < vma->vm_end; addr = next) {
			next = pmd_addr_end(addr, vma->vm_end);
			pmd = mm_find_pmd(mm, addr);
			if (pmd)
				zap_pte_range(mm, vma, pmd, addr, next);
		}
	}
}

/*
 * Takes the vmas out of the reverse map, then frees every table of the
 * user half; the pgd goes with the mm.
 */
void free_pgtables(struct mm_struct *mm)
{
	struct vm_area_struct *vma;
	unsigned int i, j, k;

	for (vma = mm->mmap; vma; vma = vma->vm_next)
		anon_vma_unlink(vma);

	for (i = 0; i < pgd_index(TASK_SIZE); i++) {
		pgd_t *pgd = mm->pgd + i;
		pud_t *pud;

		if (!pgd_present(*pgd))
			continue;
		pud = pgd_page_vaddr(*pgd);
		for (j = 0; j < PTRS_PER_PUD; j++) {
			pmd_t *pmd;

			if (!pud_present(pud[j]))
				continue;
			pmd = pud_page_vaddr(pud[j]);
			for (k = 0; k < PTRS_PER_PMD; k++) {
				if (pmd_present(pmd[k]))
					free_table(pmd_page_vaddr(pmd[k]));
			}
			free_table(pmd);
		}
		free_table(pud);
		native_set_pgd(pgd, __pgd(0));
	}
}
