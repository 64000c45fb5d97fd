/*
 * A locked write to a read-only frame that is not a pagetable. The
 * kernel remaps a data page read-only, as if it were one, and runs
 * ptep_test_and_clear_young() on its first word, which has the accessed
 * bit set. The hypervisor finds no pagetable to emulate the lock btr on,
 * so it bounces the #PF to the guest, which has no fixup for it: the
 * kernel oopses in ptep_test_and_clear_young and the domain crashes.
 */
#include <hypercall.h>
#include <kernel.h>
#include <mm.h>
#include <pgtable.h>

PVSIM_DESCRIPTION("lock btr on a read-only data page: the #PF is bounced and the kernel oopses in ptep_test_and_clear_young");

void kernel_main(void)
{
	struct page *page = alloc_page();
	unsigned long pfn, addr;
	pte_t *fake;
	int rc;

	if (!page)
		panic("ptwr-oops: out of memory");
	pfn = page_to_pfn(page);
	addr = (unsigned long)page_address(page);
	fake = (pte_t *)addr;

	/* While it is still writable: so that the lock btr path is taken. */
	native_set_pte(fake, __pte(_PAGE_ACCESSED));
	rc = HYPERVISOR_update_va_mapping(addr, pte_val(pfn_pte(pfn, PAGE_KERNEL_RO)),
					  UVMF_INVLPG);
	if (rc)
		panic("ptwr-oops: update_va_mapping making frame %lu read-only failed: %d",
		      pfn, rc);

	printk("ptwr-oops: ptep_test_and_clear_young on read-only data page 0x%lx\n",
	       addr);
	ptep_test_and_clear_young(NULL, addr, fake);
	printk("ptwr-oops: ERROR: the write to a read-only data page did not fault\n");
	xen_crash();
}
