/* grant_table_op: grant table version 1, as a PV guest sees it. */
#ifndef _XEN_GRANT_TABLE_H
#define _XEN_GRANT_TABLE_H

#include <xen/xen.h>

typedef uint32_t grant_ref_t;
typedef uint32_t grant_handle_t;

#define GNTTABOP_map_grant_ref		0
#define GNTTABOP_unmap_grant_ref	1
#define GNTTABOP_setup_table		2
#define GNTTABOP_copy			5
#define GNTTABOP_unmap_and_replace	7
#define GNTTABOP_query_size		6
#define GNTTABOP_set_version		8
#define GNTTABOP_get_status_frames	9
#define GNTTABOP_get_version		10

/* A shared grant entry; Xen sets GTF_reading/GTF_writing while it is mapped. */
struct grant_entry_v1 {
	uint16_t flags;
	domid_t domid;
	uint32_t frame;
};

#define GTF_permit_access	(1U << 0)
#define GTF_readonly		(1U << 2)
#define GTF_reading		(1U << 3)
#define GTF_writing		(1U << 4)

#define GNTMAP_device_map	(1 << 0)
#define GNTMAP_host_map		(1 << 1)
#define GNTMAP_readonly		(1 << 2)
#define GNTMAP_application_map	(1 << 3)
#define GNTMAP_contains_pte	(1 << 4)
#define _GNTMAP_guest_avail0	16

#define GNTST_okay		0
#define GNTST_general_error	(-1)
#define GNTST_bad_domain	(-2)
#define GNTST_bad_gntref	(-3)
#define GNTST_bad_handle	(-4)
#define GNTST_bad_dev_addr	(-6)

struct gnttab_map_grant_ref {
	uint64_t host_addr;
	uint32_t flags;
	grant_ref_t ref;
	domid_t dom;
	int16_t status;
	grant_handle_t handle;
	uint64_t dev_bus_addr;
};

struct gnttab_unmap_grant_ref {
	uint64_t host_addr;
	uint64_t dev_bus_addr;
	grant_handle_t handle;
	int16_t status;
};

struct gnttab_unmap_and_replace {
	uint64_t host_addr;
	uint64_t new_addr;
	grant_handle_t handle;
	int16_t status;
};

struct gnttab_setup_table {
	domid_t dom;
	uint32_t nr_frames;
	int16_t status;
	xen_pfn_t *frame_list;
};

struct gnttab_query_size {
	domid_t dom;
	uint32_t nr_frames;
	uint32_t max_nr_frames;
	int16_t status;
};

struct gnttab_set_version {
	uint32_t version;
};

struct gnttab_get_version {
	domid_t dom;
	uint16_t pad;
	uint32_t version;
};

_Static_assert(sizeof(struct grant_entry_v1) == 8, "grant_entry_v1");
_Static_assert(sizeof(struct gnttab_map_grant_ref) == 32, "gnttab_map_grant_ref");
_Static_assert(offsetof(struct gnttab_map_grant_ref, handle) == 20, "gnttab_map_grant_ref.handle");
_Static_assert(sizeof(struct gnttab_unmap_grant_ref) == 24, "gnttab_unmap_grant_ref");
_Static_assert(sizeof(struct gnttab_setup_table) == 24, "gnttab_setup_table");
_Static_assert(sizeof(struct gnttab_unmap_and_replace) == 24, "gnttab_unmap_and_replace");
_Static_assert(sizeof(struct gnttab_query_size) == 16, "gnttab_query_size");
_Static_assert(sizeof(struct gnttab_get_version) == 8, "gnttab_get_version");

/* GNTTABOP_copy: a grant ref or a frame (DOMID_SELF only) on each side. */
#define GNTCOPY_source_gref		(1U << 0)
#define GNTCOPY_dest_gref		(1U << 1)
#define GNTST_permission_denied		(-8)
#define GNTST_bad_page			(-9)
#define GNTST_bad_copy_arg		(-10)

struct gnttab_copy {
	struct gnttab_copy_ptr {
		union {
			grant_ref_t ref;
			xen_pfn_t gmfn;
		} u;
		domid_t domid;
		uint16_t offset;
	} source, dest;
	uint16_t len;
	uint16_t flags;
	int16_t status;
};

_Static_assert(sizeof(struct gnttab_copy) == 40, "gnttab_copy");
_Static_assert(offsetof(struct gnttab_copy, status) == 36, "gnttab_copy.status");

#endif
