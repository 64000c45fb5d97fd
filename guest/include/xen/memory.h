/* memory_op: what a PV guest asks about its memory. */
#ifndef _XEN_MEMORY_H
#define _XEN_MEMORY_H

#include <xen/xen.h>

#define XENMEM_increase_reservation	0
#define XENMEM_maximum_ram_page		2
#define XENMEM_current_reservation	3
#define XENMEM_maximum_reservation	4
#define XENMEM_memory_map		9
#define XENMEM_machphys_mapping		12
#define XENMEM_maximum_gpfn		14

struct e820entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

#define E820_RAM	1
#define E820_RESERVED	2

struct xen_memory_map {
	unsigned int nr_entries;	/* in: room in buffer; out: entries */
	void *buffer;			/* struct e820entry[] */
};

struct xen_machphys_mapping {
	xen_ulong_t v_start, v_end;	/* the read-only M2P */
	xen_ulong_t max_mfn;
};

_Static_assert(sizeof(struct e820entry) == 20, "e820entry");
_Static_assert(sizeof(struct xen_memory_map) == 16, "xen_memory_map");
_Static_assert(offsetof(struct xen_memory_map, buffer) == 8, "xen_memory_map.buffer");
_Static_assert(sizeof(struct xen_machphys_mapping) == 24, "xen_machphys_mapping");

#endif
