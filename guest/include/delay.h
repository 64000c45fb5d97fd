/*
 * Busy-waits, as Linux's ndelay() and udelay(). Without a pvclock
 * (pvclock.h) they spin a fixed number of pause instructions instead,
 * which takes roughly as long.
 */
#ifndef _DELAY_H
#define _DELAY_H

#include <types.h>

void ndelay(u64 ns);
void udelay(u64 us);

#endif /* _DELAY_H */
