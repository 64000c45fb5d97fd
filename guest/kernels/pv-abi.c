/*
 * The parts of Xen's x86-64 PV ABI that kernels pvsim did not write use
 * to boot (the Xen Test Framework, Linux), each case against what Xen
 * returns: callback_op and set_callbacks; set_gdt with a descriptor page
 * (validated and fixed up as Xen's check_descriptor does, then loaded),
 * update_descriptor; MMUEXT_NEW_USER_BASEPTR; _PAGE_USER added to a
 * kernel mapping (adjust_guest_l1e); loads from the M2P at Xen's default
 * address; xen_version as an unprivileged domain sees it; memory_op's
 * questions about the domain's memory; CR0 and CR3 as Xen emulates them,
 * with fpu_taskswitch and clts; hypercalls made by syscall. A mismatch
 * panics with the case's name; "pv-abi: ok" at the end.
 */
#include <barrier.h>
#include <hypercall.h>
#include <kernel.h>
#include <mm.h>
#include <page.h>
#include <pgtable.h>
#include <string.h>
#include <xen/callback.h>
#include <xen/errno.h>
#include <xen/grant_table.h>
#include <xen/memory.h>
#include <xen/mmu.h>
#include <xen/version.h>

PVSIM_DESCRIPTION("callback_op, set_gdt, update_descriptor, NEW_USER_BASEPTR, _PAGE_USER, the M2P, xen_version");

static void expect(const char *what, long got, long want)
{
	if (got != want)
		panic("pv-abi: FAIL: %s: got %ld (0x%lx), want %ld (0x%lx)", what, got, got, want, want);
	printk("pv-abi: %s: %ld\n", what, got);
}

static void callbacks(void)
{
	struct callback_register cb = { .type = CALLBACKTYPE_event, .address = (unsigned long)callbacks };
	struct callback_unregister un = { .type = CALLBACKTYPE_event };

	expect("callback_op(register event)", HYPERVISOR_callback_op(CALLBACKOP_register, &cb), 0);
	cb.type = CALLBACKTYPE_syscall;
	cb.flags = CALLBACKF_mask_events;
	expect("callback_op(register syscall)", HYPERVISOR_callback_op(CALLBACKOP_register, &cb), 0);
	cb.address = 0x8000000000000000UL;
	expect("callback_op(register non-canonical)", HYPERVISOR_callback_op(CALLBACKOP_register, &cb), -EINVAL);
	cb.type = 3;
	cb.address = (unsigned long)callbacks;
	expect("callback_op(register type 3)", HYPERVISOR_callback_op(CALLBACKOP_register, &cb), -ENOSYS);
	expect("callback_op(unregister event)", HYPERVISOR_callback_op(CALLBACKOP_unregister, &un), -EINVAL);
	cb.type = CALLBACKTYPE_nmi;
	expect("callback_op(register nmi)", HYPERVISOR_callback_op(CALLBACKOP_register, &cb), 0);
	un.type = CALLBACKTYPE_nmi;
	expect("callback_op(unregister nmi)", HYPERVISOR_callback_op(CALLBACKOP_unregister, &un), 0);
	expect("callback_op(NULL)", HYPERVISOR_callback_op(CALLBACKOP_register, NULL), -EFAULT);
	expect("callback_op(cmd 7)", HYPERVISOR_callback_op(7, &cb), -ENOSYS);
	expect("set_callbacks", HYPERVISOR_set_callbacks((unsigned long)callbacks, 0, 0), 0);
}

#define DATA_DPL0	0x00cf92000000ffffUL	/* flat 32-bit data, DPL 0 */
#define DATA_DPL3	0x00cff2000000ffffUL	/* the same at DPL 3 */
#define CODE64_DPL0	0x00af9a000000ffffUL
#define CODE64_DPL3	0x00affa000000ffffUL
#define TSS64		0x0000890000000000UL	/* a system descriptor Xen refuses */
/* Flat 32-bit data at DPL 3 with base b (bits 0-23 at 16, 24-31 at 56). */
#define DATA_DPL3_BASE(b)	(DATA_DPL3 | ((u64)(b) & 0xffffff) << 16 | ((u64)(b) >> 24) << 56)
#define USER_GS_BASE	0x12345000UL
#define MSR_KERNEL_GS_BASE	0xc0000102

static u64 rdmsr(unsigned int msr)
{
	u32 lo, hi;

	asm volatile("rdmsr" : "=a" (lo), "=d" (hi) : "c" (msr));
	return (u64)hi << 32 | lo;
}

