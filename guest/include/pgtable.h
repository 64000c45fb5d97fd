/*
 * x86-64 four-level pagetables as a PV guest sees them, with Linux's
 * names: pgd (L4), pud (L3), pmd (L2), pte (L1). Entries hold machine
 * frame numbers. A frame in use as a pagetable is mapped read-only in the
 * linear map, so the kernel reads its pagetables directly but changes live
 * ones only through hypercalls (xen/mmu.h); the native_set_*() stores are
 * for tables not yet in use.
 */
#ifndef _PGTABLE_H
#define _PGTABLE_H

#include <atomic.h>
#include <compiler.h>
#include <page.h>
#include <types.h>
#include <xen/page.h>

#define PGDIR_SHIFT	39
#define PUD_SHIFT	30
#define PMD_SHIFT	21

#define PTRS_PER_PGD	512
#define PTRS_PER_PUD	512
#define PTRS_PER_PMD	512
#define PTRS_PER_PTE	512

#define PGDIR_SIZE	(1UL << PGDIR_SHIFT)
#define PUD_SIZE	(1UL << PUD_SHIFT)
#define PMD_SIZE	(1UL << PMD_SHIFT)

#define _PAGE_BIT_ACCESSED	5	/* set by the MMU on any access */
#define _PAGE_BIT_DIRTY		6	/* set by the MMU on a write */

#define _PAGE_PRESENT	0x001UL
#define _PAGE_RW	0x002UL
#define _PAGE_USER	0x004UL
#define _PAGE_PWT	0x008UL
#define _PAGE_PCD	0x010UL
#define _PAGE_ACCESSED	(1UL << _PAGE_BIT_ACCESSED)
#define _PAGE_DIRTY	(1UL << _PAGE_BIT_DIRTY)
#define _PAGE_PSE	0x080UL		/* 2 MiB page in a pmd, 1 GiB in a pud */
#define _PAGE_GLOBAL	0x100UL
#define _PAGE_NX	(1UL << 63)

/* Frame address bits 12..51 of an entry, and the flags around them. */
#define PTE_PFN_MASK	0x000ffffffffff000UL
#define PTE_FLAGS_MASK	(~PTE_PFN_MASK)

typedef u64 pteval_t;
typedef u64 pmdval_t;
typedef u64 pudval_t;
typedef u64 pgdval_t;

typedef struct { pteval_t pte; } pte_t;
typedef struct { pmdval_t pmd; } pmd_t;
typedef struct { pudval_t pud; } pud_t;
typedef struct { pgdval_t pgd; } pgd_t;
typedef struct { pteval_t pgprot; } pgprot_t;

#define __pte(x)	((pte_t) { (x) })
#define __pmd(x)	((pmd_t) { (x) })
#define __pud(x)	((pud_t) { (x) })
#define __pgd(x)	((pgd_t) { (x) })
#define __pgprot(x)	((pgprot_t) { (x) })

#define pte_val(x)	((x).pte)
#define pmd_val(x)	((x).pmd)
#define pud_val(x)	((x).pud)
#define pgd_val(x)	((x).pgd)
#define pgprot_val(x)	((x).pgprot)

/*
 * A PV kernel runs in ring 3, so its mappings carry _PAGE_USER, like those
 * the domain builder made.
 */
#define _PAGE_TABLE	(_PAGE_PRESENT | _PAGE_RW | _PAGE_USER |	\
			 _PAGE_ACCESSED | _PAGE_DIRTY)
#define PAGE_KERNEL	__pgprot(_PAGE_PRESENT | _PAGE_RW | _PAGE_USER | \
				 _PAGE_ACCESSED | _PAGE_DIRTY)
#define PAGE_KERNEL_RO	__pgprot(_PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED)
/* A shared writable user mapping; the MMU sets Dirty. */
#define PAGE_SHARED	__pgprot(_PAGE_PRESENT | _PAGE_RW | _PAGE_USER | \
				 _PAGE_ACCESSED)

