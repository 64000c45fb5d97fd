/*
 * The page allocator: mem_map and one free list of single frames.
 *
 * Free frames are those after the domain builder's bootstrap structures.
 * Its start-of-day layout packs, page-aligned from frame 0: the kernel
 * image, the p2m list, start_info, the bootstrap pagetables (the L4 at
 * pt_base first, nr_pt_frames in all) and the bootstrap stack, which is
 * XEN_BOOT_STACK_PAGES long. Everything from there to nr_pages - 1 is the
 * guest's, but for the shared info page, should it be among it (Xen's is
 * not RAM); mem_map takes the first of it.
 */
#include <kernel.h>
#include <mm.h>
#include <spinlock.h>
#include <string.h>
#include <swap.h>

#define XEN_BOOT_STACK_PAGES	4

struct page *mem_map;
unsigned long max_pfn;

static LIST_HEAD(free_list);
static unsigned long nr_free;
static DEFINE_SPINLOCK(free_list_lock);

/* Free frames hold_free_pages() keeps off the free list. */
static LIST_HEAD(held_list);

void mem_init(void)
{
	unsigned long first_free, map_pages, pfn, shared_info_pfn;

	max_pfn = xen_start_info->nr_pages;
	first_free = virt_to_pfn(xen_start_info->pt_base) +
		     xen_start_info->nr_pt_frames + XEN_BOOT_STACK_PAGES;
	map_pages = PFN_UP(max_pfn * sizeof(struct page));
	if (first_free + map_pages >= max_pfn)
		panic("mem_init: no room for mem_map (%lu frames) after frame %lu of %lu",
		      map_pages, first_free, max_pfn);

	mem_map = pfn_to_virt(first_free);
	memset(mem_map, 0, map_pages * PAGE_SIZE);
	first_free += map_pages;

	/* The hypervisor's page: never free, wherever it is. */
	shared_info_pfn = xen_start_info->shared_info ?
			  PFN_DOWN(xen_start_info->shared_info) : 0;

	for (pfn = 0; pfn < first_free; pfn++)
		SetPageReserved(pfn_to_page(pfn));
	/* Highest first, so that alloc_page() hands out ascending frames. */
	for (pfn = max_pfn; pfn-- > first_free; ) {
		struct page *page = pfn_to_page(pfn);

		if (pfn == shared_info_pfn) {
			SetPageReserved(page);
			continue;
		}
		__SetPageBuddy(page);
		list_add(&page->lru, &free_list);
		nr_free++;
	}
}

static struct page *rmqueue(void)
{
	struct page *page = NULL;

	spin_lock(&free_list_lock);
	if (!list_empty(&free_list)) {
		page = list_first_entry(&free_list, struct page, lru);
		list_del(&page->lru);
		__ClearPageBuddy(page);
		nr_free--;
	}
	spin_unlock(&free_list_lock);
	return page;
}

struct page *alloc_page(void)
{
	struct page *page = rmqueue();

	if (!page && try_to_free_pages())
		page = rmqueue();
	if (page)
		memset(page_address(page), 0, PAGE_SIZE);
	return page;
}

void __free_page(struct page *page)
{
	unsigned long pfn = page_to_pfn(page);
	unsigned int level;
	pte_t *pte;

	if (pfn >= max_pfn || PageReserved(page) || PageBuddy(page))
		panic("__free_page: frame %lu is not an allocated frame", pfn);
	/* alloc_page() will clear it through the linear map. */
	pte = lookup_address((unsigned long)page_address(page), &level);
	if (!pte || !pte_present(*pte) || !pte_write(*pte))
		panic("__free_page: frame %lu is not mapped writable", pfn);

	spin_lock(&free_list_lock);
	__SetPageBuddy(page);
	list_add(&page->lru, &free_list);
	nr_free++;
	spin_unlock(&free_list_lock);
}

unsigned long get_zeroed_page(void)
{
	struct page *page = alloc_page();

	return page ? (unsigned long)page_address(page) : 0;
}

void free_page(unsigned long addr)
{
	if (addr)
		__free_page(virt_to_page(addr));
}

unsigned long nr_free_pages(void)
{
	return __atomic_load_n(&nr_free, __ATOMIC_RELAXED);
}

void hold_free_pages(unsigned long nr_left)
{
	struct page *page;

	spin_lock(&free_list_lock);
	while (nr_free > nr_left) {
		page = list_first_entry(&free_list, struct page, lru);
		list_del(&page->lru);
		list_add(&page->lru, &held_list);
		nr_free--;
	}
	spin_unlock(&free_list_lock);
}

void release_held_pages(void)
{
	struct page *page;

	spin_lock(&free_list_lock);
	while (!list_empty(&held_list)) {
		page = list_first_entry(&held_list, struct page, lru);
		list_del(&page->lru);
		list_add(&page->lru, &free_list);
		nr_free++;
	}
	spin_unlock(&free_list_lock);
}
