/*
 * DAX: colliding PMD and PTE faults on a private mapping, as Linux 4.11
 * had them (mm/memory.c, mm/huge_memory.c, fs/dax.c), the races of Ross
 * Zwisler's "dax: Fix race between colliding PMD & PTE entries" (May
 * 2017). Reads of a private DAX mapping may be served with a PMD; writes
 * always fall back to PTEs, to COW. The fault handlers of mm/memory.c
 * check the pmd before the DAX handler takes its radix tree entry lock,
 * so another fault may change the pmd in between:
 *
 *   race=1   CPU 0 writes: create_huge_pmd() falls back, handle_pte_fault()
 *            finds the pmd fit for ptes; CPU 1 reads: dax_iomap_pmd_fault()
 *            inserts a PMD; CPU 0's dax_iomap_pte_fault() then installs a
 *            pte where a DAX PMD is: into the huge page itself
 *   race=2   CPU 0 reads (a PMD), then writes: the PMD is split and
 *            dax_iomap_pte_fault() installs a pte table and a pte; CPU 1
 *            reads, having found the pmd none: dax_iomap_pmd_fault()
 *            inserts a PMD over the pte table, which is orphaned
 *
 * variant= picks the code:
 *   4.11    as reported
 *   fixed   the commit: each DAX handler rechecks the pmd once it holds
 *           the entry lock (dax_iomap_pte_fault: a huge or devmap pmd is
 *           VM_FAULT_NOPAGE; dax_iomap_pmd_fault: a pmd neither none nor
 *           huge is VM_FAULT_FALLBACK)
 *
 * How the pmd is modelled. pvsim refuses superpages (PSE in an L2 entry),
 * as Xen does for PV guests since superpage support was removed (XSA-148
 * and XSA-167 were its validation holes). A DAX PMD here is what Linux
 * writes without the PSE bit: an L2 entry, with Linux's _PAGE_DEVMAP, that
 * points at the first frame of the 2 MiB extent. The PV MMU validates that
 * frame as an L1 table, which zeroed pmem is; loads through the huge
 * mapping are not modelled, and no fault needs one. A pte written where a
 * DAX PMD is thus lands in the file's data, as it does in Linux.
 *
 * Every pmd and pte write is an mmu_update of the pagetable through the
 * PV MMU (set_pmd_at, pmd_populate, set_pte_at); pte tables are made
 * read-only before they are hooked in, as Linux's xen_alloc_pte does.
 * The write's COW copy is a fresh page whose pte is installed as
 * insert_pfn() installs one (get_locked_pte(): a pte table allocated only
 * if the pmd is none).
 *
 * A fault is retried, as the access would be, until the access it serves
 * is mapped; each vCPU's access is made at most MAX_TRIES times.
 *
 * Oracles (struct scenario_oracles, the scenario protocol):
 *   pte_in_huge_page    a pte was written into a page mapped huge (the
 *                       pmem data under the PMD is no longer zero)
 *   orphaned_pte_table  a pte table the mm counts (nr_ptes) that no pmd
 *                       points at ("BUG: non-zero nr_ptes on freeing mm")
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

PVSIM_DESCRIPTION("DAX PMD and PTE faults colliding on a private mapping (Linux 4.11); variant=4.11|fixed race=1|2");

/* The scenario protocol's counters, read by member name (package scenario). */
struct scenario_oracles {
	unsigned long magic;
	unsigned long completed;
	unsigned long pte_in_huge_page;
	unsigned long orphaned_pte_table;
};
struct scenario_oracles scenario_oracles;

enum variant { V4_11, FIXED };
static const char *const variant_names[] = { "4.11", "fixed" };
static enum variant variant;
static unsigned long race;

#define _PAGE_DEVMAP		(1UL << 58)	/* _PAGE_BIT_SOFTW4, as Linux's */
#define MAX_TRIES		4

#define VM_FAULT_NOPAGE		0x0100
#define VM_FAULT_FALLBACK	0x0800