/*
 * What Xen stores for an L1 entry a 64-bit PV guest writes or pins
 * (adjust_guest_l1e): a kernel mapping, without _PAGE_USER, becomes a
 * user one marked _PAGE_GUEST_KERNEL (bit 52, ignored by the CPU); a user
 * mapping is made global. Tests that read back an entry they wrote
 * compare it with this.
 */
#define _PAGE_GUEST_KERNEL	(1UL << 52)

static inline pteval_t xen_l1e(pteval_t e)
{
	if (!(e & _PAGE_PRESENT))
		return e;
	if (!(e & _PAGE_USER))
		e |= _PAGE_GUEST_KERNEL | _PAGE_USER;
	if (!(e & _PAGE_GUEST_KERNEL))
		e |= _PAGE_GLOBAL | _PAGE_USER;
	return e;
}

static inline unsigned long pgd_index(unsigned long addr)
{
	return (addr >> PGDIR_SHIFT) & (PTRS_PER_PGD - 1);
}

static inline unsigned long pud_index(unsigned long addr)
{
	return (addr >> PUD_SHIFT) & (PTRS_PER_PUD - 1);
}

static inline unsigned long pmd_index(unsigned long addr)
{
	return (addr >> PMD_SHIFT) & (PTRS_PER_PMD - 1);
}

static inline unsigned long pte_index(unsigned long addr)
{
	return (addr >> PAGE_SHIFT) & (PTRS_PER_PTE - 1);
}

/* Leaf entries. */

static inline pte_t mfn_pte(unsigned long mfn, pgprot_t prot)
{
	return __pte((PFN_PHYS(mfn) & PTE_PFN_MASK) | pgprot_val(prot));
}

static inline pte_t pfn_pte(unsigned long pfn, pgprot_t prot)
{
	return mfn_pte(pfn_to_mfn(pfn), prot);
}

static inline unsigned long pte_mfn(pte_t pte)
{
	return (pte_val(pte) & PTE_PFN_MASK) >> PAGE_SHIFT;
}

static inline pteval_t pte_flags(pte_t pte)
{
	return pte_val(pte) & PTE_FLAGS_MASK;
}

static inline bool pte_none(pte_t pte)
{
	return !pte_val(pte);
}

static inline bool pte_present(pte_t pte)
{
	return pte_flags(pte) & _PAGE_PRESENT;
}

static inline bool pte_write(pte_t pte)
{
	return pte_flags(pte) & _PAGE_RW;
}

static inline bool pte_young(pte_t pte)
{
	return pte_flags(pte) & _PAGE_ACCESSED;
}

static inline bool pte_dirty(pte_t pte)
{
	return pte_flags(pte) & _PAGE_DIRTY;
}

static inline pte_t pte_mkold(pte_t pte)
{
	return __pte(pte_val(pte) & ~_PAGE_ACCESSED);
}

static inline pte_t pte_mkclean(pte_t pte)
{
	return __pte(pte_val(pte) & ~_PAGE_DIRTY);
}

/* One read of an entry the CPU or the hypervisor may change under us. */
static inline pte_t ptep_get(pte_t *ptep)
{
	return __pte(READ_ONCE(ptep->pte));
}

/* Clears an entry of a table that is writable, returning what it held. */
static inline pte_t native_ptep_get_and_clear(pte_t *ptep)
{
	return __pte(xchg(&ptep->pte, 0));
}

struct vm_area_struct;

/*
 * Clears the accessed bit of *ptep and returns whether it was set. Unless
 * pv_mmu_ops (paravirt.h) has another way, with one locked bit operation
 * on the entry itself, as Linux 2.6.22 did on x86-64: on a live pagetable
 * the entry is read-only, so the write faults and the hypervisor
 * emulates it. vma is unused by the native code.
 */
int ptep_test_and_clear_young(struct vm_area_struct *vma, unsigned long addr,
			      pte_t *ptep);

/* Table entries. */

static inline bool pmd_none(pmd_t pmd)
{
	return !pmd_val(pmd);
}

static inline bool pmd_present(pmd_t pmd)
{
	return pmd_val(pmd) & _PAGE_PRESENT;
}

static inline bool pmd_large(pmd_t pmd)
{
	return pmd_val(pmd) & _PAGE_PSE;
}

