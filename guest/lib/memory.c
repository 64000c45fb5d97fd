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
#include <xen/errno.h>

#define PMD_MASK	(~(PMD_SIZE - 1))

/* The end of the pte page's range that addr is in, or end if before. */
static unsigned long pmd_addr_end(unsigned long addr, unsigned long end)
{
	unsigned long boundary = (addr + PMD_SIZE) & PMD_MASK;

	return boundary - 1 < end - 1 ? boundary : end;
}

/* A zeroed table, or NULL when out of memory. */
static void *alloc_table(void)
{
	struct page *page = alloc_page();

	return page ? page_address(page) : NULL;
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

	if (!pgd)
		return NULL;
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

/*
 * The pmd that maps address in mm, allocating the tables on the way;
 * NULL when out of memory. A pte page comes with its split lock set up.
 */
static pmd_t *pmd_alloc(struct mm_struct *mm, unsigned long address)
{
	pgd_t *pgd = pgd_offset(mm, address);
	void *table;
	pud_t *pud;
	pmd_t *pmd;

	if (pgd_none(*pgd)) {
		BUG_ON(mm->context.pinned);
		table = alloc_table();
		if (!table)
			return NULL;
		pgd_populate(pgd, table);
	}
	pud = pud_offset(pgd, address);
	if (pud_none(*pud)) {
		BUG_ON(mm->context.pinned);
		table = alloc_table();
		if (!table)
			return NULL;
		pud_populate(pud, table);
	}
	pmd = pmd_offset(pud, address);
	if (pmd_none(*pmd)) {
		BUG_ON(mm->context.pinned);
		table = alloc_table();
		if (!table)
			return NULL;
		spin_lock_init(&virt_to_page(table)->ptl);
		pmd_populate_kernel(pmd, table);
	}
	return pmd;
}

/* The pte of address under pmd, with its page-table lock taken. */
static pte_t *pte_offset_map_lock(struct mm_struct *mm, pmd_t *pmd,
				  unsigned long address, spinlock_t **ptlp)
{
	*ptlp = pte_lockptr(mm, pmd);
	spin_lock(*ptlp);
	return pte_offset_kernel(pmd, address);
}

/* The same, allocating the tables on the way; NULL when out of memory. */
static pte_t *pte_alloc_map_lock(struct mm_struct *mm, unsigned long address,
				 spinlock_t **ptlp)
{
	pmd_t *pmd = pmd_alloc(mm, address);

	return pmd ? pte_offset_map_lock(mm, pmd, address, ptlp) : NULL;
}

static unsigned long vma_page_index(struct vm_area_struct *vma,
				    unsigned long address)
{
	unsigned long index = (address - vma->vm_start) >> PAGE_SHIFT;

	BUG_ON(index >= MAX_RACE_PAGES);
	return index;
}

/*
 * A write fault on a pte that is none, as Linux 2.6.23's
 * do_anonymous_page(): the page is allocated before the pte lock is taken,
 * since the allocation may reclaim, and the pte checked again under it.
 */
static void do_anonymous_page(struct mm_struct *mm,
			      struct vm_area_struct *vma,
			      unsigned long address)
{
	pmd_t *pmd = pmd_alloc(mm, address);
	struct page *page;
	spinlock_t *ptl;
	pte_t *pte;

	if (!pmd)
		panic("out of memory for the pagetables of %lx", address);
	if (!pte_none(ptep_get(pte_offset_kernel(pmd, address))))
		return;
	page = alloc_page();
	if (!page)
		panic("out of memory for an anonymous page at %lx", address);

	pte = pte_offset_map_lock(mm, pmd, address, &ptl);
	if (!pte_none(ptep_get(pte))) {
		spin_unlock(ptl);
		__free_page(page);
		return;
	}
	page_add_new_anon_rmap(page, vma, address);
	lru_cache_add(page);
	race_note_mapped(mm, vma_page_index(vma, address), page,
			 READ_ONCE(page->free_seq));
	set_pte_at(mm, address, pte,
		   mfn_pte(page_to_pfn(page), vma->vm_page_prot));
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
	 * The mapping counts at once, whether or not the vma is in the
	 * reverse map yet (2.6.23 takes get_page() and page_dup_rmap()
	 * here): reclaim frees no page a pte maps.
	 */
	pte = pte_mkclean(pte);
	page_dup_rmap(page);
	race_note_mapped(dst_mm, vma_page_index(vma, addr), page, seq);
	set_pte_at(dst_mm, addr, dst_pte, pte);
}

static int copy_pte_range(struct mm_struct *dst_mm, struct mm_struct *src_mm,
			  pmd_t *src_pmd, struct vm_area_struct *vma,
			  unsigned long addr, unsigned long end)
{
	spinlock_t *src_ptl, *dst_ptl;
	pte_t *src_pte, *dst_pte;

	dst_pte = pte_alloc_map_lock(dst_mm, addr, &dst_ptl);
	if (!dst_pte)
		return -ENOMEM;
	src_pte = pte_offset_map_lock(src_mm, src_pmd, addr, &src_ptl);
	for (; addr < end; addr += PAGE_SIZE, src_pte++, dst_pte++)
		copy_one_pte(dst_mm, src_mm, dst_pte, src_pte, vma, addr);
	spin_unlock(src_ptl);
	spin_unlock(dst_ptl);
	return 0;
}

int copy_page_range(struct mm_struct *dst_mm, struct mm_struct *src_mm,
		    struct vm_area_struct *vma)
{
	unsigned long addr, next;
	pmd_t *src_pmd;
	int err;

	for (addr = vma->vm_start; addr < vma->vm_end; addr = next) {
		next = pmd_addr_end(addr, vma->vm_end);
		src_pmd = mm_find_pmd(src_mm, addr);
		if (!src_pmd)
			continue;
		err = copy_pte_range(dst_mm, src_mm, src_pmd, vma, addr, next);
		if (err)
			return err;
	}
	return 0;
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
		race_check_unmapped(mm, vma_page_index(vma, addr), ptent, page);
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