static void gdt(void)
{
	struct page *page = alloc_page();
	u64 *desc = page_address(page);
	unsigned long frame = page_to_pfn(page);
	u64 ma = (u64)frame << PAGE_SHIFT;
	pte_t *pte;
	unsigned int level;

	desc[1] = DATA_DPL0;
	desc[2] = TSS64;
	desc[3] = DATA_DPL3_BASE(USER_GS_BASE);
	if (xen_make_pages_readonly(&page, 1))
		panic("pv-abi: remapping the GDT page read-only");
	expect("set_gdt with a TSS in the page", HYPERVISOR_set_gdt(&frame, 8), -EINVAL);
	expect("update_descriptor(TSS)", HYPERVISOR_update_descriptor(ma + 16, TSS64), -EINVAL);
	expect("update_descriptor(unaligned)", HYPERVISOR_update_descriptor(ma + 4, DATA_DPL3), -EINVAL);
	/* The page is read-only to the guest: update_descriptor writes it. */
	expect("update_descriptor(null over the TSS)", HYPERVISOR_update_descriptor(ma + 16, 0), 0);
	expect("set_gdt", HYPERVISOR_set_gdt(&frame, 8), 0);
	expect("the DPL 0 descriptor, raised to 3", desc[1] == DATA_DPL3, 1);
	expect("update_descriptor(code, DPL 0)", HYPERVISOR_update_descriptor(ma + 16, CODE64_DPL0), 0);
	expect("the code descriptor, raised to 3", desc[2] == CODE64_DPL3, 1);
	pte = lookup_address((unsigned long)desc, &level);
	expect("mmu_update making a GDT page writable",
	       xen_mmu_update(pte, pte_val(*pte) | _PAGE_RW, MMU_NORMAL_PT_UPDATE), -EINVAL);
	/*
	 * No selector load checks the installed GDT here: on kvm_pvm a
	 * data-segment load at CPL3 reads back 0 whatever the selector, so
	 * the test could not tell a GDT that works from one that does not.
	 * The hypervisor's own load of the user GS reads it, though.
	 */
	expect("set_segment_base(GS_USER_SEL, entry 3)", HYPERVISOR_set_segment_base(SEGBASE_GS_USER_SEL, 3 << 3), 0);
	expect("the user GS base is the descriptor's", rdmsr(MSR_KERNEL_GS_BASE), USER_GS_BASE);
	expect("set_segment_base(GS_USER_SEL, an empty entry)", HYPERVISOR_set_segment_base(SEGBASE_GS_USER_SEL, 5 << 3 | 3), 0);
	expect("a descriptor that is not present loads NUL, base 0", rdmsr(MSR_KERNEL_GS_BASE), 0);
	expect("set_gdt(7169 entries)", HYPERVISOR_set_gdt(&frame, 7169), -EINVAL);
	expect("set_gdt(NULL)", HYPERVISOR_set_gdt(NULL, 1), -EFAULT);
	expect("set_gdt(0 entries)", HYPERVISOR_set_gdt(&frame, 0), 0);
	expect("the released page remapped writable", xen_make_pages_readwrite(&page, 1), 0);
	desc[1] = desc[3] = 0;
	__free_page(page);
}

/* MMUEXT_SET_LDT: recorded, with Xen's checks. */
static void ldt(void)
{
	struct mmuext_op op = { .cmd = MMUEXT_SET_LDT };

	op.arg1.linear_addr = 0x100000;
	op.arg2.nr_ents = 16;
	expect("SET_LDT", HYPERVISOR_mmuext_op(&op, 1, NULL, DOMID_SELF), 0);
	op.arg1.linear_addr = 0x100008;
	expect("SET_LDT, unaligned", HYPERVISOR_mmuext_op(&op, 1, NULL, DOMID_SELF), -EINVAL);
	op.arg1.linear_addr = 0xffff800000000000UL;
	expect("SET_LDT in the hypervisor's range", HYPERVISOR_mmuext_op(&op, 1, NULL, DOMID_SELF), -EINVAL);
	op.arg1.linear_addr = 0x100000;
	op.arg2.nr_ents = 8193;
	expect("SET_LDT of 8193 entries", HYPERVISOR_mmuext_op(&op, 1, NULL, DOMID_SELF), -EINVAL);
	op.arg1.linear_addr = 0x123;	/* ignored: no entries */
	op.arg2.nr_ents = 0;
	expect("SET_LDT of none", HYPERVISOR_mmuext_op(&op, 1, NULL, DOMID_SELF), 0);
}