/* The radix tree entry of the extent's index 0 (fs/dax.c). */
enum dax_entry { DAX_EMPTY, DAX_EMPTY_PMD, DAX_PTE, DAX_PMD };

static unsigned long haddr;		/* the mapping: one 2 MiB extent */
static pmd_t *pmd;			/* vmf->pmd */
static struct page *pmem;		/* the extent's first frame */
static spinlock_t page_table_lock;	/* pmd_lock() */
static atomic_t nr_ptes = ATOMIC_INIT(0);
static struct {
	spinlock_t lock;		/* the entry lock */
	enum dax_entry entry;
} radix;

static bool pmd_devmap(pmd_t pmd)
{
	return pmd_val(pmd) & _PAGE_DEVMAP;
}

static bool pmd_trans_huge(pmd_t pmd)
{
	return (pmd_val(pmd) & (_PAGE_PSE | _PAGE_DEVMAP)) == _PAGE_PSE;
}

static void set_pmd_at(pmd_t val)
{
	if (xen_mmu_update(pmd, pmd_val(val), MMU_NORMAL_PT_UPDATE))
		panic("dax-pmd-pte: set_pmd_at(%#lx) refused", pmd_val(val));
}

static void set_pte_at(pte_t *ptep, pte_t pte)
{
	if (xen_mmu_update(ptep, pte_val(pte), MMU_NORMAL_PT_UPDATE))
		panic("dax-pmd-pte: set_pte_at(%#lx) refused", pte_val(pte));
}

/* pte_offset_map(): whatever the pmd points at, read as a pte table. */
static pte_t *pte_offset_map(void)
{
	return pte_offset_kernel(pmd, haddr);
}

/* __pte_alloc(): a read-only pte table, hooked in if the pmd is still none. */
static int __pte_alloc(void)
{
	struct page *new = alloc_page();

	if (!new)
		return -1;
	memset(page_address(new), 0, PAGE_SIZE);
	spin_lock_init(&new->ptl);
	if (xen_make_pages_readonly(&new, 1))		/* xen_alloc_pte() */
		panic("dax-pmd-pte: making a pte table read-only refused");
	spin_lock(&page_table_lock);
	if (pmd_none(*pmd)) {
		atomic_inc(&nr_ptes);
		set_pmd_at(__pmd(PFN_PHYS(page_to_pfn(new)) | _PAGE_TABLE));	/* pmd_populate() */
		new = NULL;
	}
	spin_unlock(&page_table_lock);
	if (new) {
		xen_make_pages_readwrite(&new, 1);
		__free_page(new);
	}
	return 0;
}

/* mm/memory.c: insert_pfn() through get_locked_pte(). */
static int insert_pfn(struct page *page, pgprot_t prot)
{
	spinlock_t *ptl;
	pte_t *pte;

	if (pmd_none(*pmd) && __pte_alloc())
		panic("dax-pmd-pte: no pte table");
	pte = pte_offset_map();
	ptl = pte_lockptr(NULL, pmd);
	spin_lock(ptl);
	if (pte_none(*pte))
		set_pte_at(pte, pfn_pte(page_to_pfn(page), prot));
	spin_unlock(ptl);
	return VM_FAULT_NOPAGE;
}

/* fs/dax.c: grab_mapping_entry(); -1 for a PMD when a PTE entry is there. */
static int grab_mapping_entry(bool pmd_entry)
{
	spin_lock(&radix.lock);
	if (pmd_entry) {
		if (radix.entry == DAX_PTE) {
			spin_unlock(&radix.lock);
			return -1;			/* -EEXIST */
		}
		if (radix.entry == DAX_EMPTY)
			radix.entry = DAX_EMPTY_PMD;
	} else if (radix.entry == DAX_EMPTY || radix.entry == DAX_EMPTY_PMD) {
		radix.entry = DAX_PTE;			/* pmd_downgrade */
	}
	return 0;
}