static inline bool pud_none(pud_t pud)
{
	return !pud_val(pud);
}

static inline bool pud_present(pud_t pud)
{
	return pud_val(pud) & _PAGE_PRESENT;
}

static inline bool pud_large(pud_t pud)
{
	return pud_val(pud) & _PAGE_PSE;
}

static inline bool pgd_none(pgd_t pgd)
{
	return !pgd_val(pgd);
}

static inline bool pgd_present(pgd_t pgd)
{
	return pgd_val(pgd) & _PAGE_PRESENT;
}

/* The table an entry points at, through the linear map. */
static inline void *__table_vaddr(u64 entry)
{
	return pfn_to_virt(mfn_to_pfn((entry & PTE_PFN_MASK) >> PAGE_SHIFT));
}

static inline pud_t *pgd_page_vaddr(pgd_t pgd)
{
	return __table_vaddr(pgd_val(pgd));
}

static inline pmd_t *pud_page_vaddr(pud_t pud)
{
	return __table_vaddr(pud_val(pud));
}

static inline pte_t *pmd_page_vaddr(pmd_t pmd)
{
	return __table_vaddr(pmd_val(pmd));
}

static inline pud_t *pud_offset(pgd_t *pgd, unsigned long addr)
{
	return pgd_page_vaddr(*pgd) + pud_index(addr);
}

static inline pmd_t *pmd_offset(pud_t *pud, unsigned long addr)
{
	return pud_page_vaddr(*pud) + pmd_index(addr);
}

static inline pte_t *pte_offset_kernel(pmd_t *pmd, unsigned long addr)
{
	return pmd_page_vaddr(*pmd) + pte_index(addr);
}

/* The boot L4 (start_info->pt_base), which maps the kernel. */
extern pgd_t *swapper_pg_dir;

#define pgd_offset_k(addr)	(swapper_pg_dir + pgd_index(addr))

/*
 * Plain stores, for tables that are not pagetables yet: still mapped
 * writable, neither pinned nor referenced by one.
 */
static inline void native_set_pte(pte_t *ptep, pte_t pte)
{
	WRITE_ONCE(ptep->pte, pte_val(pte));
}

static inline void native_set_pmd(pmd_t *pmdp, pmd_t pmd)
{
	WRITE_ONCE(pmdp->pmd, pmd_val(pmd));
}

static inline void native_set_pud(pud_t *pudp, pud_t pud)
{
	WRITE_ONCE(pudp->pud, pud_val(pud));
}

static inline void native_set_pgd(pgd_t *pgdp, pgd_t pgd)
{
	WRITE_ONCE(pgdp->pgd, pgd_val(pgd));
}

/* Point an entry of a table not in use yet at the next level's table. */
static inline void pgd_populate(pgd_t *pgd, pud_t *pud)
{
	native_set_pgd(pgd, __pgd(PFN_PHYS(virt_to_mfn(pud)) | _PAGE_TABLE));
}

static inline void pud_populate(pud_t *pud, pmd_t *pmd)
{
	native_set_pud(pud, __pud(PFN_PHYS(virt_to_mfn(pmd)) | _PAGE_TABLE));
}

static inline void pmd_populate_kernel(pmd_t *pmd, pte_t *pte)
{
	native_set_pmd(pmd, __pmd(PFN_PHYS(virt_to_mfn(pte)) | _PAGE_TABLE));
}

enum pg_level {
	PG_LEVEL_NONE,
	PG_LEVEL_4K,
	PG_LEVEL_2M,
	PG_LEVEL_1G,
};

/*
 * The entry that maps addr in the boot pagetables: its pte (*level is
 * PG_LEVEL_4K; present or not) or, for a large page, its pmd or pud
 * (PG_LEVEL_2M, PG_LEVEL_1G). NULL when an upper-level entry on the way
 * is not present.
 */
pte_t *lookup_address(unsigned long addr, unsigned int *level);

/* Finds the p2m list and the boot pagetables; called from start_kernel(). */
void paging_init(void);

#endif /* _PGTABLE_H */
