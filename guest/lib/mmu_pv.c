/*
 * The guest side of the PV MMU: the p2m list, and one function per
 * pagetable hypercall the kernels make (xen/mmu.h).
 */
#include <hypercall.h>
#include <kernel.h>
#include <mm.h>
#include <pgtable.h>
#include <smp.h>
#include <xen/mmu.h>
#include <xen/page.h>

unsigned long *xen_p2m_addr;
unsigned long xen_p2m_size;

void paging_init(void)
{
	xen_p2m_addr = (unsigned long *)xen_start_info->mfn_list;
	xen_p2m_size = xen_start_info->nr_pages;
	swapper_pg_dir = (pgd_t *)xen_start_info->pt_base;
	this_pcpu()->xen_cr3 = __pa(swapper_pg_dir);
}

int xen_mmu_update(void *entry, u64 val, unsigned int cmd)
{
	struct mmu_update u = {
		.ptr = virt_to_machine(entry).maddr | cmd,
		.val = val,
	};
	unsigned int done;

	return HYPERVISOR_mmu_update(&u, 1, &done, DOMID_SELF);
}

static int mmuext_op(struct mmuext_op *op)
{
	unsigned int done;

	return HYPERVISOR_mmuext_op(op, 1, &done, DOMID_SELF);
}

int xen_pin_table(unsigned int cmd, unsigned long pfn)
{
	struct mmuext_op op = {
		.cmd = cmd,
		.arg1.mfn = pfn_to_mfn(pfn),
	};

	return mmuext_op(&op);
}

int xen_write_cr3(unsigned long cr3)
{
	struct mmuext_op op = {
		.cmd = MMUEXT_NEW_BASEPTR,
		.arg1.mfn = pfn_to_mfn(PFN_DOWN(cr3)),
	};
	int rc;

	rc = mmuext_op(&op);
	if (!rc)
		this_pcpu()->xen_cr3 = cr3;
	return rc;
}

int xen_flush_tlb(void)
{
	struct mmuext_op op = { .cmd = MMUEXT_TLB_FLUSH_LOCAL };

	return mmuext_op(&op);
}

int xen_flush_tlb_all(void)
{
	struct mmuext_op op = { .cmd = MMUEXT_TLB_FLUSH_ALL };

	return mmuext_op(&op);
}

int xen_invlpg_all(unsigned long addr)
{
	struct mmuext_op op = {
		.cmd = MMUEXT_INVLPG_ALL,
		.arg1.linear_addr = addr,
	};

	return mmuext_op(&op);
}

int xen_invlpg(unsigned long addr)
{
	struct mmuext_op op = {
		.cmd = MMUEXT_INVLPG_LOCAL,
		.arg1.linear_addr = addr,
	};

	return mmuext_op(&op);
}

int xen_invlpg_mask(unsigned long addr, const unsigned long *mask)
{
	struct mmuext_op op = {
		.cmd = MMUEXT_INVLPG_MULTI,
		.arg1.linear_addr = addr,
		.arg2.vcpumask = mask,
	};

	return mmuext_op(&op);
}

int xen_flush_tlb_mask(const unsigned long *mask)
{
	struct mmuext_op op = {
		.cmd = MMUEXT_TLB_FLUSH_MULTI,
		.arg2.vcpumask = mask,
	};

	return mmuext_op(&op);
}

static int xen_remap_pages(struct page **pages, unsigned int nr, pgprot_t prot)
{
	struct multicall_entry mc[XEN_MC_BATCH];
	unsigned int i, n;
	int rc;

	for (; nr; pages += n, nr -= n) {
		n = min(nr, XEN_MC_BATCH);
		for (i = 0; i < n; i++) {
			unsigned long pfn = page_to_pfn(pages[i]);

			MULTI_update_va_mapping(&mc[i],
						(unsigned long)pfn_to_virt(pfn),
						pte_val(pfn_pte(pfn, prot)),
						UVMF_INVLPG | UVMF_LOCAL);
		}
		rc = HYPERVISOR_multicall(mc, n);
		if (rc)
			return rc;
		for (i = 0; i < n; i++) {
			/* A call's int result, widened to xen_ulong_t. */
			rc = (int)mc[i].result;
			if (rc)
				return rc;
		}
	}
	return 0;
}

int xen_make_pages_readonly(struct page **pages, unsigned int nr)
{
	return xen_remap_pages(pages, nr, PAGE_KERNEL_RO);
}

int xen_make_pages_readwrite(struct page **pages, unsigned int nr)
{
	return xen_remap_pages(pages, nr, PAGE_KERNEL);
}
