package hv

import (
	"encoding/binary"

	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/xen"
)

// memory_op (memory.h): what a PV guest asks about its memory. pvsim's
// domain has all its memory from the start and never changes it, so the
// commands that change a reservation or the physmap are ENOSYS.

// memoryOp: HYPERVISOR_memory_op(cmd, arg).
func (v *vcpu) memoryOp(a *hypercallArgs) uint64 {
	cmd, arg := a[0]&xen.MemOpCmdMask, a[1]
	switch cmd {
	case xen.XenMemMaximumRAMPage:
		if a[0]>>xen.MemOpExtentShift != 0 {
			return xen.EINVAL.Ret()
		}
		return v.d.boot.NrPages - 1
	case xen.XenMemCurrentReservation, xen.XenMemMaximumReservation, xen.XenMemMaximumGPFN:
		var b [2]byte
		if err := v.readGuest(b[:], arg); err != nil {
			return errRet(err)
		}
		if id := binary.LittleEndian.Uint16(b[:]); id != xen.DomIDSelf && id != xen.PVSimDomID {
			return xen.ESRCH.Ret()
		}
		if cmd == xen.XenMemMaximumGPFN {
			return v.d.boot.NrPages - 1
		}
		return v.d.boot.NrPages
	case xen.XenMemMemoryMap:
		return v.memoryMap(arg)
	case xen.XenMemMachphysMapping:
		b := v.hc.buf[:xen.MachphysMappingSize]
		// The read-only M2P pvsim maps where CPL3 can read it; Xen's
		// default address (MACH2PHYS_VIRT_START) is served too, one
		// exit a load, for guests that do not ask.
		m := &v.d.m2p
		binary.LittleEndian.PutUint64(b, m.start)
		binary.LittleEndian.PutUint64(b[8:], m.end)
		binary.LittleEndian.PutUint64(b[16:], m.maxMFN)
		return v.writeGuestRet(arg, b)
	}
	return xen.ENOSYS.Ret()
}

// memoryMap answers XENMEM_memory_map with the map a toolstack sets for
// the domain: its RAM, one region from 0 (the shared info page and the
// grant table's frames are after it, outside RAM, as Xen keeps them in
// its heap). Xen answers ENOSYS to a domain whose toolstack set no map,
// and Linux then makes this very map itself. Up to nr_entries entries are
// written, and nr_entries says how many.
func (v *vcpu) memoryMap(arg uint64) uint64 {
	var m [xen.MemoryMapSize]byte
	if err := v.readGuest(m[:], arg); err != nil {
		return errRet(err)
	}
	n := min(uint64(binary.LittleEndian.Uint32(m[:])), 1)
	b := v.hc.buf[:n*xen.E820EntrySize]
	if n == 1 {
		binary.LittleEndian.PutUint64(b, 0)
		binary.LittleEndian.PutUint64(b[8:], v.d.boot.NrPages<<mmu.PageShift)
		binary.LittleEndian.PutUint32(b[16:], xen.E820RAM)
	}
	if err := v.writeGuest(binary.LittleEndian.Uint64(m[xen.MemoryMapBuffer:]), b); err != nil {
		return errRet(err)
	}
	binary.LittleEndian.PutUint32(m[:], uint32(n))
	return v.writeGuestRet(arg, m[:4])
}
