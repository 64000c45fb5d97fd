/*
 * The guest side of the PV MMU: pagetable updates, pinning, the base
 * pointer and TLB flushes, each one hypercall returning 0 or a negative
 * Xen error. Frames are named by pfn and translated here.
 *
 * Before a fresh frame can become a pagetable (pinned, referenced from a
 * pagetable, or loaded), nothing may map it writable: remap its
 * linear-map alias read-only with xen_make_pages_readonly(), and back
 * with xen_make_pages_readwrite() once it is a pagetable no more.
 */
#ifndef _XEN_MMU_H
#define _XEN_MMU_H

#include <smp.h>
#include <types.h>

struct page;

/*
 * One mmu_update request: sets the pagetable entry at entry, a pointer
 * into the read-only linear-map alias of its table, to val. cmd is
 * MMU_NORMAL_PT_UPDATE or MMU_PT_UPDATE_PRESERVE_AD.
 */
int xen_mmu_update(void *entry, u64 val, unsigned int cmd);

/* mmuext_op cmd (MMUEXT_PIN_L*_TABLE or MMUEXT_UNPIN_TABLE) on frame pfn. */
int xen_pin_table(unsigned int cmd, unsigned long pfn);

/* MMUEXT_NEW_BASEPTR: run this vCPU on the L4 at pseudo-physical cr3. */
int xen_write_cr3(unsigned long cr3);

/*
 * The cr3 this vCPU runs on, as the last xen_write_cr3() or the boot set
 * it: a PV kernel cannot read %cr3 itself.
 */
static inline unsigned long xen_read_cr3(void)
{
	return this_pcpu()->xen_cr3;
}

/* MMUEXT_TLB_FLUSH_LOCAL, MMUEXT_TLB_FLUSH_ALL and MMUEXT_INVLPG_ALL. */
int xen_flush_tlb(void);
int xen_flush_tlb_all(void);
int xen_invlpg_all(unsigned long addr);

/*
 * MMUEXT_INVLPG_LOCAL, and MMUEXT_INVLPG_MULTI and MMUEXT_TLB_FLUSH_MULTI
 * on the vCPUs in *mask (bit n: vCPU n), which return once they flushed.
 */
int xen_invlpg(unsigned long addr);
int xen_invlpg_mask(unsigned long addr, const unsigned long *mask);
int xen_flush_tlb_mask(const unsigned long *mask);

/*
 * Remap the linear-map alias of each frame read-only (PAGE_KERNEL_RO) or
 * writable (PAGE_KERNEL), each with an invlpg on this vCPU: one
 * update_va_mapping per frame, XEN_MC_BATCH of them per multicall.
 * Returns 0 or the first error; the other calls of a batch still run.
 */
#define XEN_MC_BATCH	32U
int xen_make_pages_readonly(struct page **pages, unsigned int nr);
int xen_make_pages_readwrite(struct page **pages, unsigned int nr);

struct mm_struct;

/*
 * Pinning an mm's pagetables as Linux 2.6.23/24 did, in one multicall
 * batch (lib/xen_pin.c): make every frame read-only, then pin the L4;
 * unpinning undoes it in the reverse order. With xen_pin_window_us set,
 * the batch is issued between the phases, which are then that far apart.
 * A failure is a BUG.
 */
extern unsigned long xen_pin_window_us;
void xen_pgd_pin(struct mm_struct *mm);
void xen_pgd_unpin(struct mm_struct *mm);

#endif /* _XEN_MMU_H */
