// Package gnttab owns a domain's grant table, version 1, as Xen keeps it
// (common/grant_table.c): the shared frames in which the guest writes its
// grant entries, the active entries (Xen's active_grant_entry: how many
// mappings each grant has, read-only and writable), and the maptrack
// table of the domain's own mappings, whose indices are the handles
// map_grant_ref returns and unmap_grant_ref takes.
//
// pvsim runs one domain, so every grant mapped is a self-grant: the
// domain grants its own frames to itself, which is what Xen's XSA tests
// and Linux's gntdev do with one domain. The backend domain
// (xen.BackendDomID) exists, but its grant table, of InitialFrames frames,
// grants nothing. Mapping a grant is two steps, as in
// Xen's map_grant_ref: Acquire pins the grant and takes a handle; the
// caller writes the PTE through the PV MMU (package ptops); Commit records
// the mapping, or Abandon undoes the pin if the PTE could not be written.
// Release undoes a mapping after its PTE is gone.
//
// It needs no KVM: the shared frames are byte slices the caller maps.
// Callers serialise calls (the hypervisor holds the domain's MMU lock);
// the guest may change its entries at any time, and the flags Xen sets in
// them (GTF_reading, GTF_writing) are set and cleared with a bounded
// compare-and-exchange on the entry's flags and domid word, as Xen's
// _set_status_v1 does.
package gnttab

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/pvsim/pvsim/fingerprint"
	"github.com/pvsim/pvsim/xen"
)

const (
	// MaxFrames is the frames a domain's grant table may grow to: what a
	// toolstack sets as max_grant_frames (Xen's default is 64; pvsim's
	// domains are small and reserve their grant frames at boot).
	MaxFrames = 4
	// InitialFrames is the table's size before setup_table grows it
	// (Xen's INITIAL_NR_GRANT_FRAMES).
	InitialFrames = 1
	// MaxMappings bounds the maptrack table: the grant mappings a domain
	// may hold at once (Xen's is max_maptrack_frames, 1024 pages of
	// them). A full table is GNTST_no_space.
	MaxMappings = 1024
	// casRetries is how often an update of a shared entry is retried when
	// the guest changes it meanwhile, before the guest is taken to be
	// misbehaving (Xen's five tries).
	casRetries = 5
)

// Pin counts of an active entry, one byte each, at Xen's shifts
// (GNTPIN_*): host mappings writable and read-only, device mappings
// writable and read-only.
const (
	pinHostW = 1 << 0
	pinHostR = 1 << 8
	pinDevW  = 1 << 16
	pinDevR  = 1 << 24
	pinMask  = 0xff

	pinWritable = pinHostW*pinMask | pinDevW*pinMask
)

// Ref is a grant reference (grant_ref_t).
type Ref uint32

// Handle is a mapping's maptrack index (grant_handle_t).
type Handle uint32

// active is Xen's active_grant_entry for a v1 grant: its pin counts and
// the frame it was pinned with.
type active struct {
	pin   uint32
	frame uint64
}

// Mapping is one maptrack entry: a grant this domain mapped and how.
// Flags zero marks a free entry.
type Mapping struct {
	Flags xen.GrantMapFlags
	Ref   Ref
	Dom   uint16
	// Frame is the frame the mapping maps.
	Frame uint64
	// pending: acquired, not yet committed.
	pending bool
}

// Table is a domain's grant table.
type Table struct {
	domID   uint16
	pfns    []uint64 // the reserved frames, MaxFrames of them
	shared  [][]byte // host views of pfns
	nr      int      // frames set up (nr_grant_frames)
	active  []active // per entry of the set-up frames
	maps    []Mapping
	free    []Handle // free maptrack handles, a stack
	nrPages uint64   // the domain's frames, for the frame a grant names
}

