/*
 * Guest memory layout. Pseudo-physical frame N is mapped at
 * __START_KERNEL_map + N * PAGE_SIZE, and the kernel image starts at frame 0,
 * so converting between virtual and pseudo-physical addresses is one
 * subtraction. kernel.lds uses the same base.
 *
 * Usable from assembly as well as C.
 */
#ifndef _PAGE_H
#define _PAGE_H

#define PAGE_SHIFT		12
#define PAGE_SIZE		(1 << PAGE_SHIFT)
#define PAGE_MASK		(~(PAGE_SIZE - 1))

/* Size of each vCPU's kernel stack. */
#define THREAD_SIZE		(4 * PAGE_SIZE)

#define __START_KERNEL_map	0xffffffff80000000

#ifndef __ASSEMBLER__
#define __pa(va)		((unsigned long)(va) - __START_KERNEL_map)
#define __va(pa)		((void *)((unsigned long)(pa) + __START_KERNEL_map))
#define virt_to_pfn(va)		(__pa(va) >> PAGE_SHIFT)
#define pfn_to_virt(pfn)	__va((unsigned long)(pfn) << PAGE_SHIFT)

#define PFN_PHYS(pfn)		((unsigned long)(pfn) << PAGE_SHIFT)
#define PFN_DOWN(x)		((unsigned long)(x) >> PAGE_SHIFT)
#define PFN_UP(x)		(((unsigned long)(x) + PAGE_SIZE - 1) >> PAGE_SHIFT)
#define offset_in_page(p)	((unsigned long)(p) & (PAGE_SIZE - 1))
#endif

#endif /* _PAGE_H */