static void user_baseptr(void)
{
	struct mmuext_op op = { .cmd = MMUEXT_NEW_USER_BASEPTR };
	struct page *page = alloc_page();

	op.arg1.mfn = virt_to_pfn(xen_start_info->pt_base);
	expect("NEW_USER_BASEPTR(the boot L4)", HYPERVISOR_mmuext_op(&op, 1, NULL, DOMID_SELF), 0);
	op.arg1.mfn = page_to_pfn(page);
	expect("NEW_USER_BASEPTR(a data page)", HYPERVISOR_mmuext_op(&op, 1, NULL, DOMID_SELF), -EINVAL);
	op.arg1.mfn = 0;
	expect("NEW_USER_BASEPTR(0)", HYPERVISOR_mmuext_op(&op, 1, NULL, DOMID_SELF), 0);
	__free_page(page);
}

static void page_user(void)
{
	struct page *page = alloc_page();
	unsigned long va = (unsigned long)page_address(page);
	pte_t *pte;
	unsigned int level;

	*(u64 *)va = 0x5a5a5a5a;
	/* A kernel mapping, as Linux makes one: no _PAGE_USER. */
	expect("update_va_mapping without _PAGE_USER",
	       HYPERVISOR_update_va_mapping(va, pte_val(pfn_pte(page_to_pfn(page), PAGE_KERNEL)) & ~_PAGE_USER, UVMF_INVLPG), 0);
	pte = lookup_address(va, &level);
	expect("the entry has _PAGE_USER", !!(pte_val(*pte) & _PAGE_USER), 1);
	expect("and _PAGE_GUEST_KERNEL", !!(pte_val(*pte) & _PAGE_GUEST_KERNEL), 1);
	expect("the page reads at CPL3", *(u64 *)va, 0x5a5a5a5a);
	expect("update_va_mapping back", HYPERVISOR_update_va_mapping(va, pte_val(pfn_pte(page_to_pfn(page), PAGE_KERNEL)), UVMF_INVLPG), 0);
	expect("a user mapping is made global", !!(pte_val(*pte) & _PAGE_GLOBAL), 1);
	__free_page(page);
}

#define MACH2PHYS_VIRT_START	0xffff800000000000UL

static void m2p(void)
{
	const unsigned long *machine_to_phys = (const unsigned long *)MACH2PHYS_VIRT_START;
	unsigned long mfn = virt_to_pfn(xen_start_info);

	expect("m2p[start_info's frame]", READ_ONCE(machine_to_phys[mfn]), mfn);
	expect("m2p[beyond the domain's RAM]", READ_ONCE(machine_to_phys[xen_start_info->nr_pages + 8]), -1);
	/* Xen's page: no frame of the guest's. */
	expect("m2p[shared info]", READ_ONCE(machine_to_phys[PFN_DOWN(xen_start_info->shared_info)]), -1);
}

static void memory(void)
{
	static struct e820entry map[8];
	struct xen_memory_map mm = { .nr_entries = 8, .buffer = map };
	struct xen_machphys_mapping mp;
	unsigned long nr = xen_start_info->nr_pages;
	unsigned long si = xen_start_info->shared_info;
	domid_t self = DOMID_SELF, other = 5;

	expect("maximum_reservation(DOMID_SELF)", HYPERVISOR_memory_op(XENMEM_maximum_reservation, &self), nr);
	expect("current_reservation(DOMID_SELF)", HYPERVISOR_memory_op(XENMEM_current_reservation, &self), nr);
	expect("maximum_reservation(domain 5)", HYPERVISOR_memory_op(XENMEM_maximum_reservation, &other), -ESRCH);
	expect("maximum_gpfn", HYPERVISOR_memory_op(XENMEM_maximum_gpfn, &self), nr - 1);
	expect("maximum_ram_page", HYPERVISOR_memory_op(XENMEM_maximum_ram_page, NULL), nr - 1);
	expect("increase_reservation", HYPERVISOR_memory_op(XENMEM_increase_reservation, NULL), -ENOSYS);
	expect("memory_map", HYPERVISOR_memory_op(XENMEM_memory_map, &mm), 0);
	expect("memory_map: entries", mm.nr_entries, 1);
	expect("memory_map: RAM", map[0].type == E820_RAM && map[0].addr == 0 && map[0].size == nr * PAGE_SIZE, 1);
	expect("memory_map: shared info is not RAM", si >= nr * PAGE_SIZE, 1);
	mm.nr_entries = 0;
	expect("memory_map, no room", HYPERVISOR_memory_op(XENMEM_memory_map, &mm), 0);
	expect("memory_map, no room: entries", mm.nr_entries, 0);
	expect("machphys_mapping", HYPERVISOR_memory_op(XENMEM_machphys_mapping, &mp), 0);
	expect("machphys_mapping: in the hypervisor's range", mp.v_start >= HYPERVISOR_VIRT_START &&
	       mp.v_end <= HYPERVISOR_VIRT_END && mp.v_start < mp.v_end, 1);
	expect("machphys_mapping: max_mfn covers RAM", mp.max_mfn >= nr - 1, 1);
	expect("the M2P where machphys_mapping says", ((unsigned long *)mp.v_start)[3], 3);
	expect("the M2P where machphys_mapping says: the last frame of RAM", ((unsigned long *)mp.v_start)[nr - 1], nr - 1);
	expect("the M2P where machphys_mapping says: shared info is Xen's", ((unsigned long *)mp.v_start)[PFN_DOWN(si)], -1);
}