static void put_locked_mapping_entry(void)
{
	spin_unlock(&radix.lock);
}

/* fs/dax.c: dax_iomap_pte_fault(). */
static int dax_iomap_pte_fault(bool write)
{
	struct page *cow_page = NULL;
	int ret;

	if (write) {
		cow_page = alloc_page();
		if (!cow_page)
			panic("dax-pmd-pte: no page to COW into");
		memset(page_address(cow_page), 0, PAGE_SIZE);	/* copy_user_dax() */
	}
	grab_mapping_entry(false);
	if (variant == FIXED && (pmd_trans_huge(*pmd) || pmd_devmap(*pmd))) {
		put_locked_mapping_entry();
		if (cow_page)
			__free_page(cow_page);
		return VM_FAULT_NOPAGE;
	}
	pvsim_sched_point("dax_iomap_pte_fault", write);
	if (write)
		ret = insert_pfn(cow_page, PAGE_KERNEL);
	else
		ret = insert_pfn(pmem, PAGE_KERNEL_RO);
	put_locked_mapping_entry();
	return ret;
}

/* fs/dax.c: dax_iomap_pmd_fault(). */
static int dax_iomap_pmd_fault(bool write)
{
	if (write)
		return VM_FAULT_FALLBACK;	/* a private mapping: COW with ptes */
	if (grab_mapping_entry(true))
		return VM_FAULT_FALLBACK;
	if (variant == FIXED && !pmd_none(*pmd) && !pmd_trans_huge(*pmd) &&
	    !pmd_devmap(*pmd)) {
		put_locked_mapping_entry();
		return VM_FAULT_FALLBACK;
	}
	pvsim_sched_point("dax_iomap_pmd_fault", 0);
	spin_lock(&page_table_lock);		/* vmf_insert_pfn_pmd() -> insert_pfn_pmd() */
	set_pmd_at(__pmd(PFN_PHYS(page_to_pfn(pmem)) | _PAGE_TABLE | _PAGE_DEVMAP));
	spin_unlock(&page_table_lock);
	radix.entry = DAX_PMD;
	put_locked_mapping_entry();
	return VM_FAULT_NOPAGE;
}

static int create_huge_pmd(bool write)
{
	pvsim_sched_point("create_huge_pmd", write);
	return dax_iomap_pmd_fault(write);
}

/* mm/huge_memory.c: __split_huge_pmd() of a DAX pmd: it is zapped. */
static void __split_huge_pmd(void)
{
	spin_lock(&page_table_lock);
	if (pmd_devmap(*pmd)) {
		set_pmd_at(__pmd(0));		/* pmdp_huge_clear_flush_notify() */
		xen_flush_tlb_all();
	}
	spin_unlock(&page_table_lock);
}

static int wp_huge_pmd(void)
{
	int ret;

	pvsim_sched_point("wp_huge_pmd", 1);
	ret = dax_iomap_pmd_fault(true);
	if (ret & VM_FAULT_FALLBACK)
		__split_huge_pmd();
	return ret;
}

/* mm/memory.c: handle_pte_fault(). */
static int handle_pte_fault(bool write)
{
	pte_t *pte = NULL;

	if (!pmd_none(*pmd)) {
		if (pmd_devmap(*pmd) || pmd_trans_huge(*pmd))
			return 0;
		pte = pte_offset_map();
	}
	pvsim_sched_point("handle_pte_fault", write);
	if (!pte || pte_none(*pte))
		return dax_iomap_pte_fault(write);	/* do_fault() */
	return 0;
}

/* mm/memory.c: __handle_mm_fault(). */
static int __handle_mm_fault(bool write)
{
	pmd_t orig_pmd = READ_ONCE(*pmd);
	int ret;

	pvsim_sched_point("__handle_mm_fault", write);
	if (pmd_none(orig_pmd)) {
		ret = create_huge_pmd(write);
		if (!(ret & VM_FAULT_FALLBACK))
			return ret;
	} else if (pmd_trans_huge(orig_pmd) || pmd_devmap(orig_pmd)) {
		if (!write)
			return 0;
		ret = wp_huge_pmd();
		if (!(ret & VM_FAULT_FALLBACK))
			return ret;
	}
	return handle_pte_fault(write);
}

