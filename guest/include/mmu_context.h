/* Loading an mm on a vCPU, and the Xen hooks of fork and exit. */
#ifndef _MMU_CONTEXT_H
#define _MMU_CONTEXT_H

#include <bitops.h>
#include <kernel.h>
#include <mm_types.h>
#include <smp.h>
#include <xen/mmu.h>

/*
 * Runs this vCPU on next instead of prev. Its bit in next's cpu_vm_mask
 * is set before the load (set_bit() is a locked instruction: a full
 * barrier), so that whoever changes next's ptes from then on flushes this
 * vCPU; it leaves prev's mask only after the load, once it can no longer
 * use prev's TLB entries. switch_seq counts the loads.
 */
static inline void switch_mm(struct mm_struct *prev, struct mm_struct *next)
{
	unsigned int cpu = smp_processor_id();
	int rc;

	if (prev == next)
		return;
	set_bit(cpu, &next->cpu_vm_mask);
	__atomic_fetch_add(&next->switch_seq, 1, __ATOMIC_SEQ_CST);
	rc = xen_write_cr3(__pa(next->pgd));
	if (rc) {
		printk("switch_mm: MMUEXT_NEW_BASEPTR to mm %u failed: %d\n",
		       next->id, rc);
		xen_crash();
	}
	clear_bit(cpu, &prev->cpu_vm_mask);
}

/* Xen pins a child's pagetables at the end of fork... */
void arch_dup_mmap(struct mm_struct *oldmm, struct mm_struct *mm);
/* ...and unpins them first thing at exit. */
void arch_exit_mmap(struct mm_struct *mm);

#endif /* _MMU_CONTEXT_H */