/*
 * pvsim's one domain is domain 1, a toolstack's first guest: an unbound
 * event channel's status names it, as XTF's xtf_get_domid() finds it.
 * DOMID_SELF is no domain to map_grant_ref; domain 0 is the backend's,
 * which grants nothing.
 */
#define SELF_DOMID	1
#define BACKEND_DOMID	0

static int16_t map_grant(unsigned long host_addr, uint32_t flags, grant_ref_t ref,
			 domid_t dom, grant_handle_t *handle)
{
	struct gnttab_map_grant_ref op = {
		.host_addr = host_addr, .flags = flags, .ref = ref, .dom = dom,
		.status = 99,
	};

	if (HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &op, 1))
		panic("map_grant_ref: the hypercall failed");
	if (handle)
		*handle = op.handle;
	return op.status;
}

static int16_t unmap_grant_bus(unsigned long host_addr, uint64_t bus_addr, grant_handle_t handle)
{
	struct gnttab_unmap_grant_ref op = {
		.host_addr = host_addr, .dev_bus_addr = bus_addr, .handle = handle, .status = 99,
	};

	if (HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &op, 1))
		panic("unmap_grant_ref: the hypercall failed");
	return op.status;
}

static int16_t unmap_grant(unsigned long host_addr, grant_handle_t handle)
{
	return unmap_grant_bus(host_addr, 0, handle);
}

#define NR_BAD_UNMAPS	300

static int16_t copy_one(struct gnttab_copy *op)
{
	op->status = 99;
	if (HYPERVISOR_grant_table_op(GNTTABOP_copy, op, 1))
		panic("grant copy: the hypercall failed");
	return op->status;
}

/*
 * GNTTABOP_copy, as a backend copies to and from its frontends' grants:
 * grant 8 ('granted', writable) and 9 (the same frame, read-only), a
 * frame of ours by DOMID_SELF, and what Xen's gnttab_copy_one refuses.
 */
static void grant_copy(volatile struct grant_entry_v1 *gnttab, struct page *granted,
		       struct page *dst, unsigned long pagetable)
{
	volatile char *g = page_address(granted), *d = page_address(dst);
	struct gnttab_copy op = {
		.source = { .u.ref = 9, .domid = SELF_DOMID, .offset = 0 },
		.dest = { .u.gmfn = page_to_pfn(dst), .domid = DOMID_SELF, .offset = 100 },
		.len = 5, .flags = GNTCOPY_source_gref,
	};

	expect("copy from a read-only grant to a frame", copy_one(&op), GNTST_okay);
	expect("the bytes copied", d[100] == 'g' && d[104] == 't', 1);
	expect("the grant no longer in use after the copy", gnttab[9].flags, GTF_permit_access | GTF_readonly);
	op = (struct gnttab_copy){
		.source = { .u.gmfn = page_to_pfn(dst), .domid = DOMID_SELF, .offset = 100 },
		.dest = { .u.ref = 8, .domid = DOMID_SELF, .offset = 4091 },
		.len = 5, .flags = GNTCOPY_dest_gref,
	};
	expect("copy from a frame into a grant, to the last byte", copy_one(&op), GNTST_okay);
	expect("the bytes copied into the grant", g[4091] == 'g' && g[4095] == 't', 1);
	expect("grant 8 no longer in use after the copy", gnttab[8].flags, GTF_permit_access);

