/*
 * Atomic bit operations on memory, as in Linux's asm/bitops.h. Bit nr of
 * the bitmap at addr is bit nr % 64 of word nr / 64; a register bit
 * offset may reach past the first word, as the CPU's bt* instructions do.
 */
#ifndef _BITOPS_H
#define _BITOPS_H

#include <compiler.h>
#include <types.h>

/* Sets bit nr and returns its old value, atomically. */
static __always_inline bool test_and_set_bit(long nr, volatile unsigned long *addr)
{
	bool oldbit;

	asm volatile("lock btsq %2, %1"
		     : "=@ccc" (oldbit), "+m" (*addr)
		     : "Ir" (nr) : "memory");
	return oldbit;
}

/* Clears bit nr and returns its old value, atomically. */
static __always_inline bool test_and_clear_bit(long nr, volatile unsigned long *addr)
{
	bool oldbit;

	asm volatile("lock btrq %2, %1"
		     : "=@ccc" (oldbit), "+m" (*addr)
		     : "Ir" (nr) : "memory");
	return oldbit;
}

#endif /* _BITOPS_H */
