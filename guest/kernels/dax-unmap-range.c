/*
 * DAX: unmap_mapping_range() without i_mmap_lock, as a patch for Linux 4.3
 * had it (mm/memory.c, October 2015): "DAX uses i_mmap_lock to serialise
 * file truncate vs page fault", so for a DAX inode it took the lock no
 * more, presuming the caller held it. Dan Williams objected that callers
 * do not all hold it, driver shutdown revoking a pmem device's pages or
 * invalidate_inode_pages2_range() among them, and that they then walk
 * mapping->i_mmap while a fault or an mmap() changes it; Kirill Shutemov's
 * "mm: take i_mmap_lock in unmap_mapping_range() for DAX" took the lock
 * again for every inode.
 *
 * vCPU 0 revokes the device: marks it dead, then truncate_pagecache(),
 * whose unmap_mapping_range() calls (two, as in Linux) walk i_mmap
 * (unmap_mapping_range_tree) and zap each vma's pte. vCPU 1 mmap()s a new vma B in front of the mapped vma A
 * (vma_link -> __vma_link_file -> vma_interval_tree_insert, under
 * i_mmap_lock_write) and faults on it: __dax_fault checks the device and
 * maps its page (dax_insert_mapping) under i_mmap_lock_read, as 4.3 did.
 * A vma is one page, its pte the L1 entry of an emptied slot of the linear
 * map, written with update_va_mapping through the PV MMU; a device page
 * is a frame.
 *
 * i_mmap, an interval tree, is modelled by an array of vmas sorted by
 * vm_pgoff, the tree's in-order, walked by index. vma_interval_tree_insert
 * shifts the vmas after the new one up one slot at a time, a scheduling
 * point between moves, and counts the new one last: it stands for a tree
 * insert rotating nodes under a walker that holds no lock. Nodes move, and
 * an in-order walk can miss one. i_mmap_rwsem is a spinlock taken for read
 * and for write alike: with one reader and one writer, on two vCPUs,
 * excluding the reader from the writer is all the model needs of it.
 *
 * variant= picks the code:
 *   dax-no-lock  the patch: no i_mmap_lock_write for a DAX inode
 *   lock         i_mmap_lock_write always (Shutemov); no violation expected
 *
 * Each vCPU starts at a scheduling point labelled "begin"; the others are
 * labelled with the function they are in.
 *
 * Oracles (struct scenario_oracles, the scenario protocol):
 *   survives_unmap   after both returned, a vma in i_mmap still maps a page
 *                    of the device that was revoked
 *   walk_missed_vma  an unmap_mapping_range_tree() walk did not visit a vma
 *                    in i_mmap from before it began to after it ended
 */
#include <atomic.h>
#include <cmdline.h>
#include <hypercall.h>
#include <kernel.h>
#include <mm.h>
#include <pgtable.h>
#include <processor.h>
#include <scenario.h>
#include <smp.h>
#include <spinlock.h>
#include <string.h>
#include <xen/mmu.h>
#include <xen/pvsim.h>

PVSIM_DESCRIPTION("unmap_mapping_range without i_mmap_lock for DAX (Linux 4.3); variant=dax-no-lock|lock");

/* The scenario protocol's counters, read by member name (package scenario). */
struct scenario_oracles {
	unsigned long magic;
	unsigned long completed;
	unsigned long survives_unmap;
	unsigned long walk_missed_vma;
};
struct scenario_oracles scenario_oracles;

enum variant { DAX_NO_LOCK, LOCK };
static const char *const variant_names[] = { "dax-no-lock", "lock" };
static enum variant variant;

#define VM_FAULT_SIGBUS	0x0002
#define VM_FAULT_NOPAGE	0x0100

/* A vma of the file: one page at vm_start, mapping file page vm_pgoff. */
struct vm_area_struct {
	unsigned long vm_start;
	unsigned long vm_pgoff;
	struct address_space *vm_mapping;	/* vm_file->f_mapping */
	/* The oracle's bookkeeping, not Linux's. */
	bool linked;		/* in i_mmap: its insert finished */
	bool linked_at_walk;	/* linked when the walk began */
	bool visited;		/* the walk got to it */
};

#define NR_VMAS	2
static struct vm_area_struct vmas[NR_VMAS];	/* A, then B */
#define vma_a	(&vmas[0])
#define vma_b	(&vmas[1])

/* The file's address_space; i_mmap is the interval tree, see above. */
struct address_space {
	struct inode *host;
	struct vm_area_struct *i_mmap[NR_VMAS];
	unsigned long nr_vmas;
	spinlock_t i_mmap_rwsem;
};

struct inode {
	bool dax;			/* S_DAX */
	struct address_space *i_mapping;
};

static struct address_space file_mapping;
static struct inode file_inode = { .dax = true, .i_mapping = &file_mapping };
static struct address_space file_mapping = { .host = &file_inode };

