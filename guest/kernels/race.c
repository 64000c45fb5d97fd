/*
 * The race between Xen's two-phase pin and unpin of an mm's pagetables,
 * at fork and exit, and reclaim changing the mm's ptes meanwhile.
 *
 * vCPU0 is the parent: it forks a child from its anonymous vma at
 * USER_BASE and, once more than live= children live, exits the oldest;
 * with live=0 it exits each child once it has been written. Writers
 * (vCPUs 2, 4, ...; vCPU0 itself when there are none) load each live
 * child in turn and write through its mapping, so that the MMU sets
 * Accessed and Dirty in its ptes. Reclaim (vCPUs 1, 3, ...) scans every
 * page: it clears Accessed in the ptes that map it, writes it back,
 * clearing Dirty, and with pressure=1 unmaps and frees it.
 *
 * strategy= picks how (paravirt.h). The oracles (race.h) count what went
 * wrong in race_stats, which the hypervisor reads once the domain stops;
 * a bounced write fault on a pte oopses and ends the domain.
 *
 * With lowmem=1 memory is short as each fork starts: the vma straddles a
 * 1 GiB line by one page, and all but the frames fork needs up to the
 * first pte page of the child are held back (hold_free_pages()), so that
 * the child's pmd and pte page beyond the line come only from reclaiming
 * pages, the parent's, which the fork has by then copied but one. Hugh
 * Dickins' objection to pin-before-visible is what happens then. The
 * fork reclaims for itself (try_to_free_pages()); kswapd only ages pages
 * then, since with pressure=1 it could free the parent's pages first.
 *
 * Options: strategy= (none), pages= (16, at most MAX_RACE_PAGES),
 * window= (us between the phases of a pin or unpin, 0), pressure= (0),
 * lowmem= (0), iters= (forks, completed with their exit or failed,
 * 0: until stopped), marks= (0: trace marks),
 * passes= (reclaim passes per reclaiming vCPU, each over every page on
 * the LRU once, 0: until stopped), live= (children kept alive, 2, at
 * most MAX_LIVE). With iters and passes both set, vCPU0 powers off only
 * once every reclaiming vCPU has done its passes.
 *
 * Under pvsim's deterministic scheduler an explorer runs the kernel once
 * per schedule, from a snapshot taken before the secondaries start: the
 * defaults there are the small race it searches, iters=1 passes=1
 * pages=2 live=0 marks=1.
 */
#include <cmdline.h>
#include <extable.h>
#include <kernel.h>
#include <mm.h>
#include <mmu_context.h>
#include <paravirt.h>
#include <processor.h>
#include <pvclock.h>
#include <race.h>
#include <rmap.h>
#include <sched.h>
#include <slab.h>
#include <smp.h>
#include <swap.h>
#include <xen/errno.h>
#include <xen/mmu.h>
#include <xen/pvsim.h>

PVSIM_DESCRIPTION("fork/exit pinning and unpinning pagetables against reclaim and writers, per strategy=; counts lost Dirty bits, ineffective young clears, use-after-free, pages reclaim could not free for hidden mappings and forks that failed for memory in race_stats");

#define USER_BASE	0x400000UL
#define MAX_LIVE	8

/*
 * With lowmem=1, the frames a fork takes before the child's tables beyond
 * the 1 GiB line: its task_struct, mm_struct, pgd and vma, and the pud,
 * pmd and pte page of the first range.
 */
#define LOWMEM_FORK_FRAMES	7

/* What fork makes of a process here: an mm on the list of live children. */
struct task_struct {
	struct mm_struct *mm;
	struct list_head sibling;	/* on live_children, under live_lock */
	u64 fork_ns;			/* time do_fork() took */
};

static LIST_HEAD(live_children);
static DEFINE_SPINLOCK(live_lock);
static unsigned int nr_live;

static struct mm_struct *parent;
static unsigned long user_base = USER_BASE;
static unsigned long nr_pages;
static bool pressure;
static unsigned long passes;
static atomic_t reclaim_done;	/* reclaiming vCPUs done with their passes */

struct race_options {
	unsigned long iters, passes, pages, live, marks;
};

static const struct race_options default_options = {
	.iters = 0, .passes = 0, .pages = 16, .live = 2, .marks = 0,
};

/* A deterministic domain: one fork and exit against one reclaim pass. */
static const struct race_options deterministic_options = {
	.iters = 1, .passes = 1, .pages = 2, .live = 0, .marks = 1,
};

/* Reads or increments a user word; -EFAULT when its pte is gone. */
static int get_user_word(const u64 *p)
{
	int err = -EFAULT;
	u64 v;

	asm volatile("1:\tmovq %[mem], %[v]\n\t"
		     "xorl %[err], %[err]\n"
		     "2:\n"
		     _ASM_EXTABLE(1b, 2b)
		     : [err] "+r" (err), [v] "=r" (v)
		     : [mem] "m" (*p)
		     : "memory");
	return err;
}