	op.dest.offset = 4092;
	expect("copy past the end of the page", copy_one(&op), GNTST_bad_copy_arg);
	op.dest = (struct gnttab_copy_ptr){ .u.ref = 9, .domid = SELF_DOMID };
	expect("copy into a read-only grant", copy_one(&op), GNTST_general_error);
	op.dest = (struct gnttab_copy_ptr){ .u.ref = 8, .domid = 7 };
	expect("copy into a grant of a domain that is not", copy_one(&op), GNTST_bad_domain);
	op.dest = (struct gnttab_copy_ptr){ .u.ref = 8, .domid = BACKEND_DOMID };
	expect("copy into the backend's grant", copy_one(&op), GNTST_general_error);
	op.dest = (struct gnttab_copy_ptr){ .u.ref = 5000, .domid = SELF_DOMID };
	expect("copy into a grant past the table", copy_one(&op), GNTST_bad_gntref);
	op.flags = 0;
	op.dest = (struct gnttab_copy_ptr){ .u.gmfn = page_to_pfn(dst), .domid = SELF_DOMID };
	expect("copy to a frame named by our domid, not DOMID_SELF", copy_one(&op), GNTST_permission_denied);
	op.dest = (struct gnttab_copy_ptr){ .u.gmfn = pagetable, .domid = DOMID_SELF };
	expect("copy into a pagetable", copy_one(&op), GNTST_general_error);
	op.dest = (struct gnttab_copy_ptr){ .u.gmfn = xen_start_info->nr_pages, .domid = DOMID_SELF };
	expect("copy into a frame outside the domain", copy_one(&op), GNTST_bad_page);
	op.len = 0;
	expect("copy nothing, even there", copy_one(&op), GNTST_okay);
	expect("nothing left in use", gnttab[8].flags | gnttab[9].flags << 8, GTF_permit_access | (GTF_permit_access | GTF_readonly) << 8);
}

/*
 * Self-grants, as XTF's XSA tests and Linux's gntdev make them: the table
 * set up and mapped, a frame granted to ourselves and mapped through the
 * grant by PTE address (with available bits, XENFEAT_gnttab_map_avail_bits)
 * and by linear address, what map_grant_ref refuses, and the unmaps.
 */