#define IS_DAX(inode)	((inode)->dax)

/* The pmem device: a page per file page, until the driver revokes them. */
static struct {
	bool alive;
	struct page *pages[NR_VMAS];
} pmem;


/* i_mmap_rwsem, a spinlock for read and for write alike (see above). */
#define i_mmap_lock_write(mapping)	spin_lock(&(mapping)->i_mmap_rwsem)
#define i_mmap_unlock_write(mapping)	spin_unlock(&(mapping)->i_mmap_rwsem)
#define i_mmap_lock_read(mapping)	spin_lock(&(mapping)->i_mmap_rwsem)
#define i_mmap_unlock_read(mapping)	spin_unlock(&(mapping)->i_mmap_rwsem)

static void update_vma_pte(struct vm_area_struct *vma, pteval_t val)
{
	if (HYPERVISOR_update_va_mapping(vma->vm_start, val, UVMF_INVLPG))
		panic("dax-unmap-range: update_va_mapping of %#lx refused", vma->vm_start);
}

static pte_t vma_pte(struct vm_area_struct *vma)
{
	unsigned int level;

	return READ_ONCE(*lookup_address(vma->vm_start, &level));
}

/*
 * Inserts vma in vm_pgoff order: the vmas after it move up a slot, one at a
 * time, and it goes into the slot left; the count, which bounds a walk,
 * grows last. A walk running meanwhile may find a vma moved past its end.
 */
static void vma_interval_tree_insert(struct vm_area_struct *vma, struct address_space *mapping)
{
	unsigned long n = READ_ONCE(mapping->nr_vmas), i;

	for (i = n; i > 0 && mapping->i_mmap[i - 1]->vm_pgoff > vma->vm_pgoff; i--) {
		WRITE_ONCE(mapping->i_mmap[i], mapping->i_mmap[i - 1]);
		pvsim_sched_point("vma_interval_tree_insert", i);
	}
	WRITE_ONCE(mapping->i_mmap[i], vma);
	pvsim_sched_point("vma_interval_tree_insert", i);
	WRITE_ONCE(mapping->nr_vmas, n + 1);
	vma->linked = true;
}

static void __vma_link_file(struct vm_area_struct *vma)
{
	vma_interval_tree_insert(vma, vma->vm_mapping);
}

/* mm/mmap.c: vma_link(), the file's part: under i_mmap_lock_write. */
static void vma_link(struct vm_area_struct *vma)
{
	i_mmap_lock_write(vma->vm_mapping);
	__vma_link_file(vma);
	i_mmap_unlock_write(vma->vm_mapping);
}

/* mmap() of file page pgoff: vma's address was chosen, its pte emptied, at setup. */
static struct vm_area_struct *mmap_region(struct vm_area_struct *vma, unsigned long pgoff)
{
	vma->vm_pgoff = pgoff;
	vma_link(vma);
	return vma;
}

/* The device page of a file page, or NULL once the device is gone. */
static struct page *bdev_direct_access(unsigned long pgoff)
{
	return READ_ONCE(pmem.alive) ? pmem.pages[pgoff] : NULL;
}

static void dax_insert_mapping(struct vm_area_struct *vma, struct page *page)
{
	pvsim_sched_point("dax_insert_mapping", vma->vm_pgoff);
	update_vma_pte(vma, pte_val(pfn_pte(page_to_pfn(page), PAGE_KERNEL)));
}

/*
 * fs/dax.c: __dax_fault() of vma's page. 4.3 checks the file and the device
 * and maps the device's page under i_mmap_lock_read, against truncate.
 */
static int __dax_fault(struct vm_area_struct *vma)
{
	struct address_space *mapping = vma->vm_mapping;
	struct page *page;

	i_mmap_lock_read(mapping);
	pvsim_sched_point("__dax_fault", vma->vm_pgoff);
	page = bdev_direct_access(vma->vm_pgoff);
	if (!page) {
		i_mmap_unlock_read(mapping);
		return VM_FAULT_SIGBUS;
	}
	dax_insert_mapping(vma, page);
	i_mmap_unlock_read(mapping);
	return VM_FAULT_NOPAGE;
}

/* unmap_mapping_range_vma() -> zap_page_range_single(): the vma's one pte. */
static void zap_page_range_single(struct vm_area_struct *vma)
{
	if (!pte_none(vma_pte(vma)))
		update_vma_pte(vma, 0);
}

/*
 * vma_interval_tree_foreach() over the vmas of file pages [first, last],
 * zapping each; and the oracle's record of which vmas it got to.
 */
