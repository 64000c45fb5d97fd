package evtchn

import (
	"errors"
	"sync/atomic"
	"unsafe"

	"github.com/pvsim/pvsim/xen"
)

// SharedInfo is the event channel part of a domain's shared_info page:
// the evtchn_pending and evtchn_mask bitmaps and each vCPU's vcpu_info
// (evtchn_upcall_pending, evtchn_upcall_mask, evtchn_pending_sel).
//
// The guest writes these words while the hypervisor does: it clears
// pending and selector bits with locked instructions and sets and clears
// mask bits. So every access here is a sync/atomic operation on the
// page's 64-bit words, which the page is viewed as; on x86-64 those are
// the locked instructions Xen uses (a locked bts on a quadword and a
// guest's locked btr on it, or its plain store to a byte of it, are
// coherent). A byte field (evtchn_upcall_pending) is set by an atomic OR
// of bit 0 of its quadword, as Xen's vcpu_mark_events_pending sets it
// with test_and_set_bit on an unsigned long.
//
// A vCPU's vcpu_info starts in shared_info and may move to a page of the
// guest's (VCPUOP_register_vcpu_info, MoveVCPUInfo); vi holds where each
// is now.
type SharedInfo struct {
	w  []uint64 // the page as little-endian quadwords
	vi [xen.LegacyMaxVCPUs]atomic.Pointer[vcpuInfo]
}

// vcpuInfo is a struct vcpu_info as quadwords.
type vcpuInfo [xen.VCPUInfoSize / 8]uint64

// pageWords is how many quadwords a SharedInfo spans: the vcpu_info
// array and both bitmaps.
const pageWords = xen.SharedInfoWCVersion / 8

// NewSharedInfo views page, the shared_info frame as the hypervisor maps
// it, for event delivery. It refuses a page shorter than the event
// fields or not 8-byte aligned (guest memory is mapped page-aligned).
// The page is used in place, and must stay mapped while the view is.
func NewSharedInfo(page []byte) (*SharedInfo, error) {
	if len(page) < xen.SharedInfoWCVersion {
		return nil, errors.New("evtchn: shared_info page too short")
	}
	p := unsafe.Pointer(unsafe.SliceData(page))
	if uintptr(p)%8 != 0 {
		return nil, errors.New("evtchn: shared_info page not 8-byte aligned")
	}
	s := &SharedInfo{w: unsafe.Slice((*uint64)(p), pageWords)}
	for i := range s.vi {
		s.vi[i].Store((*vcpuInfo)(s.w[i*xen.VCPUInfoSize/8:]))
	}
	return s, nil
}

// VCPUInfo is where vcpu's vcpu_info is now, as the hypervisor maps it.
//
// Precondition: 0 <= vcpu < xen.LegacyMaxVCPUs.
func (s *SharedInfo) VCPUInfo(vcpu int) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(s.vi[vcpu].Load())), xen.VCPUInfoSize)
}

// moveVCPUInfo makes area vcpu's vcpu_info, as Xen's map_guest_area with
// vcpu_info_populate: the current contents are copied there first, and
// then every selector bit and evtchn_upcall_pending are set, so that no
// event is lost in the move (the guest takes a spurious upcall). It
// reports whether evtchn_upcall_pending went from clear to set.
//
// Precondition: area is 64 bytes, 8-byte aligned, mapped as long as the
// view is; the caller orders the move against other event operations.
func (s *SharedInfo) moveVCPUInfo(vcpu int, area []byte) bool {
	to := (*vcpuInfo)(unsafe.Pointer(unsafe.SliceData(area)))
	from := s.vi[vcpu].Load()
	for i := range from {
		atomic.StoreUint64(&to[i], atomic.LoadUint64(&from[i]))
	}
	s.vi[vcpu].Store(to)
	atomic.StoreUint64(s.selWord(vcpu), ^uint64(0))
	return atomic.OrUint64(s.upcallWord(vcpu), 1)&1 == 0
}

func (s *SharedInfo) pendingWord(port Port) *uint64 {
	return &s.w[xen.SharedInfoEvtchnPending/8+port/64]
}

func (s *SharedInfo) maskWord(port Port) *uint64 {
	return &s.w[xen.SharedInfoEvtchnMask/8+port/64]
}

// upcallWord is the quadword holding vcpu's evtchn_upcall_pending (bit
// 0) and evtchn_upcall_mask (bits 8..15).
func (s *SharedInfo) upcallWord(vcpu int) *uint64 {
	return &s.vi[vcpu].Load()[xen.VCPUInfoUpcallPending/8]
}

func (s *SharedInfo) selWord(vcpu int) *uint64 {
	return &s.vi[vcpu].Load()[xen.VCPUInfoPendingSel/8]
}

func portBit(port Port) uint64 { return 1 << (port % 64) }