static void grant_table(void)
{
	static struct gnttab_unmap_grant_ref bad[NR_BAD_UNMAPS];
	struct gnttab_query_size qs = { .dom = DOMID_SELF };
	struct gnttab_set_version sv = { .version = 2 };
	struct gnttab_get_version gv = { .dom = DOMID_SELF };
	xen_pfn_t frame;
	struct gnttab_setup_table st = { .dom = DOMID_SELF, .nr_frames = 1, .frame_list = &frame };
	struct page *table = alloc_page(), *granted = alloc_page(), *host = alloc_page(), *ro = alloc_page();
	unsigned long tva = (unsigned long)page_address(table), gva = (unsigned long)page_address(granted);
	unsigned long hva = (unsigned long)page_address(host), rva = (unsigned long)page_address(ro);
	volatile struct grant_entry_v1 *gnttab = (void *)tva;
	unsigned int level;
	pte_t *hpte = lookup_address(hva, &level), saved = *hpte;
	unsigned long pte_ma = virt_to_machine(hpte).maddr;
	grant_handle_t h, hro;
	unsigned int i, all_bad;

	expect("query_size", HYPERVISOR_grant_table_op(GNTTABOP_query_size, &qs, 1), 0);
	expect("query_size: status", qs.status, GNTST_okay);
	expect("query_size: nr_frames", qs.nr_frames, 1);
	expect("query_size: max_nr_frames", qs.max_nr_frames >= 1, 1);
	expect("query_size, count 2", HYPERVISOR_grant_table_op(GNTTABOP_query_size, &qs, 2), -EINVAL);
	expect("set_version(2)", HYPERVISOR_grant_table_op(GNTTABOP_set_version, &sv, 1), -ENOSYS);
	expect("set_version(2): the version in use", sv.version, 1);
	sv.version = 1;
	expect("set_version(1)", HYPERVISOR_grant_table_op(GNTTABOP_set_version, &sv, 1), 0);
	expect("get_version", HYPERVISOR_grant_table_op(GNTTABOP_get_version, &gv, 1), 0);
	expect("get_version: version", gv.version, 1);
	expect("copy, no records", HYPERVISOR_grant_table_op(GNTTABOP_copy, NULL, 0), 0);
	expect("setup_table", HYPERVISOR_grant_table_op(GNTTABOP_setup_table, &st, 1), 0);
	expect("setup_table: status", st.status, GNTST_okay);
	expect("setup_table: the frame is not RAM", frame >= xen_start_info->nr_pages, 1);
	st.nr_frames = 4096;
	expect("setup_table of 4096 frames", HYPERVISOR_grant_table_op(GNTTABOP_setup_table, &st, 1), 0);
	expect("setup_table of 4096 frames: status", st.status, GNTST_general_error);

	/* Map the table where the page 'table' was, and grant 'granted'. */
	expect("map the grant table", HYPERVISOR_update_va_mapping(tva, pte_val(mfn_pte(frame, PAGE_KERNEL)), UVMF_INVLPG), 0);
	*(volatile u64 *)gva = 0x746e617267;	/* "grant" */
	gnttab[8].domid = SELF_DOMID;
	gnttab[8].frame = page_to_pfn(granted);
	barrier();
	gnttab[8].flags = GTF_permit_access;
	gnttab[9].domid = SELF_DOMID;
	gnttab[9].frame = page_to_pfn(granted);
	barrier();
	gnttab[9].flags = GTF_permit_access | GTF_readonly;
	gnttab[10].domid = SELF_DOMID;
	gnttab[10].frame = virt_to_pfn(hpte);	/* an L1 pagetable */
	barrier();
	gnttab[10].flags = GTF_permit_access;

	/* What map_grant_ref refuses, changing nothing. */
	expect("map, DOMID_SELF", map_grant(pte_ma, GNTMAP_host_map | GNTMAP_contains_pte, 8, DOMID_SELF, NULL), GNTST_bad_domain);
	expect("map, a domain that is not", map_grant(pte_ma, GNTMAP_host_map | GNTMAP_contains_pte, 8, 7, NULL), GNTST_bad_domain);
	expect("map, the backend's grant", map_grant(pte_ma, GNTMAP_host_map | GNTMAP_contains_pte, 8, BACKEND_DOMID, NULL), GNTST_general_error);
	expect("map, no map flags", map_grant(pte_ma, GNTMAP_contains_pte, 8, SELF_DOMID, NULL), GNTST_bad_gntref);
	expect("map, ref past the table", map_grant(pte_ma, GNTMAP_host_map | GNTMAP_contains_pte, 5000, SELF_DOMID, NULL), GNTST_bad_gntref);
	expect("map, ref not granted", map_grant(pte_ma, GNTMAP_host_map | GNTMAP_contains_pte, 11, SELF_DOMID, NULL), GNTST_general_error);
	expect("map, a misaligned PTE (XSA-227)", map_grant(pte_ma + 2, GNTMAP_host_map | GNTMAP_contains_pte, 8, SELF_DOMID, NULL), GNTST_general_error);
	expect("map, a PTE address in a data page", map_grant(virt_to_machine((void *)rva).maddr, GNTMAP_host_map | GNTMAP_contains_pte, 8, SELF_DOMID, NULL), GNTST_general_error);
	expect("map, a read-only grant writable", map_grant(pte_ma, GNTMAP_host_map | GNTMAP_contains_pte, 9, SELF_DOMID, NULL), GNTST_general_error);
	expect("map, a pagetable writable", map_grant(pte_ma, GNTMAP_host_map | GNTMAP_contains_pte, 10, SELF_DOMID, NULL), GNTST_general_error);
	expect("map, a pagetable for a device, writable", map_grant(0, GNTMAP_device_map, 10, SELF_DOMID, NULL), GNTST_general_error);
	expect("nothing pinned", gnttab[8].flags | gnttab[9].flags << 8, GTF_permit_access | (GTF_permit_access | GTF_readonly) << 8);
	expect("nothing written", pte_val(*hpte), pte_val(saved));

	/* By PTE address, with available bits 101b. */
	expect("map by PTE", map_grant(pte_ma, GNTMAP_host_map | GNTMAP_contains_pte | 5 << _GNTMAP_guest_avail0, 8, SELF_DOMID, &h), GNTST_okay);
	expect("the grant is in use, writable", gnttab[8].flags, GTF_permit_access | GTF_reading | GTF_writing);
	expect("the PTE maps the granted frame", pte_mfn(*hpte), page_to_pfn(granted));
	expect("its available bits", (pte_val(*hpte) >> 9) & 7, 5);
	expect("present, writable, NX, _PAGE_USER",
	       (pte_val(*hpte) & (_PAGE_PRESENT | _PAGE_RW | _PAGE_NX | _PAGE_USER)) == (_PAGE_PRESENT | _PAGE_RW | _PAGE_NX | _PAGE_USER), 1);
	xen_invlpg(hva);
	expect("read through the grant mapping", *(volatile u64 *)hva, 0x746e617267);

	/* By linear address, read-only, from the read-only grant. */
	expect("map by address, read-only", map_grant(rva, GNTMAP_host_map | GNTMAP_readonly, 9, SELF_DOMID, &hro), GNTST_okay);
	expect("a second handle", hro != h, 1);
	xen_invlpg(rva);
	expect("read through the read-only mapping", *(volatile u64 *)rva, 0x746e617267);
	expect("the read-only grant is in use, not written", gnttab[9].flags, GTF_permit_access | GTF_readonly | GTF_reading);

	/* A device mapping: references held, the bus address answered. */
	{
		struct gnttab_map_grant_ref op = { .flags = GNTMAP_device_map | GNTMAP_readonly, .ref = 8, .dom = SELF_DOMID };
		grant_handle_t hdev;

		expect("map for a device", HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &op, 1), 0);
		expect("map for a device: status", op.status, GNTST_okay);
		expect("its bus address", op.dev_bus_addr, PFN_PHYS(page_to_pfn(granted)));
		hdev = op.handle;
		expect("unmap at another bus address", unmap_grant_bus(0, op.dev_bus_addr + PAGE_SIZE, hdev), GNTST_bad_dev_addr);
		expect("unmap, neither address: nothing", unmap_grant_bus(0, 0, hdev), GNTST_okay);
		expect("unmap the device mapping", unmap_grant_bus(0, op.dev_bus_addr, hdev), GNTST_okay);
		expect("and it is gone", unmap_grant_bus(0, op.dev_bus_addr, hdev), GNTST_bad_handle);
	}

	/* 300 unmaps of handles never made: each refused, across a continuation. */
	for (i = 0; i < NR_BAD_UNMAPS; i++)
		bad[i] = (struct gnttab_unmap_grant_ref){ .host_addr = hva, .handle = 0x10000 + i, .status = 99 };
	expect("unmap 300 bad handles", HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, bad, NR_BAD_UNMAPS), 0);
	for (all_bad = 1, i = 0; i < NR_BAD_UNMAPS; i++)
		all_bad &= bad[i].status == GNTST_bad_handle;
	expect("every one GNTST_bad_handle", all_bad, 1);
	expect("unmap at an address the grant does not map", unmap_grant(gva, h), GNTST_general_error);

	expect("unmap by PTE", unmap_grant(pte_ma, h), GNTST_okay);
	expect("the PTE is cleared", pte_val(*hpte), 0);
	expect("unmap again", unmap_grant(pte_ma, h), GNTST_bad_handle);
	expect("grant 8 no longer in use", gnttab[8].flags, GTF_permit_access);
	expect("unmap by address", unmap_grant(rva, hro), GNTST_okay);
	expect("grant 9 no longer in use", gnttab[9].flags, GTF_permit_access | GTF_readonly);

	/* Replace a grant mapping by the entry of another address, stolen. */
	expect("remap ro", HYPERVISOR_update_va_mapping(rva, pte_val(pfn_pte(page_to_pfn(ro), PAGE_KERNEL)), UVMF_INVLPG), 0);
	expect("map by address, to replace", map_grant(hva, GNTMAP_host_map, 8, SELF_DOMID, &h), GNTST_okay);
	{
		struct gnttab_unmap_and_replace ur = { .host_addr = hva, .new_addr = rva, .handle = h, .status = 99 };

		expect("unmap_and_replace", HYPERVISOR_grant_table_op(GNTTABOP_unmap_and_replace, &ur, 1), 0);
		expect("unmap_and_replace: status", ur.status, GNTST_okay);
	}
	expect("the stolen entry's address is cleared", pte_val(*lookup_address(rva, &level)), 0);
	expect("the grant's address maps what it mapped", pte_mfn(*hpte), page_to_pfn(ro));
	expect("grant 8 no longer in use, again", gnttab[8].flags, GTF_permit_access);

	grant_copy(gnttab, granted, alloc_page(), virt_to_pfn(hpte));

	gnttab[8].flags = gnttab[9].flags = gnttab[10].flags = 0;
	expect("remap host", HYPERVISOR_update_va_mapping(hva, pte_val(saved), UVMF_INVLPG), 0);
	expect("remap ro", HYPERVISOR_update_va_mapping(rva, pte_val(pfn_pte(page_to_pfn(ro), PAGE_KERNEL)), UVMF_INVLPG), 0);
	expect("remap table", HYPERVISOR_update_va_mapping(tva, pte_val(pfn_pte(page_to_pfn(table), PAGE_KERNEL)), UVMF_INVLPG), 0);
	__free_page(table);
	__free_page(granted);
	__free_page(host);
	__free_page(ro);
}

