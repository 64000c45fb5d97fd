/* Attribute shorthands and compiler barriers, spelled as in Linux. */
#ifndef _COMPILER_H
#define _COMPILER_H

#define __aligned(x)		__attribute__((__aligned__(x)))
#define __section(s)		__attribute__((__section__(s)))
#define __used			__attribute__((__used__))
#define __weak			__attribute__((__weak__))
#define __noreturn		__attribute__((__noreturn__))
#define __printf(fmt, args)	__attribute__((__format__(printf, fmt, args)))
#define noinline		__attribute__((__noinline__))
#define __always_inline		inline __attribute__((__always_inline__))

#define likely(x)		__builtin_expect(!!(x), 1)
#define unlikely(x)		__builtin_expect(!!(x), 0)

#define barrier()		asm volatile("" ::: "memory")

/* Single, untorn accesses the compiler may neither merge nor repeat. */
#define READ_ONCE(x)		(*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, val)	(*(volatile __typeof__(x) *)&(x) = (val))

#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#define ALIGN(x, a)		(((x) + (a) - 1) & ~((__typeof__(x))(a) - 1))

#endif /* _COMPILER_H */
