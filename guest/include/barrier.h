/* Memory barriers between vCPUs, as in Linux's asm/barrier.h. */
#ifndef _BARRIER_H
#define _BARRIER_H

#include <compiler.h>

/* x86 orders everything but a store before a later load: mfence does. */
#define smp_mb()		asm volatile("mfence" ::: "memory")
#define smp_rmb()		barrier()

#define smp_load_acquire(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)

#endif /* _BARRIER_H */
