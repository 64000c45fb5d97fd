/*
 * Writable pagetables: plain writes to L1 entries through their read-only
 * linear-map alias, which the hypervisor emulates. First Linux 2.6.22's
 * ptep_test_and_clear_young(), a lock btr on the accessed bit, on an entry
 * of the running address space. Then a second tree, built from fresh
 * frames and pinned but never loaded, whose L1 maps data frames read-only:
 * on its entries, every instruction form the emulator takes, each case
 * checking the entry afterwards and the flags and registers the
 * instruction sets. Last, a write the hypervisor must refuse comes back as
 * a page fault, caught by a fixup. A mismatch panics with the case's name.
 */
#include <bitops.h>
#include <extable.h>
#include <hypercall.h>
#include <kernel.h>
#include <mm.h>
#include <pgtable.h>
#include <processor.h>
#include <smp.h>
#include <traps.h>
#include <xen/mmu.h>

PVSIM_DESCRIPTION("lock btr, bts, and, or, xor, mov, xchg and cmpxchg on read-only L1 entries, emulated by the hypervisor");

/* L4 slot 1: the tree is never loaded, but keep clear of the kernel. */
#define TREE_BASE	0x0000008000000000UL

#define NR_DATA		4

/* Software-available bits 9..11 of an entry. */
#define _PAGE_SOFTW1	0x200UL
#define _PAGE_SOFTW2	0x400UL
#define _PAGE_SOFTW3	0x800UL
#define _PAGE_SOFTW	(_PAGE_SOFTW1 | _PAGE_SOFTW2 | _PAGE_SOFTW3)

/* A register's value: n is its number in pt_regs order. */
#define REGVAL(n)	(0x9e7e000000c0de00UL | ((unsigned long)(n) << 32) | (n))

enum { L4, L3, L2, L1, NR_TABLES };

static struct page *tables[NR_TABLES];
static struct page *data[NR_DATA];
static pte_t *l1;		/* the pinned L1, through its read-only alias */
static unsigned int next_slot;

static const char *cur;
static unsigned int nr_passed;

static void expect(const char *what, unsigned long got, unsigned long want)
{
	if (got != want)
		panic("ptwr: %s: %s is 0x%lx, want 0x%lx", cur, what, got, want);
}

static void start(const char *name)
{
	cur = name;
}

static void pass(void)
{
	printk("ptwr: %s: ok\n", cur);
	nr_passed++;
}

static struct page *must_alloc_page(void)
{
	struct page *page = alloc_page();

	if (!page)
		panic("ptwr: out of memory");
	return page;
}

static pteval_t entry(pte_t *ptep)
{
	return pte_val(ptep_get(ptep));
}

static void expect_entry(pte_t *ptep, pteval_t want)
{
	expect("the entry", entry(ptep), xen_l1e(want));
}

/* Sets a pinned entry the checked way, with mmu_update. */
static void set_entry(pte_t *ptep, pteval_t val)
{
	int rc;

	rc = xen_mmu_update(ptep, val, MMU_NORMAL_PT_UPDATE);
	if (rc)
		panic("ptwr: %s: mmu_update of the entry to 0x%lx failed: %d",
		      cur, val, rc);
	expect_entry(ptep, val);
}

/* A fresh entry of the pinned L1 for the next case, set to val. */
static pte_t *slot(pteval_t val)
{
	pte_t *ptep = l1 + next_slot++;

	set_entry(ptep, val);
	return ptep;
}

/* The read-only mapping of data frame i, as the pinned L1 has it. */
static pteval_t data_pte(unsigned int i)
{
	return xen_l1e(pte_val(pfn_pte(page_to_pfn(data[i]), PAGE_KERNEL_RO)));
}

static u32 *low_dword(pte_t *ptep)
{
	return (u32 *)&ptep->pte;
}

static u32 *high_dword(pte_t *ptep)
{
	return (u32 *)&ptep->pte + 1;
}

/*
 * rmw("insn", dst, "constraint", src) runs "insn src, dst" on memory dst
 * and returns RFLAGS after it.
 */
#define rmw(insn, dst, constraint, src)					\
({									\
	unsigned long __flags;						\
	asm volatile(insn " %[s], %[d]\n\t"				\
		     "pushfq\n\t"					\
		     "popq %[f]"					\
		     : [f] "=r" (__flags), [d] "+m" (dst)		\
		     : [s] constraint (src)				\
		     : "cc", "memory");					\
	__flags;							\
})

