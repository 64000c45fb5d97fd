/*
 * The guest side of the scenario protocol (package scenario): what every
 * scenario kernel does the same way, included by scenario kernels alone. Each kernel declares its own
 *
 *	struct scenario_oracles {
 *		unsigned long magic;
 *		unsigned long completed;
 *		unsigned long <one per oracle>;
 *	};
 *	struct scenario_oracles scenario_oracles;
 *
 * which the explorer reads by member name from its DWARF, sets it up on
 * vCPU 0, takes pvsim_snapshot_point() and then runs one side of the race
 * on each vCPU: vCPU 0 from kernel_main(), the others from
 * secondary_main(), which end with scenario_secondary_done().
 */
#ifndef _SCENARIO_H
#define _SCENARIO_H

#include <atomic.h>
#include <barrier.h>
#include <cmdline.h>
#include <compiler.h>
#include <kernel.h>
#include <processor.h>
#include <smp.h>
#include <string.h>

/* The bytes "scenario", little-endian: scenario_oracles.magic. */
#define SCENARIO_MAGIC	0x6f6972616e656373UL

/*
 * scenario_start() sets *magic to SCENARIO_MAGIC once the kernel has two
 * vCPUs, and returns the index in names of the variant= argument (default
 * names[0]); it panics, naming kernel and the variants, for another.
 * scenario_secondary_done() counts a secondary vCPU's side done and idles;
 * scenario_wait_secondaries() waits on vCPU 0 until every one is.
 */
/* The secondary vCPUs whose side is done (one kernel: one translation unit). */
static atomic_t secondaries_done = ATOMIC_INIT(0);

static inline unsigned int scenario_start(const char *kernel, unsigned long *magic,
			    const char *const *names, unsigned int nr_names)
{
	char buf[32], want[128];
	const char *name = get_option_str("variant", buf, sizeof(buf), names[0]);
	unsigned int i;
	size_t n = 0;

	if (num_possible_cpus() < 2)
		panic("%s: needs 2 vCPUs", kernel);
	for (i = 0; i < nr_names; i++)
		if (!strcmp(name, names[i]))
			break;
	if (i == nr_names) {
		/* The variants, as "a|b|c", as much of them as fits. */
		for (i = 0; i < nr_names; i++) {
			size_t len = strlen(names[i]);

			if (n + len + 2 > sizeof(want))
				break;
			if (i)
				want[n++] = '|';
			memcpy(want + n, names[i], len);
			n += len;
		}
		want[n] = '\0';
		panic("%s: variant=%s: want %s", kernel, name, want);
	}
	WRITE_ONCE(*magic, SCENARIO_MAGIC);
	return i;
}

static inline void __noreturn scenario_secondary_done(void)
{
	atomic_inc(&secondaries_done);
	for (;;)
		cpu_relax();
}

static inline void scenario_wait_secondaries(void)
{
	while ((unsigned int)atomic_read(&secondaries_done) < num_possible_cpus() - 1)
		cpu_relax();
}

#endif /* _SCENARIO_H */
