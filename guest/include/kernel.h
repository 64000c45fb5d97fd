/* What every test kernel uses: boot hooks, shutdown, panic, BUG, helpers. */
#ifndef _KERNEL_H
#define _KERNEL_H

#include <compiler.h>
#include <elfnote.h>
#include <printk.h>
#include <types.h>
#include <xen/xen.h>

extern struct start_info *xen_start_info;

/*
 * The kernel's name, NAME for kernels/NAME.c: the Makefile defines
 * KBUILD_MODNAME when it compiles a kernel, and PVSIM_DESCRIPTION() stores
 * it here. An oops prints it as the name of the running task.
 */
extern const char kernel_name[];

/* C entry of vCPU0, called from head.S with the start_info of the domain. */
void __noreturn start_kernel(struct start_info *si);

/*
 * The test itself: each kernel in kernels/ defines it. It runs on vCPU0
 * once the runtime is set up; if it returns, the domain powers off.
 */
void kernel_main(void);

/* The structure of type type whose member member is at ptr. */
#define container_of(ptr, type, member)					\
	((type *)((char *)(ptr) - offsetof(type, member)))

/* Both arguments must have the same type, as in Linux. */
#define min(x, y)							\
({									\
	__typeof__(x) __x = (x);					\
	__typeof__(y) __y = (y);					\
	(void)(&__x == &__y);						\
	__x < __y ? __x : __y;						\
})

#define max(x, y)							\
({									\
	__typeof__(x) __x = (x);					\
	__typeof__(y) __y = (y);					\
	(void)(&__x == &__y);						\
	__x > __y ? __x : __y;						\
})

/* End the domain; reason is a SHUTDOWN_* value. */
void __noreturn xen_shutdown(unsigned int reason);
void __noreturn xen_poweroff(void);
void __noreturn xen_crash(void);

/* Print "Kernel panic - not syncing: <message>" and crash the domain. */
void __noreturn panic(const char *fmt, ...) __printf(1, 2);

#define BUG()								\
do {									\
	printk("kernel BUG at %s:%d!\n", __FILE__, __LINE__);		\
	xen_crash();							\
} while (0)

#define BUG_ON(cond)							\
do {									\
	if (unlikely(cond))						\
		BUG();							\
} while (0)

/*
 * PVSIM_DESCRIPTION("one line"): the kernel's description, stored as
 * the "pvsim" ELF note of type 1 for the host to list. Every kernel has
 * exactly one; it also defines kernel_name.
 */
#define PVSIM_NOTE_DESCRIPTION	1
#define PVSIM_DESCRIPTION(text)						\
	const char kernel_name[] = KBUILD_MODNAME;			\
	ELFNOTE(pvsim, PVSIM_NOTE_DESCRIPTION, text)

#endif /* _KERNEL_H */
