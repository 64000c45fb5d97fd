/*
 * hugetlbfs: a fault against truncate and hole punch, as Linux 4.4 had
 * them (mm/hugetlb.c, fs/hugetlbfs/inode.c, November 2015), the race Mike
 * Kravetz argued could not happen: "it is not possible for
 * hugetlb_vmtruncate to unmap the huge page before the page fault
 * completes, as it must acquire the page table lock".
 *
 * vCPU 0 faults index 0 of a shared hugetlbfs mapping (hugetlb_fault ->
 * hugetlb_no_page); vCPU 1 truncates the file to nothing
 * (hugetlb_vmtruncate) or punches a hole over index 0
 * (hugetlbfs_punch_hole). A huge page is modelled by one frame, and its
 * huge pte by the L1 entry of one address, written with update_va_mapping
 * through the PV MMU (set_huge_pte_at, huge_ptep_get_and_clear).
 *
 * variant= picks the code:
 *   kravetz         4.4 as he reasoned about it: i_size checked again
 *                   under the page table lock; no violation expected
 *   no-recheck      without that second check
 *   no-ptl          the second check and the map without the page table
 *                   lock (the "optimisation" Hugh Dickins warns about)
 *   punch           hole punch, remove_inode_hugepages under the fault
 *                   mutex (4.4); no violation expected
 *   punch-no-mutex  hole punch, remove_inode_hugepages without it
 *
 * Each vCPU starts at a scheduling point labelled "begin"; the others are
 * labelled with the function they are in, as the diagram names it.
 *
 * Oracles (struct scenario_oracles, the scenario protocol):
 *   mapped_beyond_isize  after both returned, the page is mapped though its
 *                        index is past i_size
 *   mapped_in_hole       after both returned, the hole is mapped by a page
 *                        the punch removed from the page cache
 *   found_mapped         remove_inode_hugepages found the page mapped in a
 *                        truncate (4.4's BUG_ON(truncate_op))
 */
#include <atomic.h>
#include <cmdline.h>
#include <hypercall.h>
#include <kernel.h>
#include <mm.h>
#include <pgtable.h>
#include <processor.h>
#include <scenario.h>
#include <rmap.h>
#include <smp.h>
#include <spinlock.h>
#include <string.h>
#include <xen/mmu.h>
#include <xen/pvsim.h>

PVSIM_DESCRIPTION("hugetlbfs fault against truncate and hole punch (Linux 4.4); variant=kravetz|no-recheck|no-ptl|punch|punch-no-mutex");

/* The scenario protocol's counters, read by member name (package scenario). */
struct scenario_oracles {
	unsigned long magic;
	unsigned long completed;
	unsigned long mapped_beyond_isize;
	unsigned long mapped_in_hole;
	unsigned long found_mapped;
};
struct scenario_oracles scenario_oracles;

enum variant { KRAVETZ, NO_RECHECK, NO_PTL, PUNCH, PUNCH_NO_MUTEX };
static const char *const variant_names[] = {
	"kravetz", "no-recheck", "no-ptl", "punch", "punch-no-mutex",
};
static enum variant variant;

#define VM_FAULT_SIGBUS	0x0002

/* The file: one huge page of index 0, its page cache, its locks. */
static struct {
	unsigned long i_size;			/* in huge pages */
	struct page *page_cache[1];		/* mapping's radix tree */
	spinlock_t tree_lock;
	spinlock_t i_mmap_rwsem;		/* i_mmap_lock_write() */
} inode;

static spinlock_t hugetlb_fault_mutex_table[1];
static spinlock_t ptl;				/* huge_pte_lockptr() */
static unsigned long haddr;			/* the mapping's address */


static pte_t *huge_pte_offset(void)
{
	unsigned int level;

	return lookup_address(haddr, &level);
}

static pte_t huge_ptep_get(void)
{
	return READ_ONCE(*huge_pte_offset());
}

