/*
 * DAX: write(2) against a read fault on a hole, as Linux 4.11 had them
 * (fs/dax.c, mm/truncate.c, April 2017), the race of Jan Kara's "dax: fix
 * data corruption when fault races with write":
 *
 *   CPU1 - write(2)                    CPU2 - read fault
 *                                      dax_iomap_pte_fault()
 *                                        ->iomap_begin() - sees hole
 *   dax_iomap_rw()
 *     iomap_apply()
 *       ->iomap_begin - allocates blocks
 *       dax_iomap_actor()
 *         invalidate_inode_pages2_range()
 *         - there's nothing to invalidate
 *                                        grab_mapping_entry()
 *                                        - we add zero page in the radix
 *                                          tree and map it to page tables
 *
 * mmap then reads zeros where write(2) returned data. vCPU 0 writes page 0
 * of a DAX file whose block is a hole (dax_iomap_rw); vCPU 1 takes a read
 * fault on page 0 of a shared mapping of it (dax_iomap_pte_fault). The
 * file's other page, 1, is a hole whose zero page is in the page cache
 * from an earlier read, so the write's invalidation runs, as in the
 * diagram (cached=0 leaves it out). The fault's pte is the L1 entry of one address, written with
 * update_va_mapping through the PV MMU; the final read through the
 * mapping is a load through it.
 *
 * variant= picks the code:
 *   4.11         the race as reported
 *   entry-lock   Jan Kara's half of the fix: the fault takes the entry lock
 *                (grab_mapping_entry) before ->iomap_begin, so a racing
 *                write's invalidation waits for it
 *   unmap-range  Ross Zwisler's half ("dax: fix data corruption due to
 *                stale mmap reads"): dax_iomap_actor invalidates every new
 *                allocation, and invalidate_inode_pages2_range unmaps the
 *                whole range after invalidating
 *   fixed        both, as 4.12 has them; no violation expected
 *
 * Oracle (struct scenario_oracles, the scenario protocol):
 *   mmap_read_differs  after both returned, a read through the mapping
 *                      (the mapped page, or what a new fault maps) differs
 *                      from what read(2) returns
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

PVSIM_DESCRIPTION("DAX write(2) against a read fault on a hole (Linux 4.11); variant=4.11|entry-lock|unmap-range|fixed cached=1|0");

/* The scenario protocol's counters, read by member name (package scenario). */
struct scenario_oracles {
	unsigned long magic;
	unsigned long completed;
	unsigned long mmap_read_differs;
};
struct scenario_oracles scenario_oracles;

enum variant { V4_11, ENTRY_LOCK, UNMAP_RANGE, FIXED };
static const char *const variant_names[] = {
	"4.11", "entry-lock", "unmap-range", "fixed",
};
static enum variant variant;

static bool grab_before_iomap_begin(void)
{
	return variant == ENTRY_LOCK || variant == FIXED;
}

static bool invalidate_unmaps_range(void)
{
	return variant == UNMAP_RANGE || variant == FIXED;
}

#define FILE_PAGES	2
#define WRITTEN		0x5a		/* the byte write(2) writes */

/* struct iomap, as ->iomap_begin fills it in for one block. */
#define IOMAP_HOLE	0x01
#define IOMAP_MAPPED	0x03
#define IOMAP_F_NEW	0x01
struct iomap {
	unsigned int type;
	unsigned int flags;
	struct page *block;		/* the pmem block, if mapped */
};

/* The file: its blocks, its page cache (hole pages), its entry locks. */
static struct {
	struct page *blocks[FILE_PAGES];	/* NULL: a hole */
	spinlock_t i_data_sem;			/* ext4's block map lock */
	struct page *page_cache[FILE_PAGES];	/* mapping's radix tree */
	unsigned long nrpages;
	spinlock_t tree_lock;
	/*
	 * The radix tree entry's lock (lock_slot(), and the page lock of a
	 * hole page, which the model does not tell apart from it).
	 */
	spinlock_t entry_lock[FILE_PAGES];
} inode;

static unsigned long vaddr;			/* the mapping of page 0 */

static pte_t *dax_pte(void)
{
	unsigned int level;

	return lookup_address(vaddr, &level);
}

static void set_pte(struct page *page)
{
	pteval_t val = page ? pte_val(pfn_pte(page_to_pfn(page), PAGE_KERNEL_RO)) : 0;

	if (HYPERVISOR_update_va_mapping(vaddr, val, UVMF_INVLPG))
		panic("dax-write-fault: update_va_mapping refused");
}

/* ext4_iomap_begin(): the block of index, allocated for a write. */
static void ext4_iomap_begin(unsigned long index, bool write, struct iomap *iomap)
{
	struct page *block;

	pvsim_sched_point("->iomap_begin", index);
	spin_lock(&inode.i_data_sem);
	block = inode.blocks[index];
	iomap->flags = 0;
	if (!block && write) {
		block = alloc_page();		/* ext4_map_blocks(CREATE) */
		if (!block)
			panic("dax-write-fault: no block");
		memset(page_address(block), 0, PAGE_SIZE);
		inode.blocks[index] = block;
		iomap->flags = IOMAP_F_NEW;
	}
	spin_unlock(&inode.i_data_sem);
	iomap->type = block ? IOMAP_MAPPED : IOMAP_HOLE;
	iomap->block = block;
}

/* grab_mapping_entry(): the entry of index, locked. */
static void grab_mapping_entry(unsigned long index)
{
	pvsim_sched_point("grab_mapping_entry", index);
	spin_lock(&inode.entry_lock[index]);
}

