/*
 * Hypercalls. Hypercall N is a call to hypercall_page + N * 32, a page the
 * hypervisor fills with call stubs before the kernel starts. Arguments go
 * in rdi, rsi, rdx, r10 and r8; the result comes back in rax. The
 * hypervisor may change the argument registers it was given, rcx, r11 and
 * any memory.
 */
#ifndef _HYPERCALL_H
#define _HYPERCALL_H

#include <types.h>
#include <xen/xen.h>

extern struct { char stub[32]; } hypercall_page[];

#define __HYPERCALL		"call hypercall_page+%c[offset]"
#define __HYPERCALL_ENTRY(name)						\
	[offset] "i" (__HYPERVISOR_##name * sizeof(hypercall_page[0]))
#define __HYPERCALL_CLOBBER	"rcx", "r11", "memory"

/*
 * _hypercallN(type, name, args...) calls __HYPERVISOR_name. Arguments are
 * evaluated into temporaries first, so that evaluating one of them cannot
 * disturb a register already loaded with another.
 */
#define _hypercall0(type, name)						\
({									\
	register unsigned long __res asm("rax");			\
	asm volatile(__HYPERCALL					\
		     : "=r" (__res)					\
		     : __HYPERCALL_ENTRY(name)				\
		     : __HYPERCALL_CLOBBER);				\
	(type)__res;							\
})

#define _hypercall1(type, name, a1)					\
({									\
	unsigned long __v1 = (unsigned long)(a1);			\
	register unsigned long __res asm("rax");			\
	register unsigned long __a1 asm("rdi") = __v1;			\
	asm volatile(__HYPERCALL					\
		     : "=r" (__res), "+r" (__a1)			\
		     : __HYPERCALL_ENTRY(name)				\
		     : __HYPERCALL_CLOBBER);				\
	(type)__res;							\
})

#define _hypercall2(type, name, a1, a2)					\
({									\
	unsigned long __v1 = (unsigned long)(a1);			\
	unsigned long __v2 = (unsigned long)(a2);			\
	register unsigned long __res asm("rax");			\
	register unsigned long __a1 asm("rdi") = __v1;			\
	register unsigned long __a2 asm("rsi") = __v2;			\
	asm volatile(__HYPERCALL					\
		     : "=r" (__res), "+r" (__a1), "+r" (__a2)		\
		     : __HYPERCALL_ENTRY(name)				\
		     : __HYPERCALL_CLOBBER);				\
	(type)__res;							\
})

#define _hypercall3(type, name, a1, a2, a3)				\
({									\
	unsigned long __v1 = (unsigned long)(a1);			\
	unsigned long __v2 = (unsigned long)(a2);			\
	unsigned long __v3 = (unsigned long)(a3);			\
	register unsigned long __res asm("rax");			\
	register unsigned long __a1 asm("rdi") = __v1;			\
	register unsigned long __a2 asm("rsi") = __v2;			\
	register unsigned long __a3 asm("rdx") = __v3;			\
	asm volatile(__HYPERCALL					\
		     : "=r" (__res), "+r" (__a1), "+r" (__a2),		\
		       "+r" (__a3)					\
		     : __HYPERCALL_ENTRY(name)				\
		     : __HYPERCALL_CLOBBER);				\
	(type)__res;							\
})

#define _hypercall4(type, name, a1, a2, a3, a4)				\
({									\
	unsigned long __v1 = (unsigned long)(a1);			\
	unsigned long __v2 = (unsigned long)(a2);			\
	unsigned long __v3 = (unsigned long)(a3);			\
	unsigned long __v4 = (unsigned long)(a4);			\
	register unsigned long __res asm("rax");			\
	register unsigned long __a1 asm("rdi") = __v1;			\
	register unsigned long __a2 asm("rsi") = __v2;			\
	register unsigned long __a3 asm("rdx") = __v3;			\
	register unsigned long __a4 asm("r10") = __v4;			\
	asm volatile(__HYPERCALL					\
		     : "=r" (__res), "+r" (__a1), "+r" (__a2),		\
		       "+r" (__a3), "+r" (__a4)				\
		     : __HYPERCALL_ENTRY(name)				\
		     : __HYPERCALL_CLOBBER);				\
	(type)__res;							\
})

#define _hypercall5(type, name, a1, a2, a3, a4, a5)			\
({									\
	unsigned long __v1 = (unsigned long)(a1);			\
	unsigned long __v2 = (unsigned long)(a2);			\
	unsigned long __v3 = (unsigned long)(a3);			\
	unsigned long __v4 = (unsigned long)(a4);			\
	unsigned long __v5 = (unsigned long)(a5);			\
	register unsigned long __res asm("rax");			\
	register unsigned long __a1 asm("rdi") = __v1;			\
	register unsigned long __a2 asm("rsi") = __v2;			\
	register unsigned long __a3 asm("rdx") = __v3;			\
	register unsigned long __a4 asm("r10") = __v4;			\
	register unsigned long __a5 asm("r8") = __v5;			\
	asm volatile(__HYPERCALL					\
		     : "=r" (__res), "+r" (__a1), "+r" (__a2),		\
		       "+r" (__a3), "+r" (__a4), "+r" (__a5)		\
		     : __HYPERCALL_ENTRY(name)				\
		     : __HYPERCALL_CLOBBER);				\
	(type)__res;							\
})

static inline int HYPERVISOR_set_trap_table(const struct trap_info *table)
{
	return _hypercall1(int, set_trap_table, table);
}

static inline int HYPERVISOR_mmu_update(struct mmu_update *req,
					unsigned int count,
					unsigned int *success_count,
					domid_t domid)
{
	return _hypercall4(int, mmu_update, req, count, success_count, domid);
}

static inline int HYPERVISOR_stack_switch(unsigned long ss, unsigned long sp)
{
	return _hypercall2(int, stack_switch, ss, sp);
}

static inline int HYPERVISOR_multicall(struct multicall_entry *calls,
				       unsigned int nr_calls)
{
	return _hypercall2(int, multicall, calls, nr_calls);
}

static inline int HYPERVISOR_update_va_mapping(unsigned long va, u64 pte,
					       unsigned long flags)
{
	return _hypercall3(int, update_va_mapping, va, pte, flags);
}

static inline int HYPERVISOR_xen_version(int cmd, void *arg)
{
	return _hypercall2(int, xen_version, cmd, arg);
}

static inline int HYPERVISOR_console_io(int cmd, int count, const char *buf)
{
	return _hypercall3(int, console_io, cmd, count, buf);
}

static inline int HYPERVISOR_vcpu_op(int cmd, unsigned int vcpuid, void *arg)
{
	return _hypercall3(int, vcpu_op, cmd, vcpuid, arg);
}

static inline int HYPERVISOR_set_segment_base(int reg, unsigned long value)
{
	return _hypercall2(int, set_segment_base, reg, value);
}

static inline int HYPERVISOR_mmuext_op(struct mmuext_op *ops,
				       unsigned int count,
				       unsigned int *success_count,
				       domid_t domid)
{
	return _hypercall4(int, mmuext_op, ops, count, success_count, domid);
}

static inline int HYPERVISOR_sched_op(int cmd, void *arg)
{
	return _hypercall2(int, sched_op, cmd, arg);
}

static inline long HYPERVISOR_memory_op(unsigned long cmd, void *arg)
{
	return _hypercall2(long, memory_op, cmd, arg);
}

static inline int HYPERVISOR_grant_table_op(unsigned int cmd, void *uop,
					    unsigned int count)
{
	return _hypercall3(int, grant_table_op, cmd, uop, count);
}

static inline int HYPERVISOR_fpu_taskswitch(int set)
{
	return _hypercall1(int, fpu_taskswitch, set);
}

static inline int HYPERVISOR_set_gdt(unsigned long *frames, unsigned int entries)
{
	return _hypercall2(int, set_gdt, frames, entries);
}

static inline int HYPERVISOR_update_descriptor(u64 ma, u64 desc)
{
	return _hypercall2(int, update_descriptor, ma, desc);
}

static inline int HYPERVISOR_callback_op(int cmd, const void *arg)
{
	return _hypercall2(int, callback_op, cmd, arg);
}

static inline int HYPERVISOR_set_callbacks(unsigned long event,
					   unsigned long failsafe,
					   unsigned long syscall)
{
	return _hypercall3(int, set_callbacks, event, failsafe, syscall);
}

/*
 * MULTI_name(mcl, args...) fills one entry of a multicall batch with the
 * call HYPERVISOR_name(args...) would make; HYPERVISOR_multicall() then
 * runs the batch and leaves each call's result in its entry.
 */
static inline void MULTI_mmu_update(struct multicall_entry *mcl,
				    struct mmu_update *req, unsigned int count,
				    unsigned int *success_count, domid_t domid)
{
	mcl->op = __HYPERVISOR_mmu_update;
	mcl->args[0] = (unsigned long)req;
	mcl->args[1] = count;
	mcl->args[2] = (unsigned long)success_count;
	mcl->args[3] = domid;
}

static inline void MULTI_update_va_mapping(struct multicall_entry *mcl,
					   unsigned long va, u64 pte,
					   unsigned long flags)
{
	mcl->op = __HYPERVISOR_update_va_mapping;
	mcl->args[0] = va;
	mcl->args[1] = pte;
	mcl->args[2] = flags;
}

static inline void MULTI_mmuext_op(struct multicall_entry *mcl,
				   struct mmuext_op *ops, unsigned int count,
				   unsigned int *success_count, domid_t domid)
{
	mcl->op = __HYPERVISOR_mmuext_op;
	mcl->args[0] = (unsigned long)ops;
	mcl->args[1] = count;
	mcl->args[2] = (unsigned long)success_count;
	mcl->args[3] = domid;
}

/* Arms the singleshot timer at system time timeout; 0 stops it. */
static inline int HYPERVISOR_set_timer_op(u64 timeout)
{
	return _hypercall1(int, set_timer_op, timeout);
}

#endif /* _HYPERCALL_H */
