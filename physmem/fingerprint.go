package physmem

import (
	"unsafe"

	"github.com/pvsim/pvsim/fingerprint"
	"github.com/pvsim/pvsim/mmu"
)

// Fingerprints of memory. A domain's memory is digested frame by frame,
// the guest frames first and the hypervisor region's after them (Frames
// numbers them so); a search keeps the digest current by rehashing only
// the frames written since it last looked: those KVM's dirty log names,
// and those the host accessed (Track).

// Frames is the number of frames of both regions.
func (m *Memory) Frames() uint64 { return m.NrPages() + uint64(len(m.HV))>>mmu.PageShift }

// frame returns frame i of both regions (Frames' numbering), without
// marking it touched.
func (m *Memory) frame(i uint64) []byte {
	if g := m.NrPages(); i >= g {
		return m.HV[(i-g)<<mmu.PageShift : (i-g+1)<<mmu.PageShift]
	}
	return m.Guest[i<<mmu.PageShift : (i+1)<<mmu.PageShift]
}

// FrameDigest is the digest of frame i (Frames' numbering), mixed with i.
func (m *Memory) FrameDigest(i uint64) fingerprint.Digest {
	return fingerprint.Bytes(m.frame(i)).At(i)
}

// Track starts marking the frames the host accesses through Bytes (and so
// Frame, Read64, Write64 and the guest copies); TakeTouched hands them
// over. Accesses through slices obtained before, or kept, are not marked:
// the caller watches those frames itself.
func (m *Memory) Track() {
	if m.touched == nil {
		m.touched = fingerprint.NewBitmap(m.Frames())
	}
}

// Touch marks the frame b starts in as accessed, for a host that goes
// through a view it keeps (Track). It does nothing unless Track was
// called.
func (m *Memory) Touch(b []byte) {
	if m.touched == nil {
		return
	}
	if i, ok := m.FrameOf(b); ok {
		m.touched.Mark(i, i)
	}
}

// TakeTouched calls fn for each frame (Frames' numbering) the host
// accessed since Track or the last call, and forgets them.
//
// Precondition: Track was called.
func (m *Memory) TakeTouched(fn func(i uint64)) { m.touched.Take(fn) }

// FrameIndex is frame pfn's number in Frames' numbering, for a pfn of
// either region, or false.
func (m *Memory) FrameIndex(pfn uint64) (uint64, bool) {
	pa := pfn << mmu.PageShift
	switch {
	case pa < uint64(len(m.Guest)):
		return pfn, true
	case pa >= m.HVBase && pa-m.HVBase < uint64(len(m.HV)):
		return m.NrPages() + (pa-m.HVBase)>>mmu.PageShift, true
	}
	return 0, false
}

// FrameOf is the frame (Frames' numbering) that b starts in, when b is a
// view of this memory, as those the host keeps are.
func (m *Memory) FrameOf(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	p := uintptr(unsafe.Pointer(&b[0]))
	for _, r := range []struct {
		mem   []byte
		first uint64
	}{{m.Guest, 0}, {m.HV, m.NrPages()}} {
		if len(r.mem) == 0 {
			continue
		}
		base := uintptr(unsafe.Pointer(&r.mem[0]))
		if p >= base && p-base < uintptr(len(r.mem)) {
			return r.first + uint64(p-base)>>mmu.PageShift, true
		}
	}
	return 0, false
}
