package xen

// grant_table_op (public/grant_table.h): the commands, flags, status codes
// and structures of grant table version 1, x86-64 layouts.

// HypercallGrantTableOp is __HYPERVISOR_grant_table_op(cmd, uop, count).
const HypercallGrantTableOp = 20

// grant_table_op commands (GNTTABOP_*).
const (
	GnttabOpMapGrantRef     = 0
	GnttabOpUnmapGrantRef   = 1
	GnttabOpSetupTable      = 2
	GnttabOpDumpTable       = 3
	GnttabOpTransfer        = 4
	GnttabOpCopy            = 5
	GnttabOpQuerySize       = 6
	GnttabOpUnmapAndReplace = 7
	GnttabOpSetVersion      = 8
	GnttabOpGetStatusFrames = 9
	GnttabOpGetVersion      = 10
	GnttabOpSwapGrantRef    = 11
	GnttabOpCacheFlush      = 12

	// GnttabOpCmdMask selects the command; the bits above are an opaque
	// continuation argument only cache_flush may carry
	// (GNTTABOP_CMD_MASK).
	GnttabOpCmdMask = 0x3f
)

// GrantFlags is a v1 grant entry's flags word (GTF_*).
type GrantFlags uint16

const (
	GTFInvalid        GrantFlags = 0
	GTFPermitAccess   GrantFlags = 1
	GTFAcceptTransfer GrantFlags = 2
	GTFTransitive     GrantFlags = 3
	GTFTypeMask       GrantFlags = 3
	GTFReadonly       GrantFlags = 1 << 2
	GTFReading        GrantFlags = 1 << 3 // set by Xen while the frame is mapped
	GTFWriting        GrantFlags = 1 << 4 // set by Xen while it is mapped writable
	GTFPWT            GrantFlags = 1 << 5
	GTFPCD            GrantFlags = 1 << 6
	GTFPAT            GrantFlags = 1 << 7
	GTFSubPage        GrantFlags = 1 << 8
)

// GrantMapFlags are map_grant_ref's flags (GNTMAP_*).
type GrantMapFlags uint32

const (
	GNTMAPDeviceMap      GrantMapFlags = 1 << 0
	GNTMAPHostMap        GrantMapFlags = 1 << 1
	GNTMAPReadonly       GrantMapFlags = 1 << 2
	GNTMAPApplicationMap GrantMapFlags = 1 << 3 // a user mapping: _PAGE_USER
	GNTMAPContainsPTE    GrantMapFlags = 1 << 4 // host_addr is a PTE's machine address
	// GNTMAPGuestAvailShift (_GNTMAP_guest_avail0): the flags' bits from
	// here up go into the PTE's available bits 9-11, as
	// XENFEAT_gnttab_map_avail_bits promises.
	GNTMAPGuestAvailShift = 16
)

// GrantStatus is a grant operation's int16_t status (GNTST_*).
type GrantStatus int16

const (
	GNTSTOkay             GrantStatus = 0
	GNTSTGeneralError     GrantStatus = -1
	GNTSTBadDomain        GrantStatus = -2
	GNTSTBadGntref        GrantStatus = -3
	GNTSTBadHandle        GrantStatus = -4
	GNTSTBadVirtAddr      GrantStatus = -5
	GNTSTBadDevAddr       GrantStatus = -6
	GNTSTNoDeviceSpace    GrantStatus = -7
	GNTSTPermissionDenied GrantStatus = -8
	GNTSTBadPage          GrantStatus = -9
	GNTSTBadCopyArg       GrantStatus = -10
	GNTSTAddressTooBig    GrantStatus = -11
	GNTSTEagain           GrantStatus = -12
	GNTSTNoSpace          GrantStatus = -13
)

var grantStatusNames = [...]string{
	"okay", "undefined error", "unrecognised domain id", "invalid grant reference",
	"invalid mapping handle", "invalid virtual address", "invalid device address",
	"no spare translation slot in the I/O MMU", "permission denied", "bad page",
	"copy arguments cross page boundary", "page address size too large", "operation not done; try again",
	"out of space",
}

// String is Xen's GNTTABOP_error_msgs text for s.
func (s GrantStatus) String() string {
	if s <= 0 && int(-s) < len(grantStatusNames) {
		return grantStatusNames[-s]
	}
	return "unknown grant status"
}

