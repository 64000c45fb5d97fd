/* xen_version hypercall: which hypervisor is this and what does it offer. */
#ifndef _XEN_VERSION_H
#define _XEN_VERSION_H

#include <xen/xen.h>

/* Returns (major << 16) | minor; the argument is ignored. */
#define XENVER_version		0

/* Fills a xen_extraversion_t, e.g. ".0-pvsim". */
#define XENVER_extraversion	1
typedef char xen_extraversion_t[16];

#define XENVER_compile_info	2

/* Fills a xen_capabilities_info_t, e.g. "xen-3.0-x86_64". */
#define XENVER_capabilities	3
typedef char xen_capabilities_info_t[1024];

#define XENVER_changeset	4

/* Fills a struct xen_platform_parameters. */
#define XENVER_platform_parameters 5
struct xen_platform_parameters {
	xen_ulong_t virt_start;		/* start of the hypervisor's hole */
};

/* Fills submap with feature bits [32 * submap_idx, 32 * submap_idx + 31]. */
#define XENVER_get_features	6
struct xen_feature_info {
	unsigned int submap_idx;	/* in */
	uint32_t submap;		/* out */
};

/* Returns the page size; the argument must be NULL. */
#define XENVER_pagesize		7

/* Fills a char[1024]; an unprivileged domain gets "<denied>". */
#define XENVER_commandline	9

/* Bits of submap 0. */
#define XENFEAT_mmu_pt_update_preserve_ad	5
#define XENFEAT_gnttab_map_avail_bits		7
#define XENFEAT_direct_mapped			17

_Static_assert(sizeof(struct xen_platform_parameters) == 8, "xen_platform_parameters");
_Static_assert(sizeof(struct xen_feature_info) == 8, "xen_feature_info");
_Static_assert(offsetof(struct xen_feature_info, submap) == 4, "xen_feature_info.submap");

#endif /* _XEN_VERSION_H */