/* set_huge_pte_at(), and page_dup_rmap() as hugetlb_no_page() does after it. */
static void set_huge_pte_at(struct page *page)
{
	pvsim_sched_point("set_huge_pte_at", 0);
	if (HYPERVISOR_update_va_mapping(haddr, pte_val(pfn_pte(page_to_pfn(page), PAGE_KERNEL)), UVMF_INVLPG))
		panic("hugetlb-truncate: set_huge_pte_at refused");
	atomic_inc(&page->_mapcount);
}

/* huge_ptep_get_and_clear(), and page_remove_rmap() of what it mapped. */
static void huge_ptep_get_and_clear(void)
{
	pte_t pte = huge_ptep_get();

	if (HYPERVISOR_update_va_mapping(haddr, 0, UVMF_INVLPG))
		panic("hugetlb-truncate: huge_ptep_get_and_clear refused");
	if (!pte_none(pte))
		page_remove_rmap(pfn_to_page(pte_mfn(pte)));
}

static unsigned long i_size_read(void)
{
	return READ_ONCE(inode.i_size);
}

/* mm/hugetlb.c: hugetlb_no_page(), the fault mutex held by the caller. */
static int hugetlb_no_page(unsigned long idx)
{
	struct page *page;
	unsigned long size;
	bool locked = variant != NO_PTL;

	pvsim_sched_point("hugetlb_no_page", idx);
	spin_lock(&inode.tree_lock);
	page = inode.page_cache[idx];			/* find_lock_page() */
	spin_unlock(&inode.tree_lock);
	if (!page) {
		size = i_size_read();
		if (idx >= size)
			return VM_FAULT_SIGBUS;
		page = alloc_page();			/* alloc_huge_page() */
		if (!page)
			panic("hugetlb-truncate: no page");
		spin_lock(&inode.tree_lock);		/* huge_add_to_page_cache() */
		inode.page_cache[idx] = page;
		spin_unlock(&inode.tree_lock);
		pvsim_sched_point("huge_add_to_page_cache", idx);
	}
	if (locked)
		spin_lock(&ptl);
	pvsim_sched_point("hugetlb_no_page: i_size again", idx);
	if (variant != NO_RECHECK) {
		size = i_size_read();
		if (idx >= size)
			goto backout;
	}
	if (!pte_none(huge_ptep_get()))
		goto backout;
	set_huge_pte_at(page);
	if (locked)
		spin_unlock(&ptl);
	return 0;
backout:
	if (locked)
		spin_unlock(&ptl);
	return 0;
}

/* mm/hugetlb.c: hugetlb_fault(), serialised per index by the fault mutex. */
static int hugetlb_fault(unsigned long idx)
{
	int ret;

	spin_lock(&hugetlb_fault_mutex_table[0]);
	ret = hugetlb_no_page(idx);
	spin_unlock(&hugetlb_fault_mutex_table[0]);
	return ret;
}

/* hugetlb_vmdelete_list() -> unmap_hugepage_range(): under the pte lock. */
static void hugetlb_vmdelete_list(unsigned long start, unsigned long end)
{
	if (start > 0 || end == 0)
		return;				/* index 0 is not in the range */
	spin_lock(&ptl);
	pvsim_sched_point("__unmap_hugepage_range", 0);
	if (!pte_none(huge_ptep_get()))
		huge_ptep_get_and_clear();
	spin_unlock(&ptl);
}