static unsigned long read_cr0(void)
{
	unsigned long cr0;

	asm volatile("mov %%cr0, %0" : "=r" (cr0));
	return cr0;
}

#define X86_CR0_TS	0x8UL

/* CR0 as Xen emulates it for a PV kernel: only TS is the guest's. */
static void control_registers(void)
{
	unsigned long cr0 = read_cr0(), cr3;

	expect("CR0.TS at boot", !!(cr0 & X86_CR0_TS), 0);
	expect("fpu_taskswitch(1)", HYPERVISOR_fpu_taskswitch(1), 0);
	expect("CR0.TS after fpu_taskswitch(1)", !!(read_cr0() & X86_CR0_TS), 1);
	asm volatile("clts");
	expect("CR0.TS after clts", !!(read_cr0() & X86_CR0_TS), 0);
	asm volatile("mov %%cr3, %0" : "=r" (cr3));
	expect("CR3 is the boot L4's frame", cr3 >> PAGE_SHIFT, virt_to_pfn(xen_start_info->pt_base));
	/* A write of CR3 is new_guest_cr3: here, the same base again. */
	asm volatile("mov %0, %%cr3" : : "r" (cr3) : "memory");
	expect("CR3 written back, and still mapped", *(volatile unsigned long *)xen_start_info == *(unsigned long *)"xen-3.0-", 1);
	expect("CR0 otherwise as it was", read_cr0(), cr0);
}