const (
	// GrantEntryV1Size is struct grant_entry_v1: flags (u16), domid (u16),
	// frame (u32). Flags and domid form the 32-bit word Xen updates with
	// cmpxchg (union grant_combo).
	GrantEntryV1Size   = 8
	GrantEntryV1Frame  = 4
	GrantEntriesPerV1F = 4096 / GrantEntryV1Size

	// GnttabNrReservedEntries (GNTTAB_NR_RESERVED_ENTRIES): the first
	// entries belong to the toolstack (console and xenstore grants).
	GnttabNrReservedEntries = 8

	// GnttabMapGrantRefSize is struct gnttab_map_grant_ref: host_addr
	// (u64), flags (u32), ref (u32), dom (u16), status (s16), handle (u32),
	// dev_bus_addr (u64).
	GnttabMapGrantRefSize = 32
	GnttabMapHostAddr     = 0
	GnttabMapFlags        = 8
	GnttabMapRef          = 12
	GnttabMapDom          = 16
	GnttabMapStatus       = 18
	GnttabMapHandle       = 20
	GnttabMapDevBusAddr   = 24

	// GnttabUnmapGrantRefSize is struct gnttab_unmap_grant_ref: host_addr,
	// dev_bus_addr (u64), handle (u32), status (s16).
	GnttabUnmapGrantRefSize = 24
	GnttabUnmapHostAddr     = 0
	GnttabUnmapDevBusAddr   = 8
	GnttabUnmapHandle       = 16
	GnttabUnmapStatus       = 20

	// GnttabUnmapAndReplaceSize is struct gnttab_unmap_and_replace:
	// host_addr, new_addr (u64), handle (u32), status (s16).
	GnttabUnmapAndReplaceSize    = 24
	GnttabUnmapAndReplaceNewAddr = 8
	GnttabUnmapAndReplaceHandle  = 16
	GnttabUnmapAndReplaceStatus  = 20

	// GnttabSetupTableSize is struct gnttab_setup_table: dom (u16),
	// nr_frames (u32), status (s16), frame_list (a handle to xen_pfn_t).
	GnttabSetupTableSize      = 24
	GnttabSetupTableDom       = 0
	GnttabSetupTableNrFrames  = 4
	GnttabSetupTableStatus    = 8
	GnttabSetupTableFrameList = 16

	// GnttabQuerySizeSize is struct gnttab_query_size: dom (u16),
	// nr_frames, max_nr_frames (u32), status (s16).
	GnttabQuerySizeSize        = 16
	GnttabQuerySizeDom         = 0
	GnttabQuerySizeNrFrames    = 4
	GnttabQuerySizeMaxNrFrames = 8
	GnttabQuerySizeStatus      = 12

	// GnttabSetVersionSize is struct gnttab_set_version: version (u32);
	// GnttabGetVersionSize is struct gnttab_get_version: dom (u16), pad,
	// version (u32).
	GnttabSetVersionSize    = 4
	GnttabGetVersionSize    = 8
	GnttabGetVersionVersion = 4
)

// struct gnttab_copy: source and dest (struct gnttab_copy_ptr: a grant
// ref or a gmfn (u64), domid (u16), offset (u16), padded to 16 bytes), len
// (u16), flags (u16), status (s16).
const (
	GnttabCopySize      = 40
	GnttabCopySource    = 0
	GnttabCopyDest      = 16
	GnttabCopyPtrDomID  = 8
	GnttabCopyPtrOffset = 10
	GnttabCopyLen       = 32
	GnttabCopyFlags     = 34
	GnttabCopyStatus    = 36
	GNTCOPYSourceGref   = 1 << 0 // GNTCOPY_source_gref
	GNTCOPYDestGref     = 1 << 1 // GNTCOPY_dest_gref
)

const (
	// GnttabGetStatusFramesSize is struct gnttab_get_status_frames:
	// nr_frames (u32), dom (u16), status (s16), frame_list (a handle to
	// uint64_t).
	GnttabGetStatusFramesSize      = 16
	GnttabGetStatusFramesNrFrames  = 0
	GnttabGetStatusFramesDom       = 4
	GnttabGetStatusFramesStatus    = 6
	GnttabGetStatusFramesFrameList = 8
)
