/*
 * Atomic bit operations on memory, as in Linux's asm/bitops.h. Bit nr of
 * the bitmap at addr is bit nr % 64 of word nr / 64; a register bit
 * offset may reach past the first word, as the CPU's bt* instructions do.
 */
#ifndef _BITOPS_H
#define _BITOPS_H

#include <compiler.h>
#include <types.h>

/* Sets bit nr, atomically; a full barrier, as every locked instruction. */
static __always_inline void set_bit(long nr, volatile unsigned long *addr)
{
	asm volatile("lock btsq %1, %0"
		     : "+m" (*addr) : "Ir" (nr) : "memory");
}

/* Clears bit nr, atomically. */
static __always_inline void clear_bit(long nr, volatile unsigned long *addr)
{
	asm volatile("lock btrq %1, %0"
		     : "+m" (*addr) : "Ir" (nr) : "memory");
}

static __always_inline bool test_bit(long nr, const volatile unsigned long *addr)
{
	return (addr[nr / 64] >> (nr % 64)) & 1;
}

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