static int inc_user_word(u64 *p)
{
	int err = -EFAULT;

	asm volatile("1:\tlock incq %[mem]\n\t"
		     "xorl %[err], %[err]\n"
		     "2:\n"
		     _ASM_EXTABLE(1b, 2b)
		     : [err] "+r" (err), [mem] "+m" (*p)
		     : : "memory");
	return err;
}

static u64 elapsed_ns(u64 start)
{
	return pvclock_cycles_to_ns(rdtsc() - start);
}

/* The init process: its vma, its pages on the LRU, pinned. */
static struct mm_struct *create_init_mm(void)
{
	struct mm_struct *mm = mm_alloc();
	struct vm_area_struct *vma = kzalloc(sizeof(*vma));

	if (!mm || !vma)
		panic("race: out of memory for the init process");
	vma->vm_mm = mm;
	vma->vm_start = user_base;
	vma->vm_end = user_base + nr_pages * PAGE_SIZE;
	vma->vm_page_prot = PAGE_SHARED;
	INIT_LIST_HEAD(&vma->anon_vma_node);
	mm->mmap = vma;
	anon_vma_prepare(vma);
	make_pages_present(vma);
	xen_pgd_pin(mm);
	return mm;
}

/*
 * The parent runs: it reads each of its pages, so that its ptes are young.
 * vCPU 0 otherwise stays on init_mm, as a kernel thread would, so that
 * reclaim's young clears on the parent's ptes need no remote flush.
 */
static void touch_pages(void)
{
	unsigned long i;

	switch_mm(&init_mm, parent);
	for (i = 0; i < nr_pages; i++)
		get_user_word((const u64 *)(user_base + i * PAGE_SIZE));
	switch_mm(parent, &init_mm);
}

/* Returns whether the fork succeeded; it fails for memory alone. */
static bool do_fork(void)
{
	struct task_struct *p = kzalloc(sizeof(*p));
	u64 start = rdtsc();

	if (p)
		p->mm = dup_mm(parent);
	if (!p || !p->mm) {
		kfree(p);
		race_stat_inc(fork_nomem);
		return false;
	}
	p->fork_ns = elapsed_ns(start);

	spin_lock(&live_lock);
	list_add_tail(&p->sibling, &live_children);
	spin_unlock(&live_lock);
	nr_live++;
	return true;
}

/* Once off the list no writer picks the child; those that did finish. */
static void exit_oldest(void)
{
	struct task_struct *p;
	u64 start;

	spin_lock(&live_lock);
	p = list_first_entry(&live_children, struct task_struct, sibling);
	list_del(&p->sibling);
	spin_unlock(&live_lock);
	nr_live--;

	while (atomic_read(&p->mm->mm_users) != 1)
		cpu_relax();
	start = rdtsc();
	mmput(p->mm);
	race_stat_add(fork_exit_ns, p->fork_ns + elapsed_ns(start));
	race_stat_inc(forks);
	kfree(p);
}

/*
 * The child runs: it reads its pages, then increments its word of each
 * through its own mapping. The reads set Accessed alone, so the MMU sets
 * Dirty later, on the write, as it does in a process that reads before it
 * writes; a first write would set both at once.
 */
static void write_child(struct mm_struct *home, struct mm_struct *mm)
{
	unsigned long i, addr;

	switch_mm(home, mm);
	for (i = 0; i < nr_pages; i++)
		get_user_word((const u64 *)(user_base + i * PAGE_SIZE + mm_slot_offset(mm)));
	for (i = 0; i < nr_pages; i++) {
		addr = user_base + i * PAGE_SIZE + mm_slot_offset(mm);
		if (!inc_user_word((u64 *)addr))
			race_stat_inc(writes);
	}
	switch_mm(mm, home);
}

/* One pass over the live children, from home, the mm this vCPU runs on. */
static void writer_pass(struct mm_struct *home)
{
	struct mm_struct *mms[MAX_LIVE + 1];
	struct task_struct *p;
	unsigned int i, n = 0;

	spin_lock(&live_lock);
	list_for_each_entry(p, &live_children, sibling) {
		if (n == ARRAY_SIZE(mms))
			break;
		atomic_inc(&p->mm->mm_users);
		mms[n++] = p->mm;
	}
	spin_unlock(&live_lock);

	for (i = 0; i < n; i++) {
		write_child(home, mms[i]);
		atomic_dec(&mms[i]->mm_users);
	}
	if (!n)
		cpu_relax();
}

