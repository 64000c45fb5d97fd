/*
 * Types of the "Xen" ELF notes a PV kernel carries for its loader.
 * Usable from assembly as well as C.
 */
#ifndef _XEN_ELFNOTE_H
#define _XEN_ELFNOTE_H

#define XEN_ELFNOTE_INFO		0
#define XEN_ELFNOTE_ENTRY		1	/* 8 bytes: entry address */
#define XEN_ELFNOTE_HYPERCALL_PAGE	2	/* 8 bytes: hypercall page address */
#define XEN_ELFNOTE_VIRT_BASE		3	/* 8 bytes: virtual base of the image */
#define XEN_ELFNOTE_PADDR_OFFSET	4	/* 8 bytes: virt_base - paddr */
#define XEN_ELFNOTE_XEN_VERSION		5	/* string: "xen-3.0" */
#define XEN_ELFNOTE_GUEST_OS		6	/* string */
#define XEN_ELFNOTE_GUEST_VERSION	7	/* string */
#define XEN_ELFNOTE_LOADER		8	/* string: "generic" */
#define XEN_ELFNOTE_PAE_MODE		9
#define XEN_ELFNOTE_FEATURES		10
#define XEN_ELFNOTE_BSD_SYMTAB		11
#define XEN_ELFNOTE_HV_START_LOW	12
#define XEN_ELFNOTE_L1_MFN_VALID	13
#define XEN_ELFNOTE_SUSPEND_CANCEL	14
#define XEN_ELFNOTE_INIT_P2M		15
#define XEN_ELFNOTE_MOD_START_PFN	16
#define XEN_ELFNOTE_SUPPORTED_FEATURES	17
#define XEN_ELFNOTE_PHYS32_ENTRY	18

#endif /* _XEN_ELFNOTE_H */