// New makes the grant table of domain domID, whose frames are pfns
// (MaxFrames of them, reserved for it and held writable by the
// hypervisor) with host views shared, and whose memory is nrPages frames.
// The table starts with InitialFrames frames set up, version 1.
func New(domID uint16, pfns []uint64, shared [][]byte, nrPages uint64) (*Table, error) {
	if len(pfns) != MaxFrames || len(shared) != MaxFrames {
		return nil, fmt.Errorf("gnttab: %d frames, want %d", len(pfns), MaxFrames)
	}
	for i, b := range shared {
		if len(b) != 4096 {
			return nil, fmt.Errorf("gnttab: frame %d is %d bytes", i, len(b))
		}
	}
	t := &Table{domID: domID, pfns: pfns, shared: shared, nrPages: nrPages,
		active: make([]active, 0, MaxFrames*xen.GrantEntriesPerV1F),
		maps:   make([]Mapping, MaxMappings), free: make([]Handle, 0, MaxMappings)}
	for h := MaxMappings - 1; h >= 0; h-- {
		t.free = append(t.free, Handle(h))
	}
	t.grow(InitialFrames)
	return t, nil
}

// Clone is a copy of t over other host views of the same frames (a
// restored domain's memory).
func (t *Table) Clone(shared [][]byte) *Table {
	c := *t
	c.shared = shared
	c.active = append(make([]active, 0, cap(t.active)), t.active...)
	c.maps = append([]Mapping(nil), t.maps...)
	c.free = append(make([]Handle, 0, MaxMappings), t.free...)
	return &c
}

// Shared is the host views of the table's frames.
func (t *Table) Shared() [][]byte { return t.shared }

// Frames is the number of frames set up and the most there may be
// (query_size's nr_frames and max_nr_frames).
func (t *Table) Frames() (nr, max int) { return t.nr, MaxFrames }

// Version is the grant table's version: pvsim offers 1 only.
func (t *Table) Version() int { return 1 }

// Setup grows the table to nr frames if it has fewer (setup_table) and
// returns the first nr frames.
func (t *Table) Setup(nr uint32) ([]uint64, xen.GrantStatus) {
	if nr > MaxFrames {
		return nil, xen.GNTSTGeneralError
	}
	if int(nr) > t.nr {
		t.grow(int(nr))
	}
	return t.pfns[:nr], xen.GNTSTOkay
}

func (t *Table) grow(nr int) {
	t.nr = nr
	t.active = t.active[:nr*xen.GrantEntriesPerV1F]
}

// nrEntries is the number of grant entries of the set-up frames.
func (t *Table) nrEntries() Ref { return Ref(len(t.active)) }

// combo is the shared entry's flags and domid word, which Xen updates as
// one (union grant_combo).
func (t *Table) combo(ref Ref) *uint32 {
	off := int(ref) * xen.GrantEntryV1Size
	f := t.shared[off/4096]
	return (*uint32)(unsafe.Pointer(&f[off%4096]))
}

// frameOf is the frame the shared entry grants.
func (t *Table) frameOf(ref Ref) uint64 {
	off := int(ref) * xen.GrantEntryV1Size
	return uint64(binary.LittleEndian.Uint32(t.shared[off/4096][off%4096+xen.GrantEntryV1Frame:]))
}

func split(w uint32) (xen.GrantFlags, uint16) { return xen.GrantFlags(w), uint16(w >> 16) }

// pinIncrement is what a mapping with flags adds to its grant's pin count.
func pinIncrement(flags xen.GrantMapFlags) uint32 {
	dev, host := uint32(pinDevW), uint32(pinHostW)
	if flags&xen.GNTMAPReadonly != 0 {
		dev, host = pinDevR, pinHostR
	}
	var inc uint32
	if flags&xen.GNTMAPDeviceMap != 0 {
		inc += dev
	}
	if flags&xen.GNTMAPHostMap != 0 {
		inc += host
	}
	return inc
}

// setStatus marks the shared entry of ref in use (GTF_reading, and
// GTF_writing unless readonly), checking, when the grant is not pinned
// yet, that it permits access to domain dom and, for a writable use, is
// not read-only: Xen's _set_status_v1.
func (t *Table) setStatus(ref Ref, a *active, readonly bool, dom uint16) xen.GrantStatus {
	p := t.combo(ref)
	w := atomic.LoadUint32(p)
	for try := 0; ; try++ {
		flags, domid := split(w)
		if a.pin == 0 && (flags&(xen.GTFTypeMask|xen.GTFSubPage) != xen.GTFPermitAccess || domid != dom) {
			return xen.GNTSTGeneralError
		}
		nf := flags | xen.GTFReading
		if !readonly {
			if flags&xen.GTFReadonly != 0 {
				return xen.GNTSTGeneralError
			}
			nf |= xen.GTFWriting
		}
		if atomic.CompareAndSwapUint32(p, w, uint32(nf)|uint32(domid)<<16) {
			return xen.GNTSTOkay
		}
		if try == casRetries-1 {
			return xen.GNTSTGeneralError // the entry is unstable
		}
		w = atomic.LoadUint32(p)
	}
}