static void put_locked_mapping_entry(unsigned long index)
{
	spin_unlock(&inode.entry_lock[index]);
}

/* find_or_create_page(): the hole page of index in the page cache. */
static struct page *find_or_create_page(unsigned long index)
{
	struct page *page;

	spin_lock(&inode.tree_lock);
	page = inode.page_cache[index];
	if (!page) {
		page = alloc_page();
		if (!page)
			panic("dax-write-fault: no page");
		memset(page_address(page), 0, PAGE_SIZE);
		inode.page_cache[index] = page;
		inode.nrpages++;
	}
	spin_unlock(&inode.tree_lock);
	return page;
}

/* fs/dax.c: dax_iomap_pte_fault() for a read fault on index 0. */
static int dax_iomap_pte_fault(unsigned long index)
{
	struct iomap iomap;

	pvsim_sched_point("dax_iomap_pte_fault", index);
	if (grab_before_iomap_begin())
		grab_mapping_entry(index);
	ext4_iomap_begin(index, false, &iomap);
	if (!grab_before_iomap_begin())
		grab_mapping_entry(index);
	switch (iomap.type) {
	case IOMAP_MAPPED:
		pvsim_sched_point("dax_insert_mapping", index);
		set_pte(iomap.block);
		break;
	case IOMAP_HOLE:
		pvsim_sched_point("dax_load_hole", index);
		set_pte(find_or_create_page(index));
		break;
	}
	put_locked_mapping_entry(index);
	return 0;
}

/* unmap_mapping_range() of [start, start + nr): the one mapping's pte. */
static void unmap_mapping_range(unsigned long start, unsigned long nr)
{
	if (start == 0 && nr > 0 && !pte_none(*dax_pte()))
		set_pte(NULL);
}

/*
 * mm/truncate.c: invalidate_inode_pages2_range() over [start, end]: each
 * page of the page cache unmapped and removed, under its lock.
 */
static void invalidate_inode_pages2_range(unsigned long start, unsigned long end)
{
	unsigned long index;
	struct page *page;

	for (index = start; index <= end; index++) {
		pvsim_sched_point("invalidate_inode_pages2_range", index);
		spin_lock(&inode.entry_lock[index]);	/* lock_page() */
		page = READ_ONCE(inode.page_cache[index]);
		if (page) {
			unmap_mapping_range(index, 1);
			spin_lock(&inode.tree_lock);	/* invalidate_complete_page2() */
			inode.page_cache[index] = NULL;
			inode.nrpages--;
			spin_unlock(&inode.tree_lock);
		}
		spin_unlock(&inode.entry_lock[index]);
	}
	if (invalidate_unmaps_range())
		unmap_mapping_range(start, end - start + 1);
}

/* fs/dax.c: dax_iomap_actor() writing one block. */
static void dax_iomap_actor(unsigned long index, struct iomap *iomap)
{
	/*
	 * A new block may be under a hole page mapped into page tables:
	 * tear it down so that the data is seen through mmap.
	 */
	if ((iomap->flags & IOMAP_F_NEW) &&
	    (invalidate_unmaps_range() || READ_ONCE(inode.nrpages)))
		invalidate_inode_pages2_range(index, index);
	pvsim_sched_point("dax_iomap_actor", index);
	memset(page_address(iomap->block), WRITTEN, PAGE_SIZE);	/* dax_copy_from_iter() */
}

/* fs/dax.c: dax_iomap_rw() of one page at index, through iomap_apply(). */
static void dax_iomap_rw(unsigned long index)
{
	struct iomap iomap;

	pvsim_sched_point("dax_iomap_rw", index);
	ext4_iomap_begin(index, true, &iomap);
	dax_iomap_actor(index, &iomap);
}

void secondary_main(void)
{
	pvsim_sched_point("begin", 1);
	dax_iomap_pte_fault(0);
	scenario_oracles.completed++;
	scenario_secondary_done();
}

void kernel_main(void)
{
	unsigned char via_mmap, via_read;
	struct page *slot;

	variant = scenario_start("dax-write-fault", &scenario_oracles.magic, variant_names,
				 ARRAY_SIZE(variant_names));

	/* The mapping's address: a page's slot in the linear map, emptied. */
	slot = alloc_page();
	vaddr = (unsigned long)page_address(slot);
	set_pte(NULL);
	/* Page 1 was read through the mapping once: its hole page is cached. */
	if (get_option_ulong("cached", 1))
		find_or_create_page(1);
	printk("dax-write-fault: variant=%s%s\n", variant_names[variant],
	       pvsim_deterministic ? " deterministic" : "");

	/* Nothing before here depends on the schedule: only vCPU 0 ran. */
	pvsim_snapshot_point();
	smp_init();
	pvsim_sched_point("begin", 0);
	dax_iomap_rw(0);
	scenario_oracles.completed++;
	scenario_wait_secondaries();

	/* read(2): the block's data, zeros for a hole. */
	via_read = inode.blocks[0] ? *(unsigned char *)page_address(inode.blocks[0]) : 0;
	/* The mapping: a load through its pte, or what a new fault maps. */
	if (!pte_none(*dax_pte()))
		via_mmap = READ_ONCE(*(unsigned char *)vaddr);
	else
		via_mmap = via_read;
	if (via_mmap != via_read)
		scenario_oracles.mmap_read_differs++;
	printk("dax-write-fault: completed=%lu read(2)=%#x mmap=%#x mmap_read_differs=%lu\n",
	       scenario_oracles.completed, via_read, via_mmap,
	       scenario_oracles.mmap_read_differs);
	xen_poweroff();
}
