/*
 * Preemptible pagetable hypercalls. A region of the address space maps
 * one page of valid mmu_update requests again and again (one L3 whose 512
 * entries name one L2, whose 512 name one L1, whose 512 map the page), so
 * a batch may be as long as the ABI allows, every request valid: each
 * rewrites one linear-map entry with the value it holds.
 *
 * count=N (0 < N < 2^31) issues one mmu_update of N requests and one
 * multicall whose entry is that mmu_update, and checks that each reports
 * N done and returns 0, and a multicall of 300 xen_version entries: the
 * hypervisor does them in slices, coming back
 * to the guest between slices as Xen's continuations (the call's count
 * then carries MMU_UPDATE_PREEMPTED). Without count, it issues 2^40
 * requests, 512 calls of 2^31 - 1 (mmu_update's count is 32 bits and its
 * top bit is MMU_UPDATE_PREEMPTED): the run must end at its timeout.
 */
#include <cmdline.h>
#include <hypercall.h>
#include <kernel.h>
#include <mm.h>
#include <pgtable.h>
#include <xen/mmu.h>
#include <xen/version.h>

PVSIM_DESCRIPTION("mmu_update and multicall batches of up to 2^31 - 1 requests, done in slices as continuations");

/* L4 slot 2: nothing else maps there. */
#define REGION	0x0000010000000000UL

#define REQS_PER_PAGE	(PAGE_SIZE / sizeof(struct mmu_update))

static struct multicall_entry versions[300];

static void check(int rc, const char *what)
{
	if (rc) {
		printk("mmu-preempt: FAIL: %s (rc=%d)\n", what, rc);
		xen_crash();
	}
}

static void check_eq(const char *what, unsigned long got, unsigned long want)
{
	if (got != want) {
		printk("mmu-preempt: FAIL: %s (got %lu, want %lu)\n", what, got, want);
		xen_crash();
	}
}

static struct page *must_alloc_page(void)
{
	struct page *page = alloc_page();

	if (!page)
		check(-1, "alloc_page");
	return page;
}

/* Maps the requests page at every page of the 512 GiB from REGION. */
static void build_region(void)
{
	struct page *tables[3], *reqs = must_alloc_page();
	struct page *scratch = must_alloc_page();
	struct mmu_update *u = page_address(reqs);
	pud_t *pud;
	pmd_t *pmd;
	pte_t *pte, *target;
	unsigned int i, level;

	/* Each request rewrites scratch's linear-map entry as it is. */
	target = lookup_address((unsigned long)page_address(scratch), &level);
	for (i = 0; i < REQS_PER_PAGE; i++) {
		u[i].ptr = virt_to_machine(target).maddr | MMU_NORMAL_PT_UPDATE;
		u[i].val = pte_val(*target);
	}

	for (i = 0; i < ARRAY_SIZE(tables); i++)
		tables[i] = must_alloc_page();
	pud = page_address(tables[0]);
	pmd = page_address(tables[1]);
	pte = page_address(tables[2]);
	for (i = 0; i < PTRS_PER_PTE; i++) {
		pud_populate(pud + i, pmd);
		pmd_populate_kernel(pmd + i, pte);
		native_set_pte(pte + i, pfn_pte(page_to_pfn(reqs), PAGE_KERNEL_RO));
	}
	check(xen_make_pages_readonly(tables, ARRAY_SIZE(tables)),
	      "making the region's pagetables read-only");
	check(xen_mmu_update(pgd_offset_k(REGION),
			     PFN_PHYS(virt_to_mfn(pud)) | _PAGE_TABLE,
			     MMU_NORMAL_PT_UPDATE),
	      "mapping the region");
}

void kernel_main(void)
{
	struct mmu_update *reqs = (struct mmu_update *)REGION;
	unsigned long count = get_option_ulong("count", 0);
	struct multicall_entry mc;
	unsigned int done, i;

	build_region();
	printk("mmu-preempt: %lu requests mapped at 0x%lx\n",
	       (512UL << 30) / sizeof(*reqs), REGION);

	if (count) {
		done = 0;
		check(HYPERVISOR_mmu_update(reqs, count, &done, DOMID_SELF),
		      "mmu_update");
		check_eq("mmu_update's done count", done, count);
		done = 0;
		MULTI_mmu_update(&mc, reqs, count, &done, DOMID_SELF);
		check(HYPERVISOR_multicall(&mc, 1), "multicall");
		check(mc.result, "the multicall's mmu_update");
		check_eq("the multicall's mmu_update's done count", done, count);
		/* A multicall longer than a slice of entries that use no executor. */
		for (i = 0; i < ARRAY_SIZE(versions); i++) {
			versions[i].op = __HYPERVISOR_xen_version;
			versions[i].args[0] = XENVER_version;
			versions[i].result = -1UL;
		}
		check(HYPERVISOR_multicall(versions, ARRAY_SIZE(versions)), "multicall of xen_version");
		for (i = 0; i < ARRAY_SIZE(versions); i++)
			check_eq("a xen_version entry's result", versions[i].result, versions[0].result);
		check_eq("xen_version's major", versions[0].result >> 16, 4);
		printk("mmu-preempt: ok\n");
		xen_poweroff();
	}

	printk("mmu-preempt: 2^40 requests, 512 calls of 2^31 - 1\n");
	for (i = 0; i < 512; i++)
		check(HYPERVISOR_mmu_update(reqs, 0x7fffffff, &done, DOMID_SELF),
		      "mmu_update");
	printk("mmu-preempt: all 2^40 done\n");
	xen_poweroff();
}