void secondary_main(void)
{
	pvsim_sched_point("race begin", smp_processor_id());
	if (smp_processor_id() & 1) {
		/* Returns only when passes= is set, after them. */
		kswapd(pressure, passes);
		atomic_inc(&reclaim_done);
		for (;;)
			cpu_relax();
	}
	for (;;)
		writer_pass(&init_mm);
}

static void print_stats(void)
{
	printk("race: strategy=%s forks=%lu fork_nomem=%lu pin_windows=%lu lost_dirty=%lu ineffective_young=%lu use_after_free=%lu reclaim_hidden=%lu writebacks=%lu writes=%lu freed=%lu direct_reclaimed=%lu young_clears=%lu/%lu young_clear_ns=%lu young_clear_exits=%lu fork_exit_ns=%lu\n",
	       pv_mmu_strategy_names[race_stats.strategy], race_stats.forks,
	       race_stats.fork_nomem, race_stats.pin_windows,
	       race_stats.lost_dirty, race_stats.ineffective_young,
	       race_stats.use_after_free, race_stats.reclaim_hidden,
	       race_stats.writebacks, race_stats.writes, race_stats.freed,
	       race_stats.direct_reclaimed,
	       race_stats.young_clears, race_stats.young_calls,
	       race_stats.young_clear_ns, race_stats.young_clear_exits,
	       race_stats.fork_exit_ns);
}

void kernel_main(void)
{
	const struct race_options *def = pvsim_deterministic ?
		&deterministic_options : &default_options;
	unsigned long iters = get_option_ulong("iters", def->iters);
	unsigned long live = get_option_ulong("live", def->live);
	unsigned long window = get_option_ulong("window", 0);
	bool marks = get_option_ulong("marks", def->marks);
	bool lowmem = get_option_ulong("lowmem", 0);
	unsigned int nr_cpus = num_possible_cpus();
	bool writers = nr_cpus > 2;
	const char *strategy;
	char buf[32];

	strategy = get_option_str("strategy", buf, sizeof(buf), "none");
	nr_pages = get_option_ulong("pages", def->pages);
	pressure = get_option_ulong("pressure", 0);
	passes = get_option_ulong("passes", def->passes);
	if (nr_pages < 1 || nr_pages > MAX_RACE_PAGES)
		panic("race: pages=%lu: want 1 to %d", nr_pages, MAX_RACE_PAGES);
	if (live > MAX_LIVE)
		panic("race: live=%lu: want at most %d", live, MAX_LIVE);
	if (lowmem && nr_pages < 2)
		panic("race: lowmem=1 needs pages=2 or more, one each side of the 1 GiB line");
	if (lowmem && pressure)
		panic("race: lowmem=1 with pressure=1: kswapd could free the parent's pages before a fork, leaving it nothing to reclaim");
	if (lowmem)
		user_base = PUD_SIZE - (nr_pages - 1) * PAGE_SIZE;

	paravirt_set_strategy(strategy);
	race_stats.strategy = pv_mmu_strategy;
	WRITE_ONCE(race_stats.magic, RACE_STATS_MAGIC);
	xen_pin_window_us = window;
	if (marks && !pvsim_enable_trace_marks())
		printk("race: marks=1, but the hypervisor takes no trace marks\n");
	if (!pvsim_register_exit_counters())
		printk("race: VM exits are not counted\n");
	if (!pvclock_present())
		printk("race: no pvclock: times are not measured\n");

	printk("race: strategy=%s pages=%lu window=%lu pressure=%d lowmem=%d passes=%lu live=%lu vcpus=%u%s\n",
	       pv_mmu_strategy_names[pv_mmu_strategy], nr_pages, window,
	       pressure, lowmem, passes, live, nr_cpus,
	       pvsim_deterministic ? " deterministic" : "");

	fork_init();
	parent = create_init_mm();
	/* Nothing before here depends on the schedule: only vCPU0 ran. */
	pvsim_snapshot_point();
	smp_init();
	pvsim_sched_point("race begin", smp_processor_id());

	while (!iters || READ_ONCE(race_stats.forks) +
			 READ_ONCE(race_stats.fork_nomem) < iters) {
		make_pages_present(parent->mmap);
		touch_pages();
		if (lowmem)
			hold_free_pages(LOWMEM_FORK_FRAMES);
		do_fork();
		if (lowmem)
			release_held_pages();
		if (live && nr_live > live)
			exit_oldest();
		if (!writers)
			writer_pass(&init_mm);
		if (!live && nr_live)
			exit_oldest();
	}
	/* The reclaimers are the odd vCPUs. */
	while (passes && atomic_read(&reclaim_done) < (int)(nr_cpus / 2))
		cpu_relax();
	print_stats();
	xen_poweroff();
}
