/*
 * Multicall batching (xen/multicalls.h), after Linux 2.6.24's
 * arch/x86/xen/multicalls.c: a per-CPU buffer of MC_BATCH entries with
 * MC_ARGS quadwords of argument space and MC_BATCH callbacks.
 */
#include <hypercall.h>
#include <kernel.h>
#include <smp.h>
#include <xen/multicalls.h>

#define MC_BATCH	32
#define MC_ARGS		(MC_BATCH * 16 / sizeof(u64))

struct callback {
	void (*fn)(void *);
	void *data;
};

struct mc_buffer {
	struct multicall_entry entries[MC_BATCH];
	u64 args[MC_ARGS];
	struct callback callbacks[MC_BATCH];
	unsigned int mcidx, argidx, cbidx;
};

static struct mc_buffer mc_buffer[NR_CPUS];

void xen_mc_batch(void)
{
}

void xen_mc_flush(void)
{
	struct mc_buffer *b = &mc_buffer[smp_processor_id()];
	unsigned int i, failed = 0;

	if (b->mcidx) {
		if (HYPERVISOR_multicall(b->entries, b->mcidx) != 0)
			BUG();
		for (i = 0; i < b->mcidx; i++) {
			if ((long)b->entries[i].result < 0) {
				printk("xen_mc_flush: call %u of %u (hypercall %lu) failed: %ld\n",
				       i, b->mcidx, (unsigned long)b->entries[i].op,
				       (long)b->entries[i].result);
				failed++;
			}
		}
		b->mcidx = 0;
		b->argidx = 0;
	} else {
		BUG_ON(b->argidx != 0);
	}

	for (i = 0; i < b->cbidx; i++)
		b->callbacks[i].fn(b->callbacks[i].data);
	b->cbidx = 0;

	BUG_ON(failed);
}

struct multicall_space __xen_mc_entry(size_t args)
{
	struct mc_buffer *b = &mc_buffer[smp_processor_id()];
	unsigned int argspace = (args + sizeof(u64) - 1) / sizeof(u64);
	struct multicall_space ret;

	BUG_ON(argspace > MC_ARGS);
	if (b->mcidx == MC_BATCH || b->argidx + argspace > MC_ARGS)
		xen_mc_flush();

	ret.mc = &b->entries[b->mcidx++];
	ret.args = &b->args[b->argidx];
	b->argidx += argspace;
	return ret;
}

void xen_mc_issue(unsigned int mode)
{
	(void)mode;
	xen_mc_flush();
}

void xen_mc_callback(void (*fn)(void *), void *data)
{
	struct mc_buffer *b = &mc_buffer[smp_processor_id()];

	if (b->cbidx == MC_BATCH)
		xen_mc_flush();
	b->callbacks[b->cbidx].fn = fn;
	b->callbacks[b->cbidx].data = data;
	b->cbidx++;
}