/* fs/hugetlbfs/inode.c: remove_inode_hugepages() over [lstart, lend). */
static void remove_inode_hugepages(unsigned long lstart, unsigned long lend, bool truncate_op)
{
	bool mutex = variant != PUNCH_NO_MUTEX;
	struct page *page;

	if (lstart > 0 || lend == 0)
		return;
	if (mutex)
		spin_lock(&hugetlb_fault_mutex_table[0]);
	pvsim_sched_point("remove_inode_hugepages", 0);
	spin_lock(&inode.tree_lock);
	page = inode.page_cache[0];
	spin_unlock(&inode.tree_lock);
	if (page) {
		/*
		 * If page is mapped, it was faulted in after being unmapped in
		 * caller. Unmap (again) now after taking the fault mutex.
		 * Getting here in a truncate operation is a bug.
		 */
		if (page_mapped(page)) {
			if (truncate_op)
				scenario_oracles.found_mapped++;	/* BUG_ON(truncate_op) */
			spin_lock(&inode.i_mmap_rwsem);
			hugetlb_vmdelete_list(0, 1);
			spin_unlock(&inode.i_mmap_rwsem);
		}
		spin_lock(&inode.tree_lock);		/* remove_huge_page() */
		inode.page_cache[0] = NULL;
		spin_unlock(&inode.tree_lock);
	}
	if (mutex)
		spin_unlock(&hugetlb_fault_mutex_table[0]);
}

/* fs/hugetlbfs/inode.c: hugetlb_vmtruncate() to offset (in huge pages). */
static void hugetlb_vmtruncate(unsigned long offset)
{
	WRITE_ONCE(inode.i_size, offset);		/* i_size_write() */
	pvsim_sched_point("hugetlb_vmtruncate: i_size_write", offset);
	spin_lock(&inode.i_mmap_rwsem);
	hugetlb_vmdelete_list(offset, ~0UL);
	spin_unlock(&inode.i_mmap_rwsem);
	remove_inode_hugepages(offset, ~0UL, true);
}

/* fs/hugetlbfs/inode.c: hugetlbfs_punch_hole() over [start, end). */
static void hugetlbfs_punch_hole(unsigned long start, unsigned long end)
{
	spin_lock(&inode.i_mmap_rwsem);
	hugetlb_vmdelete_list(start, end);
	spin_unlock(&inode.i_mmap_rwsem);
	remove_inode_hugepages(start, end, false);
}

void secondary_main(void)
{
	pvsim_sched_point("begin", 1);
	if (variant == PUNCH || variant == PUNCH_NO_MUTEX)
		hugetlbfs_punch_hole(0, 1);
	else
		hugetlb_vmtruncate(0);
	scenario_oracles.completed++;
	scenario_secondary_done();
}

void kernel_main(void)
{
	struct page *slot;

	variant = scenario_start("hugetlb-truncate", &scenario_oracles.magic, variant_names,
				 ARRAY_SIZE(variant_names));

	/* The mapping's address: a page's slot in the linear map, emptied. */
	slot = alloc_page();
	haddr = (unsigned long)page_address(slot);
	if (HYPERVISOR_update_va_mapping(haddr, 0, UVMF_INVLPG))
		panic("hugetlb-truncate: emptying the mapping's pte refused");
	inode.i_size = 1;
	printk("hugetlb-truncate: variant=%s%s\n", variant_names[variant],
	       pvsim_deterministic ? " deterministic" : "");

	/* Nothing before here depends on the schedule: only vCPU 0 ran. */
	pvsim_snapshot_point();
	smp_init();
	pvsim_sched_point("begin", 0);
	hugetlb_fault(0);
	scenario_oracles.completed++;
	scenario_wait_secondaries();

	if (!pte_none(huge_ptep_get())) {
		struct page *page = pfn_to_page(pte_mfn(huge_ptep_get()));

		/*
		 * A fault after the punch may fill the hole again, with a page
		 * of the page cache; one the punch removed is an orphan.
		 */
		if ((variant == PUNCH || variant == PUNCH_NO_MUTEX) && inode.page_cache[0] != page)
			scenario_oracles.mapped_in_hole++;
		if (0 >= i_size_read())
			scenario_oracles.mapped_beyond_isize++;
	}
	printk("hugetlb-truncate: completed=%lu mapped_beyond_isize=%lu mapped_in_hole=%lu found_mapped=%lu\n",
	       scenario_oracles.completed, scenario_oracles.mapped_beyond_isize,
	       scenario_oracles.mapped_in_hole, scenario_oracles.found_mapped);
	xen_poweroff();
}