/* movq(dst, "constraint", src) runs "movq src, dst". */
#define movq(dst, constraint, src)					\
	asm volatile("movq %[s], %[d]"					\
		     : [d] "=m" (dst) : [s] constraint (src) : "memory")

static void expect_flags(unsigned long flags, unsigned long mask,
			 unsigned long want)
{
	static const struct {
		unsigned long bit;
		const char *name;
	} names[] = {
		{ X86_EFLAGS_CF, "CF" }, { X86_EFLAGS_ZF, "ZF" },
		{ X86_EFLAGS_SF, "SF" },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (mask & names[i].bit)
			expect(names[i].name, !!(flags & names[i].bit),
			       !!(want & names[i].bit));
}

/* The tree: L4 -> L3 -> L2 -> L1 at TREE_BASE, pinned. */
static void build_tree(void)
{
	pgd_t *pgd;
	pud_t *pud;
	pmd_t *pmd;
	unsigned int i;
	int rc;

	for (i = 0; i < NR_TABLES; i++)
		tables[i] = must_alloc_page();
	for (i = 0; i < NR_DATA; i++)
		data[i] = must_alloc_page();

	pgd = page_address(tables[L4]);
	pud = page_address(tables[L3]);
	pmd = page_address(tables[L2]);
	l1 = page_address(tables[L1]);
	pgd_populate(pgd + pgd_index(TREE_BASE), pud);
	pud_populate(pud + pud_index(TREE_BASE), pmd);
	pmd_populate_kernel(pmd + pmd_index(TREE_BASE), l1);
	for (i = 0; i < PTRS_PER_PTE; i++)
		native_set_pte(l1 + i, __pte(data_pte(i % NR_DATA)));

	rc = xen_make_pages_readonly(tables, NR_TABLES);
	if (rc)
		panic("ptwr: making the pagetables read-only failed: %d", rc);
	rc = xen_pin_table(MMUEXT_PIN_L4_TABLE, page_to_pfn(tables[L4]));
	if (rc)
		panic("ptwr: MMUEXT_PIN_L4_TABLE failed: %d", rc);
}

static void free_tree(void)
{
	unsigned int i;
	int rc;

	rc = xen_pin_table(MMUEXT_UNPIN_TABLE, page_to_pfn(tables[L4]));
	if (rc)
		panic("ptwr: MMUEXT_UNPIN_TABLE failed: %d", rc);
	rc = xen_make_pages_readwrite(tables, NR_TABLES);
	if (rc)
		panic("ptwr: making the pagetables writable failed: %d", rc);
	for (i = 0; i < NR_TABLES; i++)
		__free_page(tables[i]);
	for (i = 0; i < NR_DATA; i++)
		__free_page(data[i]);
}

/* (i) The running address space: the entry that maps a scratch page. */
static void test_live(void)
{
	struct page *page = must_alloc_page();
	unsigned long addr = (unsigned long)page_address(page);
	unsigned int level;
	pteval_t old;
	pte_t *ptep;
	int ret;

	ptep = lookup_address(addr, &level);
	if (!ptep || level != PG_LEVEL_4K)
		panic("ptwr: no 4K mapping of 0x%lx", addr);

	start("live: ptep_test_and_clear_young");
	READ_ONCE(*(unsigned long *)addr);
	old = entry(ptep);
	expect("A before", old & _PAGE_ACCESSED, _PAGE_ACCESSED);
	ret = ptep_test_and_clear_young(NULL, addr, ptep);
	expect("the result", ret, 1);
	expect_entry(ptep, old & ~_PAGE_ACCESSED);
	pass();

	start("live: lock btrq $5 on a clear A");
	ret = test_and_clear_bit(_PAGE_BIT_ACCESSED, (unsigned long *)&ptep->pte);
	expect("CF", ret, 0);
	expect_entry(ptep, old & ~_PAGE_ACCESSED);
	pass();

	start("live: the MMU sets A again");
	if (xen_invlpg_all(addr))
		panic("ptwr: %s: MMUEXT_INVLPG_ALL failed", cur);
	READ_ONCE(*(unsigned long *)addr);
	expect_entry(ptep, old);
	ret = ptep_test_and_clear_young(NULL, addr, ptep);
	expect("the result", ret, 1);
	expect_entry(ptep, old & ~_PAGE_ACCESSED);
	pass();

	__free_page(page);
}

/* (ii) The pinned tree. */
static void test_pinned_young(void)
{
	pteval_t e = data_pte(0);
	pte_t *p;
	int ret;

	start("pinned: ptep_test_and_clear_young");
	p = slot(e);
	ret = ptep_test_and_clear_young(NULL, TREE_BASE, p);
	expect("the result", ret, 1);
	expect_entry(p, e & ~_PAGE_ACCESSED);
	ret = test_and_clear_bit(_PAGE_BIT_ACCESSED, (unsigned long *)&p->pte);
	expect("CF of a second lock btrq $5", ret, 0);
	expect_entry(p, e & ~_PAGE_ACCESSED);
	pass();
}

/* (iii) Each instruction form, on entries of the pinned L1. */
static void test_bit_ops(void)
{
	pteval_t e = data_pte(0);
	unsigned long fl, bit;
	pte_t *p;

	start("pinned: lock btsq $imm");
	p = slot(e);
	fl = rmw("lock btsq", p->pte, "i", 9);
	expect_flags(fl, X86_EFLAGS_CF, 0);
	expect_entry(p, e | _PAGE_SOFTW1);
	fl = rmw("lock btsq", p->pte, "i", 9);
	expect_flags(fl, X86_EFLAGS_CF, X86_EFLAGS_CF);
	expect_entry(p, e | _PAGE_SOFTW1);
	pass();

	start("pinned: lock btrq %reg");
	p = slot(e | _PAGE_SOFTW1);
	bit = 9;
	fl = rmw("lock btrq", p->pte, "r", bit);
	expect_flags(fl, X86_EFLAGS_CF, X86_EFLAGS_CF);
	expect_entry(p, e);
	expect("the bit register", bit, 9);
	pass();

	/* A register bit offset of 64 + 5 names bit 5 of the next entry. */
	start("pinned: lock btrq %reg into the next entry");
	p = slot(e);
	slot(e);
	bit = 64 + _PAGE_BIT_ACCESSED;
	fl = rmw("lock btrq", p->pte, "r", bit);
	expect_flags(fl, X86_EFLAGS_CF, X86_EFLAGS_CF);
	expect_entry(p, e);
	expect("the next entry", entry(p + 1), xen_l1e(e & ~_PAGE_ACCESSED));
	pass();

	start("pinned: lock btsl/btrl $imm on the high dword");
	p = slot(e);
	fl = rmw("lock btsl", *high_dword(p), "i", 31);
	expect_flags(fl, X86_EFLAGS_CF, 0);
	expect_entry(p, e | _PAGE_NX);
	fl = rmw("lock btrl", *high_dword(p), "i", 31);
	expect_flags(fl, X86_EFLAGS_CF, X86_EFLAGS_CF);
	expect_entry(p, e);
	pass();
}

static void test_logic_ops(void)
{
	pteval_t e = data_pte(0);
	unsigned long fl, src;
	pte_t *p;

	start("pinned: lock orq $imm");
	p = slot(e);
	fl = rmw("lock orq", p->pte, "i", _PAGE_SOFTW);
	expect_flags(fl, X86_EFLAGS_ZF | X86_EFLAGS_SF, 0);
	expect_entry(p, e | _PAGE_SOFTW);
	pass();

	/* An imm32, sign-extended: every bit but 9 set. */
	start("pinned: lock andq $imm");
	p = slot(e | _PAGE_SOFTW);
	fl = rmw("lock andq", p->pte, "i", -(long)_PAGE_SOFTW1 - 1);
	expect_flags(fl, X86_EFLAGS_ZF | X86_EFLAGS_SF, 0);
	expect_entry(p, e | _PAGE_SOFTW2 | _PAGE_SOFTW3);
	pass();

	start("pinned: lock xorq $imm");
	p = slot(e | _PAGE_SOFTW);
	fl = rmw("lock xorq", p->pte, "i", _PAGE_SOFTW2 | _PAGE_SOFTW3);
	expect_flags(fl, X86_EFLAGS_ZF | X86_EFLAGS_SF, 0);
	expect_entry(p, e | _PAGE_SOFTW1);
	pass();

	start("pinned: lock andq $0");
	p = slot(e);
	fl = rmw("lock andq", p->pte, "i", 0);
	expect_flags(fl, X86_EFLAGS_ZF | X86_EFLAGS_SF, X86_EFLAGS_ZF);
	expect_entry(p, 0);
	pass();

	start("pinned: lock orq %reg");
	p = slot(e);
	src = _PAGE_NX | _PAGE_SOFTW;
	fl = rmw("lock orq", p->pte, "r", src);
	expect_flags(fl, X86_EFLAGS_ZF | X86_EFLAGS_SF, X86_EFLAGS_SF);
	expect_entry(p, e | _PAGE_NX | _PAGE_SOFTW);
	expect("the source register", src, _PAGE_NX | _PAGE_SOFTW);
	pass();

	start("pinned: lock andq %reg");
	p = slot(e | _PAGE_NX | _PAGE_SOFTW);
	src = ~_PAGE_SOFTW1;
	fl = rmw("lock andq", p->pte, "r", src);
	expect_flags(fl, X86_EFLAGS_ZF | X86_EFLAGS_SF, X86_EFLAGS_SF);
	expect_entry(p, e | _PAGE_NX | _PAGE_SOFTW2 | _PAGE_SOFTW3);
	pass();

	start("pinned: lock xorq %reg");
	p = slot(e | _PAGE_NX | _PAGE_SOFTW);
	src = _PAGE_NX | _PAGE_SOFTW;
	fl = rmw("lock xorq", p->pte, "r", src);
	expect_flags(fl, X86_EFLAGS_ZF | X86_EFLAGS_SF, 0);
	expect_entry(p, e);
	pass();

	start("pinned: lock orl/xorl $imm on the low dword");
	p = slot(e);
	fl = rmw("lock orl", *low_dword(p), "i", _PAGE_SOFTW3);
	expect_flags(fl, X86_EFLAGS_ZF | X86_EFLAGS_SF, 0);
	expect_entry(p, e | _PAGE_SOFTW3);
	fl = rmw("lock xorl", *low_dword(p), "i", _PAGE_SOFTW3);
	expect_flags(fl, X86_EFLAGS_ZF | X86_EFLAGS_SF, 0);
	expect_entry(p, e);
	pass();

	/* The sign of a 4-byte result is bit 31: NX, in the high dword. */
	start("pinned: lock orl $imm on the high dword");
	p = slot(e);
	fl = rmw("lock orl", *high_dword(p), "i", 0x80000000U);
	expect_flags(fl, X86_EFLAGS_ZF | X86_EFLAGS_SF, X86_EFLAGS_SF);
	expect_entry(p, e | _PAGE_NX);
	pass();
}

static void test_moves(void)
{
	pteval_t e = data_pte(0), val;
	u32 low;
	pte_t *p;

	start("pinned: movq %reg");
	p = slot(e);
	val = data_pte(1);
	movq(p->pte, "r", val);
	expect_entry(p, data_pte(1));
	pass();

	start("pinned: movq %reg mapping a data frame writable");
	p = slot(e);
	val = pte_val(pfn_pte(page_to_pfn(data[2]), PAGE_KERNEL));
	movq(p->pte, "r", val);
	expect_entry(p, val);
	set_entry(p, e);
	pass();

	/* Not present, so any value is valid: all of it from an imm32. */
	start("pinned: movq $imm32, sign-extended");
	p = slot(e);
	movq(p->pte, "i", -2L);
	expect_entry(p, 0xfffffffffffffffeUL);
	set_entry(p, e);
	pass();

	start("pinned: movl %reg on the low dword");
	p = slot(e | _PAGE_NX);
	low = (u32)data_pte(1);
	asm volatile("movl %[src], %[mem]"
		     : [mem] "=m" (*low_dword(p)) : [src] "r" (low) : "memory");
	expect_entry(p, data_pte(1) | _PAGE_NX);
	pass();

	start("pinned: xchgq");
	p = slot(e | _PAGE_ACCESSED | _PAGE_DIRTY);
	val = data_pte(1);
	asm volatile("xchgq %[val], %[mem]"
		     : [val] "+r" (val), [mem] "+m" (p->pte) : : "memory");
	expect("the old entry", val, xen_l1e(e | _PAGE_ACCESSED | _PAGE_DIRTY));
	expect_entry(p, data_pte(1));
	pass();
}

static bool lock_cmpxchgq(pte_t *p, pteval_t *old, pteval_t new)
{
	bool zf;

	asm volatile("lock cmpxchgq %[new], %[mem]"
		     : "=@ccz" (zf), "+a" (*old), [mem] "+m" (p->pte)
		     : [new] "r" (new) : "memory");
	return zf;
}

static void test_cmpxchg(void)
{
	pteval_t e = data_pte(0), old;
	u32 old32;
	bool zf;
	pte_t *p;

	start("pinned: lock cmpxchgq, equal");
	p = slot(e);
	old = e;
	zf = lock_cmpxchgq(p, &old, data_pte(1));
	expect("ZF", zf, 1);
	expect("rax", old, e);
	expect_entry(p, data_pte(1));
	pass();

	start("pinned: lock cmpxchgq, not equal");
	p = slot(e);
	old = data_pte(1);
	zf = lock_cmpxchgq(p, &old, data_pte(2));
	expect("ZF", zf, 0);
	expect("rax", old, e);
	expect_entry(p, e);
	pass();

	start("pinned: lock cmpxchgl on the low dword");
	p = slot(e);
	old32 = (u32)e;
	asm volatile("lock cmpxchgl %[new], %[mem]"
		     : "=@ccz" (zf), "+a" (old32), [mem] "+m" (*low_dword(p))
		     : [new] "r" ((u32)data_pte(3)) : "memory");
	expect("ZF", zf, 1);
	expect("eax", old32, (u32)e);
	expect_entry(p, data_pte(3));
	pass();
}

/*
 * An emulated write changes only what the instruction changes: every
 * other general-purpose register comes back as it was.
 */
static void test_registers(void)
{
	pteval_t e = data_pte(0);
	unsigned long want[15], got[15];
	unsigned int i;
	u8 cf = 0xff;
	pte_t *p;

	start("pinned: registers survive an emulated lock btsq");
	p = slot(e);
	for (i = 0; i < ARRAY_SIZE(want); i++)
		want[i] = REGVAL(i);
	want[offsetof(struct pt_regs, di) / sizeof(long)] = (unsigned long)&p->pte;

	{
		register unsigned long r8 asm("r8") = want[9];
		register unsigned long r9 asm("r9") = want[8];
		register unsigned long r10 asm("r10") = want[7];
		register unsigned long r11 asm("r11") = want[6];
		register unsigned long r12 asm("r12") = want[3];
		register unsigned long r13 asm("r13") = want[2];
		register unsigned long r14 asm("r14") = want[1];
		register unsigned long r15 asm("r15") = want[0];
		unsigned long ax = want[10], bx = want[5], cx = want[11];
		unsigned long dx = want[12], si = want[13], di = want[14];

		asm volatile("lock btsq $9, (%%rdi)\n\t"
			     "setc %[cf]"
			     : "+a" (ax), "+b" (bx), "+c" (cx), "+d" (dx),
			       "+S" (si), "+D" (di), "+r" (r8), "+r" (r9),
			       "+r" (r10), "+r" (r11), "+r" (r12), "+r" (r13),
			       "+r" (r14), "+r" (r15), [cf] "+m" (cf)
			     : : "cc", "memory");

		got[0] = r15; got[1] = r14; got[2] = r13; got[3] = r12;
		got[4] = want[4]; got[5] = bx; got[6] = r11; got[7] = r10;
		got[8] = r9; got[9] = r8; got[10] = ax; got[11] = cx;
		got[12] = dx; got[13] = si; got[14] = di;
	}
	for (i = 0; i < ARRAY_SIZE(want); i++)
		expect("a register (pt_regs order)", got[i], want[i]);
	expect("CF", cf, 0);
	expect_entry(p, e | _PAGE_SOFTW1);
	pass();
}

/*
 * An entry that maps a pagetable writable is one no write may make: the
 * hypervisor refuses to emulate it and delivers the page fault.
 */
static void test_refused(void)
{
	struct thread_struct *thread = &this_pcpu()->thread;
	pteval_t e = data_pte(0), val;
	int faulted = 1;
	pte_t *p;

	start("pinned: movq making the L1 writable is refused");
	p = slot(e);
	val = pte_val(pfn_pte(page_to_pfn(tables[L1]), PAGE_KERNEL));
	asm volatile("1:\tmovq %[val], %[mem]\n\t"
		     "movl $0, %[faulted]\n"
		     "2:\n"
		     _ASM_EXTABLE(1b, 2b)
		     : [mem] "=m" (p->pte), [faulted] "+r" (faulted)
		     : [val] "r" (val) : "memory");
	expect("faulted", faulted, 1);
	expect("vector", thread->trap_nr, X86_TRAP_PF);
	expect("error code", thread->error_code, X86_PF_PROT | X86_PF_WRITE);
	expect("cr2", thread->cr2, (unsigned long)p);
	expect_entry(p, e);
	pass();
}

void kernel_main(void)
{
	test_live();

	build_tree();
	test_pinned_young();
	test_bit_ops();
	test_logic_ops();
	test_moves();
	test_cmpxchg();
	test_registers();
	test_refused();
	free_tree();

	printk("ptwr: all %u cases passed\n", nr_passed);
	xen_poweroff();
}