// clearFlags clears flags in the shared entry of ref (gnttab_clear_flags:
// an atomic and, the guest's other bits untouched).
func (t *Table) clearFlags(ref Ref, flags xen.GrantFlags) {
	atomic.AndUint32(t.combo(ref), ^uint32(flags))
}

// reduceStatus clears GTF_reading once no mapping of the grant is left,
// and GTF_writing once no writable one is (reduce_status_for_pin).
func (t *Table) reduceStatus(ref Ref, a *active, readonly bool) {
	var clear xen.GrantFlags
	if a.pin == 0 {
		clear = xen.GTFReading
	}
	if !readonly && a.pin&pinWritable == 0 {
		clear |= xen.GTFWriting
	}
	if clear != 0 {
		t.clearFlags(ref, clear)
	}
}

// Acquire is the first half of map_grant_ref for a mapping of grant ref
// of domain dom, made by this domain with flags: it checks the request,
// pins the grant (setting the entry's in-use flags) and takes a handle.
// The mapping is pending until Commit or Abandon.
//
// The checks and their order are Xen's: flags map nothing →
// GNTST_bad_gntref; dom not a domain (DOMID_SELF is not one here, as in
// Xen's rcu_lock_domain_by_id) → GNTST_bad_domain; no free handle →
// GNTST_no_space; ref past the table → GNTST_bad_gntref; a pinned grant
// whose pin count would overflow → GNTST_general_error; an entry that
// does not permit this domain access, or a read-only one mapped writable
// → GNTST_general_error (every entry of the backend's table); a granted
// frame outside the domain → GNTST_bad_page.
func (t *Table) Acquire(ref Ref, dom uint16, flags xen.GrantMapFlags) (Handle, uint64, xen.GrantStatus) {
	inc := pinIncrement(flags)
	if inc == 0 {
		return 0, 0, xen.GNTSTBadGntref
	}
	if dom != t.domID && dom != xen.BackendDomID {
		return 0, 0, xen.GNTSTBadDomain
	}
	if len(t.free) == 0 {
		return 0, 0, xen.GNTSTNoSpace
	}
	frame, st := t.pin(ref, dom, inc, flags&xen.GNTMAPReadonly != 0)
	if st != xen.GNTSTOkay {
		return 0, 0, st
	}
	h := t.free[len(t.free)-1]
	t.free = t.free[:len(t.free)-1]
	t.maps[h] = Mapping{Flags: flags, Ref: ref, Dom: dom, Frame: frame, pending: true}
	return h, frame, xen.GNTSTOkay
}

// pin adds inc to the pin count of grant ref of domain dom, with Acquire's
// checks from the grant reference on, and returns the granted frame: the
// backend's table holds no entry this domain may use; ref past the table
// → GNTST_bad_gntref; a pin count that would overflow, an entry that
// does not permit this domain access, or a read-only one pinned writable
// → GNTST_general_error; a frame outside the domain → GNTST_bad_page.
//
// Precondition: dom is this domain or the backend's.
func (t *Table) pin(ref Ref, dom uint16, inc uint32, readonly bool) (uint64, xen.GrantStatus) {
	if dom == xen.BackendDomID {
		if ref >= InitialFrames*xen.GrantEntriesPerV1F {
			return 0, xen.GNTSTBadGntref
		}
		return 0, xen.GNTSTGeneralError
	}
	if ref >= t.nrEntries() {
		return 0, xen.GNTSTBadGntref
	}
	a := &t.active[ref]
	// Each count is a byte; one more must leave its top bit clear
	// (GNTPIN_incr2oflow_mask).
	if a.pin != 0 && a.pin&(inc<<7) != 0 {
		return 0, xen.GNTSTGeneralError
	}
	if a.pin == 0 || (!readonly && a.pin&pinWritable == 0) {
		if st := t.setStatus(ref, a, readonly, t.domID); st != xen.GNTSTOkay {
			return 0, st
		}
		if a.pin == 0 {
			frame := t.frameOf(ref)
			if frame >= t.nrPages {
				t.reduceStatus(ref, a, readonly)
				return 0, xen.GNTSTBadPage
			}
			a.frame = frame
		}
	}
	a.pin += inc
	return a.frame, xen.GNTSTOkay
}

