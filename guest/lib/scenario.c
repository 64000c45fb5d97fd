/* The guest side of the scenario protocol (scenario.h). */
#include <atomic.h>
#include <barrier.h>
#include <cmdline.h>
#include <kernel.h>
#include <processor.h>
#include <scenario.h>
#include <smp.h>
#include <string.h>

static atomic_t secondaries_done = ATOMIC_INIT(0);

unsigned int scenario_start(const char *kernel, unsigned long *magic,
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

void scenario_secondary_done(void)
{
	atomic_inc(&secondaries_done);
	for (;;)
		cpu_relax();
}

void scenario_wait_secondaries(void)
{
	while ((unsigned int)atomic_read(&secondaries_done) < num_possible_cpus() - 1)
		cpu_relax();
}
