/*
 * The guest side of the scenario protocol (package scenario): what every
 * scenario kernel does the same way. Each kernel declares its own
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

#include <compiler.h>

/* The bytes "scenario", little-endian: scenario_oracles.magic. */
#define SCENARIO_MAGIC	0x6f6972616e656373UL

/*
 * Sets *magic to SCENARIO_MAGIC once the kernel has two vCPUs, and
 * returns the index in names of the variant= argument (default names[0]);
 * panics, naming kernel and the variants, for another.
 */
unsigned int scenario_start(const char *kernel, unsigned long *magic,
			    const char *const *names, unsigned int nr_names);

/* A secondary vCPU's side is done: count it, and idle. */
void __noreturn scenario_secondary_done(void);

/* Waits on vCPU 0 until every secondary vCPU's side is done. */
void scenario_wait_secondaries(void);

#endif /* _SCENARIO_H */