static void unmap_mapping_range_tree(struct address_space *mapping, unsigned long first,
				     unsigned long last)
{
	struct vm_area_struct *vma;
	unsigned long i;

	for (i = 0; i < NR_VMAS; i++) {
		vmas[i].linked_at_walk = vmas[i].linked;
		vmas[i].visited = false;
	}
	for (i = 0; i < READ_ONCE(mapping->nr_vmas); i++) {
		pvsim_sched_point("unmap_mapping_range_tree", i);
		vma = READ_ONCE(mapping->i_mmap[i]);
		if (vma->vm_pgoff <= last && vma->vm_pgoff >= first)
			zap_page_range_single(vma);
		vma->visited = true;
	}
	for (i = 0; i < NR_VMAS; i++)
		if (vmas[i].linked_at_walk && vmas[i].linked && !vmas[i].visited)
			scenario_oracles.walk_missed_vma++;
}

/*
 * mm/memory.c: unmap_mapping_range() of [holebegin, holebegin + holelen),
 * holelen 0 to the end of the file. The patch took no i_mmap_lock_write for
 * a DAX inode: "DAX uses i_mmap_lock to serialise file truncate vs page
 * fault", so its caller was to hold it.
 */
static void unmap_mapping_range(struct address_space *mapping, unsigned long holebegin,
				unsigned long holelen, int even_cows)
{
	unsigned long first = holebegin >> PAGE_SHIFT;
	unsigned long last = holelen ? first + ((holelen + PAGE_SIZE - 1) >> PAGE_SHIFT) - 1 : ~0UL;
	bool lock = variant == LOCK || !IS_DAX(mapping->host);

	if (lock)
		i_mmap_lock_write(mapping);
	if (READ_ONCE(mapping->nr_vmas))
		unmap_mapping_range_tree(mapping, first, last);
	if (lock)
		i_mmap_unlock_write(mapping);
}

/*
 * mm/truncate.c: truncate_pagecache(). It unmaps, truncates the page cache
 * and unmaps again, as Linux does; a DAX file has no page cache pages for
 * truncate_inode_pages() to remove.
 */
static void truncate_pagecache(struct inode *inode, unsigned long newsize)
{
	struct address_space *mapping = inode->i_mapping;
	unsigned long holebegin = (newsize + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);

	unmap_mapping_range(mapping, holebegin, 0, 1);
	unmap_mapping_range(mapping, holebegin, 0, 1);
}

void secondary_main(void)
{
	pvsim_sched_point("begin", 1);
	__dax_fault(mmap_region(vma_b, 0));
	scenario_oracles.completed++;
	scenario_secondary_done();
}

/* An emptied slot of the linear map, for a vma's one page. */
static unsigned long empty_slot(void)
{
	struct page *slot = alloc_page();
	unsigned long va;

	if (!slot)
		panic("dax-unmap-range: no page");
	va = (unsigned long)page_address(slot);
	if (HYPERVISOR_update_va_mapping(va, 0, UVMF_INVLPG))
		panic("dax-unmap-range: emptying a vma's pte refused");
	return va;
}

void kernel_main(void)
{
	struct address_space *mapping = file_inode.i_mapping;
	unsigned int i;

	variant = scenario_start("dax-unmap-range", &scenario_oracles.magic, variant_names,
				 ARRAY_SIZE(variant_names));

	for (i = 0; i < NR_VMAS; i++) {
		pmem.pages[i] = alloc_page();
		if (!pmem.pages[i])
			panic("dax-unmap-range: no page");
		vmas[i].vm_start = empty_slot();
		vmas[i].vm_mapping = mapping;
	}
	pmem.alive = true;
	/* vma A, of file page 1, in i_mmap and mapped. */
	vma_a->vm_pgoff = 1;
	mapping->i_mmap[0] = vma_a;
	mapping->nr_vmas = 1;
	vma_a->linked = true;
	update_vma_pte(vma_a, pte_val(pfn_pte(page_to_pfn(pmem.pages[1]), PAGE_KERNEL)));
	printk("dax-unmap-range: variant=%s%s\n", variant_names[variant],
	       pvsim_deterministic ? " deterministic" : "");

	/* Nothing before here depends on the schedule: only vCPU 0 ran. */
	pvsim_snapshot_point();
	smp_init();
	pvsim_sched_point("begin", 0);
	/* The driver's shutdown revokes the device's pages of the file. */
	WRITE_ONCE(pmem.alive, false);
	truncate_pagecache(&file_inode, 0);
	scenario_oracles.completed++;
	scenario_wait_secondaries();

	for (i = 0; i < mapping->nr_vmas; i++) {
		pte_t pte = vma_pte(mapping->i_mmap[i]);

		if (!pte_none(pte) && !pmem.alive &&
		    (pte_page(pte) == pmem.pages[0] || pte_page(pte) == pmem.pages[1]))
			scenario_oracles.survives_unmap++;
	}
	printk("dax-unmap-range: completed=%lu survives_unmap=%lu walk_missed_vma=%lu\n",
	       scenario_oracles.completed, scenario_oracles.survives_unmap,
	       scenario_oracles.walk_missed_vma);
	xen_poweroff();
}
