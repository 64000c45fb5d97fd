/*
 * Taking event upcalls (Linux's drivers/xen/events, 2-level ABI): the
 * event callback's entry, xen_hypervisor_callback, which joins the
 * exception path (handle_exception, through trap_hook) with the
 * pseudo-vector XEN_UPCALL_VECTOR, and the handler that walks the pending
 * ports. A kernel that includes this header registers the callback
 * (set_callbacks or callback_op), points trap_hook at a function that
 * calls xen_evtchn_do_upcall for XEN_UPCALL_VECTOR, and clears its
 * evtchn_upcall_mask when it is ready for events.
 */
#ifndef _XEN_EVENTS_H
#define _XEN_EVENTS_H

#include <compiler.h>
#include <smp.h>
#include <xen/event_channel.h>
#include <xen/hypervisor.h>

/* handle_exception()'s trapnr for an event upcall: past the exceptions. */
#define XEN_UPCALL_VECTOR	32

/*
 * The event callback. Xen's frame is RCX, R11, then an exception frame;
 * the stub makes it an exception's, as lib/entry.S's stubs do, with no
 * error code. One per kernel: the header is included by one file.
 */
asm(".pushsection .text\n"
    ".globl xen_hypervisor_callback\n"
    ".type xen_hypervisor_callback, @function\n"
    "xen_hypervisor_callback:\n"
    "	popq	%rcx\n"
    "	popq	%r11\n"
    "	pushq	$-1\n"
    "	pushq	$32\n"		/* XEN_UPCALL_VECTOR */
    "	jmp	exc_common\n"
    ".size xen_hypervisor_callback, . - xen_hypervisor_callback\n"
    ".popsection\n");
void xen_hypervisor_callback(void);

/*
 * drivers/xen/events/events_2l.c: __xen_evtchn_do_upcall(). Takes every
 * port pending and not masked for this vCPU, clearing it, and hands it to
 * handle_port.
 */
static inline void xen_evtchn_do_upcall(void (*handle_port)(evtchn_port_t port))
{
	struct vcpu_info *vcpu_info = xen_vcpu_info();
	struct shared_info *s = HYPERVISOR_shared_info;
	unsigned long pending_words, pending_bits;
	unsigned int word, bit;

	do {
		WRITE_ONCE(vcpu_info->evtchn_upcall_pending, 0);
		pending_words = __atomic_exchange_n(&vcpu_info->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
		while (pending_words) {
			word = __builtin_ctzl(pending_words);
			pending_words &= ~(1UL << word);
			pending_bits = READ_ONCE(s->evtchn_pending[word]) & ~READ_ONCE(s->evtchn_mask[word]);
			while (pending_bits) {
				bit = __builtin_ctzl(pending_bits);
				pending_bits &= ~(1UL << bit);
				__atomic_fetch_and(&s->evtchn_pending[word], ~(1UL << bit), __ATOMIC_SEQ_CST);
				handle_port(word * 64 + bit);
			}
		}
	} while (READ_ONCE(vcpu_info->evtchn_upcall_pending));
}

#endif /* _XEN_EVENTS_H */
