/*
 * Pseudo-physical to machine translation for a PV guest. Pagetable
 * entries and hypercalls name machine frames (mfns); the kernel thinks in
 * its own contiguous pseudo-physical frames (pfns). The domain builder
 * hands over the p2m list, one mfn per pfn, at start_info->mfn_list.
 */
#ifndef _XEN_PAGE_H
#define _XEN_PAGE_H

#include <kernel.h>
#include <page.h>
#include <types.h>

/* The p2m list and its length; set by paging_init(). */
extern unsigned long *xen_p2m_addr;
extern unsigned long xen_p2m_size;

/* A machine address, kept apart from pseudo-physical ones by its type. */
typedef struct {
	u64 maddr;
} xmaddr_t;

static inline unsigned long pfn_to_mfn(unsigned long pfn)
{
	BUG_ON(pfn >= xen_p2m_size);
	return xen_p2m_addr[pfn];
}

/*
 * A Xen guest reads the hypervisor's machine-to-phys table for this.
 * pvsim provides none, but its p2m is the identity, so the inverse is
 * checked rather than looked up.
 */
static inline unsigned long mfn_to_pfn(unsigned long mfn)
{
	BUG_ON(mfn >= xen_p2m_size || xen_p2m_addr[mfn] != mfn);
	return mfn;
}

static inline unsigned long virt_to_mfn(const void *v)
{
	return pfn_to_mfn(virt_to_pfn(v));
}

/* Machine address of the byte at v in the kernel's linear map. */
static inline xmaddr_t virt_to_machine(const void *v)
{
	return (xmaddr_t){ PFN_PHYS(virt_to_mfn(v)) | offset_in_page(v) };
}

#endif /* _XEN_PAGE_H */