// setPending marks port pending for vcpu, as Xen's evtchn_2l_set_pending:
// set the port's pending bit; if it was clear and the port is not masked,
// set the port's word's bit in vcpu's evtchn_pending_sel, and if that was
// clear, set evtchn_upcall_pending (vcpu_mark_events_pending). It reports
// whether evtchn_upcall_pending went from clear to set, when Xen kicks
// the vCPU. The order of the steps is Xen's: the guest's handler clears
// them in the opposite order.
func (s *SharedInfo) setPending(port Port, vcpu int) bool {
	bit := portBit(port)
	if atomic.OrUint64(s.pendingWord(port), bit)&bit != 0 {
		return false
	}
	if atomic.LoadUint64(s.maskWord(port))&bit != 0 {
		return false
	}
	return s.markSel(port, vcpu)
}

// markSel sets port's word's selector bit for vcpu and, if it was clear,
// evtchn_upcall_pending; it reports whether the latter went from clear
// to set.
func (s *SharedInfo) markSel(port Port, vcpu int) bool {
	sel := uint64(1) << (port / 64)
	if atomic.OrUint64(s.selWord(vcpu), sel)&sel != 0 {
		return false
	}
	return atomic.OrUint64(s.upcallWord(vcpu), 1)&1 == 0
}

// clearPending clears port's pending bit (evtchn_2l_clear_pending).
func (s *SharedInfo) clearPending(port Port) {
	atomic.AndUint64(s.pendingWord(port), ^portBit(port))
}

// unmask clears port's mask bit and, if the port was masked and is
// pending, notifies vcpu as setPending would have (evtchn_2l_unmask): an
// event raised while masked is not lost. It reports whether
// evtchn_upcall_pending went from clear to set.
func (s *SharedInfo) unmask(port Port, vcpu int) bool {
	bit := portBit(port)
	if atomic.AndUint64(s.maskWord(port), ^bit)&bit == 0 {
		return false
	}
	if atomic.LoadUint64(s.pendingWord(port))&bit == 0 {
		return false
	}
	return s.markSel(port, vcpu)
}

// Pending reports whether port's bit in evtchn_pending is set.
//
// Precondition: port < NrPorts.
func (s *SharedInfo) Pending(port Port) bool {
	return atomic.LoadUint64(s.pendingWord(port))&portBit(port) != 0
}

// Masked reports whether port's bit in evtchn_mask is set.
//
// Precondition: port < NrPorts.
func (s *SharedInfo) Masked(port Port) bool {
	return atomic.LoadUint64(s.maskWord(port))&portBit(port) != 0
}

// PendingSel is vcpu's evtchn_pending_sel.
//
// Precondition: 0 <= vcpu < xen.LegacyMaxVCPUs.
func (s *SharedInfo) PendingSel(vcpu int) uint64 { return atomic.LoadUint64(s.selWord(vcpu)) }

// UpcallPending reports whether vcpu's evtchn_upcall_pending is set.
//
// Precondition: 0 <= vcpu < xen.LegacyMaxVCPUs.
func (s *SharedInfo) UpcallPending(vcpu int) bool {
	return atomic.LoadUint64(s.upcallWord(vcpu))&0xff != 0
}

// UpcallMasked reports whether vcpu's evtchn_upcall_mask is set: the
// guest has disabled event delivery.
//
// Precondition: 0 <= vcpu < xen.LegacyMaxVCPUs.
func (s *SharedInfo) UpcallMasked(vcpu int) bool {
	return atomic.LoadUint64(s.upcallWord(vcpu))>>(8*xen.VCPUInfoUpcallMask)&0xff != 0
}

// EventsNeedDelivery reports whether vcpu has an event upcall to take
// now: evtchn_upcall_pending set and evtchn_upcall_mask clear (Xen's
// local_events_need_delivery for a PV vCPU).
//
// Precondition: 0 <= vcpu < xen.LegacyMaxVCPUs.
func (s *SharedInfo) EventsNeedDelivery(vcpu int) bool {
	w := atomic.LoadUint64(s.upcallWord(vcpu))
	return w&0xff != 0 && w>>(8*xen.VCPUInfoUpcallMask)&0xff == 0
}

// SetUpcallMask sets or clears vcpu's evtchn_upcall_mask, as Xen does
// when it delivers an upcall (set) and in HYPERVISOR_iret and
// SCHEDOP_block (from the guest's RFLAGS.IF; cleared).
//
// Precondition: 0 <= vcpu < xen.LegacyMaxVCPUs.
func (s *SharedInfo) SetUpcallMask(vcpu int, masked bool) {
	const mask = uint64(0xff) << (8 * xen.VCPUInfoUpcallMask)
	if masked {
		atomic.OrUint64(s.upcallWord(vcpu), 1<<(8*xen.VCPUInfoUpcallMask))
	} else {
		atomic.AndUint64(s.upcallWord(vcpu), ^mask)
	}
}