// Commit records the pending mapping h as made.
func (t *Table) Commit(h Handle) { t.maps[h].pending = false }

// Abandon undoes Acquire for the pending mapping h, whose PTE could not be
// written (map_grant_ref's undo_out).
func (t *Table) Abandon(h Handle) { t.release(h, t.maps[h].Flags) }

// Lookup is the committed mapping h (unmap_common's checks): a handle past
// the maptrack table or not in use → GNTST_bad_handle.
func (t *Table) Lookup(h Handle) (Mapping, xen.GrantStatus) {
	if h >= MaxMappings || t.maps[h].Flags == 0 || t.maps[h].pending {
		return Mapping{}, xen.GNTSTBadHandle
	}
	return t.maps[h], xen.GNTSTOkay
}

// Release undoes the part done of mapping h: done is GNTMAP_host_map
// and/or GNTMAP_device_map (with the mapping's GNTMAP_readonly). The pin
// counts drop, the entry's in-use flags are cleared when they reach zero,
// and the handle is freed once nothing of the mapping is left
// (unmap_common and unmap_common_complete).
func (t *Table) Release(h Handle, done xen.GrantMapFlags) { t.release(h, done) }

func (t *Table) release(h Handle, done xen.GrantMapFlags) {
	m := &t.maps[h]
	done &= m.Flags & (xen.GNTMAPHostMap | xen.GNTMAPDeviceMap)
	a := &t.active[m.Ref]
	readonly := m.Flags&xen.GNTMAPReadonly != 0
	a.pin -= pinIncrement(done | m.Flags&xen.GNTMAPReadonly)
	t.reduceStatus(m.Ref, a, readonly)
	m.Flags &^= done
	if m.Flags&(xen.GNTMAPHostMap|xen.GNTMAPDeviceMap) == 0 {
		*m = Mapping{}
		t.free = append(t.free, h)
	}
}

// Mappings is the number of mappings held.
func (t *Table) Mappings() int { return MaxMappings - len(t.free) }

// Pinned reports the pin counts of grant ref: host mappings writable and
// read-only.
func (t *Table) Pinned(ref Ref) (hostW, hostR int) {
	if ref >= t.nrEntries() {
		return 0, 0
	}
	p := t.active[ref].pin
	return int(p / pinHostW & pinMask), int(p / pinHostR & pinMask)
}

// AcquireForCopy pins grant ref of domain dom for one GNTTABOP_copy by
// this domain, to read from (readonly) or write to, and returns the
// granted frame: Xen's acquire_grant_for_copy for a v1 grant, which pins
// it as a host mapping would (GNTPIN_hstr_inc, GNTPIN_hstw_inc) until
// ReleaseCopy. The checks are Acquire's: dom not a domain →
// GNTST_bad_domain, then pin's.
func (t *Table) AcquireForCopy(ref Ref, dom uint16, readonly bool) (uint64, xen.GrantStatus) {
	if dom != t.domID && dom != xen.BackendDomID {
		return 0, xen.GNTSTBadDomain
	}
	return t.pin(ref, dom, pinIncrement(copyFlags(readonly)), readonly)
}

// ReleaseCopy drops the pin AcquireForCopy took (release_grant_for_copy).
func (t *Table) ReleaseCopy(ref Ref, readonly bool) {
	a := &t.active[ref]
	a.pin -= pinIncrement(copyFlags(readonly))
	t.reduceStatus(ref, a, readonly)
}

// copyFlags are the flags of the host mapping a copy pins as.
func copyFlags(readonly bool) xen.GrantMapFlags {
	if readonly {
		return xen.GNTMAPHostMap | xen.GNTMAPReadonly
	}
	return xen.GNTMAPHostMap
}

// Fingerprint adds the table's state to h, for a search that names a
// domain's state (package fingerprint): the frames set up, every active
// entry, the maptrack and its free list. The grant entries themselves are
// the guest's memory's.
func (t *Table) Fingerprint(h *fingerprint.Hash) {
	h.Uint64(uint64(t.nr))
	fingerprint.PlainSlice(h, t.active)
	fingerprint.PlainSlice(h, t.maps)
	fingerprint.PlainSlice(h, t.free)
}