/* Whether the access is mapped: a read by a PMD or a pte, a write by a writable pte. */
static bool access_mapped(bool write)
{
	pmd_t val = READ_ONCE(*pmd);
	pte_t pte;

	if (pmd_none(val))
		return false;
	if (pmd_devmap(val))
		return !write;
	pte = *pte_offset_map();
	return pte_present(pte) && (!write || pte_write(pte));
}

/* An access to the mapping's first page, faulting until it is mapped. */
static void access(bool write)
{
	int tries;

	for (tries = 0; !access_mapped(write); tries++) {
		if (tries == MAX_TRIES)
			panic("dax-pmd-pte: a %s fault made no progress in %d tries",
			      write ? "write" : "read", MAX_TRIES);
		__handle_mm_fault(write);
	}
}

void secondary_main(void)
{
	pvsim_sched_point("begin", 1);
	access(false);
	scenario_oracles.completed++;
	scenario_secondary_done();
}

/* The pmd of address in the boot pagetables, which must be none. */
static pmd_t *find_free_pmd(unsigned long address)
{
	pgd_t *pgd = pgd_offset_k(address);
	pud_t *pud;

	if (!pgd_present(*pgd))
		return NULL;
	pud = pud_offset(pgd, address);
	if (!pud_present(*pud))
		return NULL;
	return pmd_offset(pud, address);
}

void kernel_main(void)
{
	unsigned long tables;

	variant = scenario_start("dax-pmd-pte", &scenario_oracles.magic, variant_names,
				 ARRAY_SIZE(variant_names));
	race = get_option_ulong("race", 1);
	if (race != 1 && race != 2)
		panic("dax-pmd-pte: race=%lu: want 1 or 2", race);

	/* The extent: 2 MiB of kernel address space past the linear map. */
	haddr = ((unsigned long)pfn_to_virt(max_pfn) + 2 * PMD_SIZE - 1) & ~(PMD_SIZE - 1);
	pmd = find_free_pmd(haddr);
	if (!pmd || !pmd_none(*pmd))
		panic("dax-pmd-pte: no free pmd at %#lx", haddr);
	/* Its first frame of pmem, zeroed, read-only as a table may be. */
	pmem = alloc_page();
	if (!pmem)
		panic("dax-pmd-pte: no pmem");
	memset(page_address(pmem), 0, PAGE_SIZE);
	if (xen_make_pages_readonly(&pmem, 1))
		panic("dax-pmd-pte: making pmem read-only refused");
	spin_lock_init(&pmem->ptl);
	printk("dax-pmd-pte: variant=%s race=%lu%s\n", variant_names[variant], race,
	       pvsim_deterministic ? " deterministic" : "");

	/* Nothing before here depends on the schedule: only vCPU 0 ran. */
	pvsim_snapshot_point();
	smp_init();
	pvsim_sched_point("begin", 0);
	if (race == 2)
		access(false);
	access(true);
	scenario_oracles.completed++;
	scenario_wait_secondaries();

	if (*(u64 *)page_address(pmem))
		scenario_oracles.pte_in_huge_page++;
	tables = pmd_present(*pmd) && !pmd_devmap(*pmd);
	if ((unsigned long)atomic_read(&nr_ptes) > tables)
		scenario_oracles.orphaned_pte_table++;
	printk("dax-pmd-pte: completed=%lu pmd=%#lx nr_ptes=%d pte_in_huge_page=%lu orphaned_pte_table=%lu\n",
	       scenario_oracles.completed, pmd_val(*pmd), atomic_read(&nr_ptes),
	       scenario_oracles.pte_in_huge_page, scenario_oracles.orphaned_pte_table);
	xen_poweroff();
}