static void version(void)
{
	struct xen_feature_info fi = { .submap_idx = 0 };
	static char cmdline[1024];

	expect("get_features(0)", HYPERVISOR_xen_version(XENVER_get_features, &fi), 0);
	expect("XENFEAT_mmu_pt_update_preserve_ad", !!(fi.submap & (1U << XENFEAT_mmu_pt_update_preserve_ad)), 1);
	expect("XENFEAT_direct_mapped", !!(fi.submap & (1U << XENFEAT_direct_mapped)), 1);
	expect("XENFEAT_gnttab_map_avail_bits", !!(fi.submap & (1U << XENFEAT_gnttab_map_avail_bits)), 1);
	fi.submap_idx = 1;
	expect("get_features(1)", HYPERVISOR_xen_version(XENVER_get_features, &fi), -EINVAL);
	expect("pagesize(NULL)", HYPERVISOR_xen_version(XENVER_pagesize, NULL), PAGE_SIZE);
	expect("pagesize(non-NULL)", HYPERVISOR_xen_version(XENVER_pagesize, cmdline), -EINVAL);
	expect("commandline", HYPERVISOR_xen_version(XENVER_commandline, cmdline), 0);
	expect("commandline is denied", strcmp(cmdline, "<denied>"), 0);
	expect("build_id (newer than the version reported)", HYPERVISOR_xen_version(10, cmdline), -ENOSYS);
}

/*
 * A hypercall made with `syscall`, as a 64-bit PV kernel without a
 * hypercall page makes it (Linux's xen_hypercall_pv): number in RAX,
 * arguments in RDI, RSI, RDX, R10.
 */
static long syscall_hypercall4(unsigned long nr, unsigned long a1, unsigned long a2,
			       unsigned long a3, unsigned long a4)
{
	register unsigned long r10 asm("r10") = a4;
	long ret;

	asm volatile("syscall"
		     : "=a" (ret), "+D" (a1), "+S" (a2), "+d" (a3), "+r" (r10)
		     : "0" (nr)
		     : "rcx", "r11", "r8", "r9", "memory");
	return ret;
}

#define NR_FLUSHES	600	/* more than one slice: a continuation */

static void syscall_transport(void)
{
	static struct mmuext_op ops[NR_FLUSHES];
	static const char msg[] = "pv-abi: console_io by syscall\n";
	unsigned int done = 0, i;
	unsigned long flags;

	expect("xen_version by syscall",
	       syscall_hypercall4(__HYPERVISOR_xen_version, XENVER_version, 0, 0, 0),
	       HYPERVISOR_xen_version(XENVER_version, NULL));
	expect("console_io by syscall",
	       syscall_hypercall4(__HYPERVISOR_console_io, CONSOLEIO_write, sizeof(msg) - 1, (unsigned long)msg, 0), 0);
	for (i = 0; i < NR_FLUSHES; i++)
		ops[i].cmd = MMUEXT_TLB_FLUSH_LOCAL;
	expect("mmuext_op of 600 flushes by syscall",
	       syscall_hypercall4(__HYPERVISOR_mmuext_op, (unsigned long)ops, NR_FLUSHES, (unsigned long)&done, DOMID_SELF), 0);
	expect("flushes done, across the continuation", done, NR_FLUSHES);
	asm volatile("pushf; pop %0" : "=r" (flags));
	expect("IF after the syscall transport", !!(flags & 0x200), 1);
}

void kernel_main(void)
{
	callbacks();
	gdt();
	ldt();
	user_baseptr();
	page_user();
	m2p();
	version();
	memory();
	grant_table();
	control_registers();
	syscall_transport();
	printk("pv-abi: ok\n");
	xen_poweroff();
}
