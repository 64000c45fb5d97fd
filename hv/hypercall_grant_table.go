package hv

import (
	"encoding/binary"

	"github.com/pvsim/pvsim/gnttab"
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/ptops"
	"github.com/pvsim/pvsim/xen"
)

// grant_table_op (grant_table.h), version 1, self-grants: package gnttab
// keeps the table and its pins, ptops writes the mappings' PTEs. Each
// operation runs under the MMU lock, which guards the table.
//
// Offered: map_grant_ref and unmap_grant_ref (host mappings, by linear
// address or GNTMAP_contains_pte, with the flags' available bits in the
// PTE), setup_table, query_size, set_version (1 only: Xen with
// gnttab=max-ver:1), get_version, get_status_frames (a v1 table has
// none). A device mapping (GNTMAP_device_map) holds the frame's
// references and answers its bus address, as for a PV domain without an
// IOMMU; there are no devices to use it. copy copies between grants and
// frames of this domain. Not offered, ENOSYS: transfer, swap_grant_ref,
// dump_table, cache_flush (x86 Xen has none either).
//
// Offered too: unmap_and_replace, which Xen keeps for old kernels.

// grantTableOp: HYPERVISOR_grant_table_op(cmd, uop, count).
func (v *vcpu) grantTableOp(a *hypercallArgs) uint64 {
	cmd, uop, count := uint32(a[0]), a[1], uint32(a[2])
	if int32(count) < 0 {
		return xen.EINVAL.Ret()
	}
	if cmd&^xen.GnttabOpCmdMask != 0 && cmd&xen.GnttabOpCmdMask != xen.GnttabOpCacheFlush {
		return xen.EINVAL.Ret()
	}
	switch cmd & xen.GnttabOpCmdMask {
	case xen.GnttabOpMapGrantRef:
		return v.grantBatch(cmd, uop, count, xen.GnttabMapGrantRefSize, (*vcpu).mapGrantRef)
	case xen.GnttabOpUnmapGrantRef:
		return v.grantBatch(cmd, uop, count, xen.GnttabUnmapGrantRefSize, (*vcpu).unmapGrantRef)
	case xen.GnttabOpCopy:
		return v.grantBatch(cmd, uop, count, xen.GnttabCopySize, (*vcpu).grantCopy)
	case xen.GnttabOpUnmapAndReplace:
		return v.grantBatch(cmd, uop, count, xen.GnttabUnmapAndReplaceSize, (*vcpu).unmapAndReplace)
	case xen.GnttabOpSetupTable:
		return v.gnttabFrames(uop, count, false)
	case xen.GnttabOpGetStatusFrames:
		return v.gnttabFrames(uop, count, true)
	case xen.GnttabOpQuerySize:
		return v.gnttabQuerySize(uop, count)
	case xen.GnttabOpSetVersion:
		return v.gnttabSetVersion(uop)
	case xen.GnttabOpGetVersion:
		return v.gnttabGetVersion(uop)
	}
	return xen.ENOSYS.Ret()
}

// grantSelf reports whether dom names this domain as
// rcu_lock_domain_by_any_id takes it (DOMID_SELF or its id).
func grantSelf(dom uint16) bool { return dom == xen.DomIDSelf || dom == xen.PVSimDomID }

// grantBatch runs op on each of the count records of size bytes at uop,
// under the MMU lock, writing each record's results back; after
// hypercallSlice records the call continues later at the next one. A
// record that cannot be read or written back ends the call with EFAULT.
// Unmaps flush every vCPU's TLB once, before the call returns (Xen's
// gnttab_flush_tlb).
func (v *vcpu) grantBatch(cmd uint32, uop uint64, count uint32, size uint64, op func(v *vcpu, c *ptops.Context, rec []byte) (unmapped bool)) uint64 {
	c := v.lockMMU("grant_table_op")
	flush := false
	var err error
	i := uint32(0)
	for ; i < count; i++ {
		if i > 0 && (i%hypercallSlice == 0 || v.d.stopping.Load()) {
			break
		}
		rec := v.hc.buf[:size]
		at := uop + uint64(i)*size
		if err = v.readGuest(rec, at); err != nil {
			break
		}
		if op(v, c, rec) {
			flush = true
		}
		if err = v.writeGuest(at, rec); err != nil {
			break
		}
	}
	if flush {
		c.Flush(ptops.Flush{Kind: ptops.FlushAll, CPUs: c.All})
	}
	v.unlockMMU()
	if err != nil {
		return xen.EFAULT.Ret()
	}
	if i < count {
		return v.continueWith(uint64(cmd), uop+uint64(i)*size, uint64(count-i))
	}
	return 0
}

// mapGrantRef is one struct gnttab_map_grant_ref: Xen's map_grant_ref for
// a self-grant, host mapping only.
func (v *vcpu) mapGrantRef(c *ptops.Context, rec []byte) bool {
	hostAddr := binary.LittleEndian.Uint64(rec[xen.GnttabMapHostAddr:])
	flags := xen.GrantMapFlags(binary.LittleEndian.Uint32(rec[xen.GnttabMapFlags:]))
	ref := gnttab.Ref(binary.LittleEndian.Uint32(rec[xen.GnttabMapRef:]))
	dom := binary.LittleEndian.Uint16(rec[xen.GnttabMapDom:])
	t := v.d.gnttab
	h, frame, st := t.Acquire(ref, dom, flags)
	dev := mmu.GrantHold{PFN: frame, Writable: flags&xen.GNTMAPReadonly == 0}
	if st == xen.GNTSTOkay && flags&xen.GNTMAPDeviceMap != 0 {
		if c.FT.HoldGrant(dev) != nil {
			t.Abandon(h) // Xen's could_not_pin
			st = xen.GNTSTGeneralError
		}
	}
	if st == xen.GNTSTOkay && flags&xen.GNTMAPHostMap != 0 {
		if st = ptops.MapGrant(c, hostAddr, frame, flags); st != xen.GNTSTOkay {
			if flags&xen.GNTMAPDeviceMap != 0 {
				c.FT.ReleaseGrant(dev)
			}
			t.Abandon(h)
		}
	}
	binary.LittleEndian.PutUint16(rec[xen.GnttabMapStatus:], uint16(st))
	if st == xen.GNTSTOkay {
		t.Commit(h)
		binary.LittleEndian.PutUint32(rec[xen.GnttabMapHandle:], uint32(h))
		binary.LittleEndian.PutUint64(rec[xen.GnttabMapDevBusAddr:], frame<<12)
	}
	return false
}

// unmapGrantRef is one struct gnttab_unmap_grant_ref (Xen's unmap_common
// and unmap_common_complete): the host mapping at host_addr, if it is not
// 0, and the device mapping, if dev_bus_addr is not 0 (and is the
// frame's, else GNTST_bad_dev_addr); with both 0 nothing is unmapped, as
// in Xen.
func (v *vcpu) unmapGrantRef(c *ptops.Context, rec []byte) bool {
	hostAddr := binary.LittleEndian.Uint64(rec[xen.GnttabUnmapHostAddr:])
	busAddr := binary.LittleEndian.Uint64(rec[xen.GnttabUnmapDevBusAddr:])
	h := gnttab.Handle(binary.LittleEndian.Uint32(rec[xen.GnttabUnmapHandle:]))
	t := v.d.gnttab
	m, st := t.Lookup(h)
	var done xen.GrantMapFlags
	if st == xen.GNTSTOkay && busAddr != 0 && m.Flags&xen.GNTMAPDeviceMap != 0 && busAddr != m.Frame<<mmu.PageShift {
		st = xen.GNTSTBadDevAddr
	}
	if st == xen.GNTSTOkay && hostAddr != 0 && m.Flags&xen.GNTMAPHostMap != 0 {
		if st = ptops.UnmapGrant(c, hostAddr, m.Frame, m.Flags); st == xen.GNTSTOkay {
			done |= xen.GNTMAPHostMap
		}
	}
	if st == xen.GNTSTOkay && busAddr != 0 && m.Flags&xen.GNTMAPDeviceMap != 0 {
		c.FT.ReleaseGrant(mmu.GrantHold{PFN: m.Frame, Writable: m.Flags&xen.GNTMAPReadonly == 0})
		done |= xen.GNTMAPDeviceMap
	}
	if done != 0 {
		t.Release(h, done)
	}
	binary.LittleEndian.PutUint16(rec[xen.GnttabUnmapStatus:], uint16(st))
	return done&xen.GNTMAPHostMap != 0
}

// unmapAndReplace is one struct gnttab_unmap_and_replace: the host
// mapping at host_addr, if it is not 0, is replaced by the entry that
// maps new_addr, which is cleared (Xen's unmap_common with a new_addr).
func (v *vcpu) unmapAndReplace(c *ptops.Context, rec []byte) bool {
	hostAddr := binary.LittleEndian.Uint64(rec)
	newAddr := binary.LittleEndian.Uint64(rec[xen.GnttabUnmapAndReplaceNewAddr:])
	h := gnttab.Handle(binary.LittleEndian.Uint32(rec[xen.GnttabUnmapAndReplaceHandle:]))
	t := v.d.gnttab
	m, st := t.Lookup(h)
	done := false
	if st == xen.GNTSTOkay && hostAddr != 0 && m.Flags&xen.GNTMAPHostMap != 0 {
		if st = ptops.ReplaceGrant(c, hostAddr, m.Frame, m.Flags, newAddr); st == xen.GNTSTOkay {
			t.Release(h, xen.GNTMAPHostMap)
			done = true
		}
	}
	binary.LittleEndian.PutUint16(rec[xen.GnttabUnmapAndReplaceStatus:], uint16(st))
	return done
}

// gnttabFrames is setup_table (grow the table to nr_frames and list its
// frames) or, with status, get_status_frames (a v1 table has no status
// frames: asking for any is GNTST_general_error). Only the status field
// is written back.
func (v *vcpu) gnttabFrames(uop uint64, count uint32, status bool) uint64 {
	if count != 1 {
		return xen.EINVAL.Ret()
	}
	size, domOff, nrOff, stOff, listOff := uint64(xen.GnttabSetupTableSize), xen.GnttabSetupTableDom,
		xen.GnttabSetupTableNrFrames, xen.GnttabSetupTableStatus, xen.GnttabSetupTableFrameList
	if status {
		size, domOff, nrOff, stOff, listOff = xen.GnttabGetStatusFramesSize, xen.GnttabGetStatusFramesDom,
			xen.GnttabGetStatusFramesNrFrames, xen.GnttabGetStatusFramesStatus, xen.GnttabGetStatusFramesFrameList
	}
	rec := v.hc.buf[:size]
	if err := v.readGuest(rec, uop); err != nil {
		return errRet(err)
	}
	nr := binary.LittleEndian.Uint32(rec[nrOff:])
	list := binary.LittleEndian.Uint64(rec[listOff:])
	if !mmu.GuestRange(list, uint64(nr)*8) {
		return xen.EFAULT.Ret()
	}
	st := xen.GNTSTOkay
	v.lockMMU("grant_table_op")
	var frames []uint64
	switch {
	case !grantSelf(binary.LittleEndian.Uint16(rec[domOff:])):
		st = xen.GNTSTBadDomain
	case status && nr > 0:
		st = xen.GNTSTGeneralError
	case !status:
		frames, st = v.d.gnttab.Setup(nr)
	}
	v.unlockMMU()
	var b [8]byte
	for i, pfn := range frames {
		binary.LittleEndian.PutUint64(b[:], pfn)
		if v.writeGuest(list+uint64(i)*8, b[:]) != nil {
			st = xen.GNTSTBadVirtAddr
			break
		}
	}
	binary.LittleEndian.PutUint16(b[:], uint16(st))
	return v.writeGuestRet(uop+uint64(stOff), b[:2])
}

// gnttabQuerySize: GNTTABOP_query_size.
func (v *vcpu) gnttabQuerySize(uop uint64, count uint32) uint64 {
	if count != 1 {
		return xen.EINVAL.Ret()
	}
	rec := v.hc.buf[:xen.GnttabQuerySizeSize]
	if err := v.readGuest(rec, uop); err != nil {
		return errRet(err)
	}
	st := xen.GNTSTBadDomain
	if grantSelf(binary.LittleEndian.Uint16(rec[xen.GnttabQuerySizeDom:])) {
		v.lockMMU("grant_table_op")
		nr, max := v.d.gnttab.Frames()
		v.unlockMMU()
		binary.LittleEndian.PutUint32(rec[xen.GnttabQuerySizeNrFrames:], uint32(nr))
		binary.LittleEndian.PutUint32(rec[xen.GnttabQuerySizeMaxNrFrames:], uint32(max))
		st = xen.GNTSTOkay
	}
	binary.LittleEndian.PutUint16(rec[xen.GnttabQuerySizeStatus:], uint16(st))
	return v.writeGuestRet(uop, rec)
}

// gnttabSetVersion: GNTTABOP_set_version. Version 1 is the table's
// already; 2 is ENOSYS, as from a Xen whose gnttab=max-ver is 1; anything
// else EINVAL.
func (v *vcpu) gnttabSetVersion(uop uint64) uint64 {
	var b [xen.GnttabSetVersionSize]byte
	if err := v.readGuest(b[:], uop); err != nil {
		return errRet(err)
	}
	res := xen.EINVAL.Ret()
	switch binary.LittleEndian.Uint32(b[:]) {
	case 1:
		res = 0
	case 2:
		res = xen.ENOSYS.Ret()
	}
	// The version in use is written back whatever the outcome.
	binary.LittleEndian.PutUint32(b[:], uint32(v.d.gnttab.Version()))
	if err := v.writeGuest(uop, b[:]); err != nil {
		return xen.EFAULT.Ret()
	}
	return res
}

// gnttabGetVersion: GNTTABOP_get_version of this domain (ESRCH for any
// other).
func (v *vcpu) gnttabGetVersion(uop uint64) uint64 {
	var b [xen.GnttabGetVersionSize]byte
	if err := v.readGuest(b[:], uop); err != nil {
		return errRet(err)
	}
	if !grantSelf(binary.LittleEndian.Uint16(b[:])) {
		return xen.ESRCH.Ret()
	}
	binary.LittleEndian.PutUint32(b[xen.GnttabGetVersionVersion:], uint32(v.d.gnttab.Version()))
	return v.writeGuestRet(uop+xen.GnttabGetVersionVersion, b[xen.GnttabGetVersionVersion:])
}

// copyBuf is one side of a grant copy: the frame, and how it was claimed.
type copyBuf struct {
	frame    uint64
	offset   uint64
	readonly bool
	gref     bool
	ref      gnttab.Ref
	typed    bool // holds a writable type reference
}

// grantCopy is one struct gnttab_copy, as Xen's gnttab_copy_one: each
// side is a grant (GNTCOPY_source_gref, GNTCOPY_dest_gref) of the domain
// it names, or a frame of this domain, which only DOMID_SELF may name
// (else GNTST_permission_denied); a domain that is not there is
// GNTST_bad_domain. The source is claimed read-only, the destination
// writable, which a pagetable or descriptor frame cannot be
// (GNTST_general_error), a frame outside the domain is GNTST_bad_page,
// and grants are checked and pinned as for a host mapping while the copy
// runs; then the bytes must lie inside both pages (else
// GNTST_bad_copy_arg). A zero length copies nothing and succeeds.
func (v *vcpu) grantCopy(c *ptops.Context, rec []byte) bool {
	le := binary.LittleEndian
	n := uint64(le.Uint16(rec[xen.GnttabCopyLen:]))
	flags := le.Uint16(rec[xen.GnttabCopyFlags:])
	st := xen.GNTSTOkay
	if n != 0 {
		st = v.copyOne(c, rec, n, flags)
	}
	le.PutUint16(rec[xen.GnttabCopyStatus:], uint16(st))
	return false
}

func (v *vcpu) copyOne(c *ptops.Context, rec []byte, n uint64, flags uint16) xen.GrantStatus {
	le := binary.LittleEndian
	sp, dp := rec[xen.GnttabCopySource:], rec[xen.GnttabCopyDest:]
	src := copyBuf{readonly: true, gref: flags&xen.GNTCOPYSourceGref != 0}
	dst := copyBuf{gref: flags&xen.GNTCOPYDestGref != 0}
	// gnttab_copy_lock_domains.
	if st := copyDomain(sp, src.gref); st != xen.GNTSTOkay {
		return st
	}
	if st := copyDomain(dp, dst.gref); st != xen.GNTSTOkay {
		return st
	}
	// gnttab_copy_claim_buf, the source first; then gnttab_copy_buf.
	if st := v.claimCopyBuf(c, sp, &src); st != xen.GNTSTOkay {
		return st
	}
	defer v.releaseCopyBuf(c, &src)
	if st := v.claimCopyBuf(c, dp, &dst); st != xen.GNTSTOkay {
		return st
	}
	defer v.releaseCopyBuf(c, &dst)
	so, do := uint64(le.Uint16(sp[xen.GnttabCopyPtrOffset:])), uint64(le.Uint16(dp[xen.GnttabCopyPtrOffset:]))
	if so+n > mmu.PageSize || do+n > mmu.PageSize {
		return xen.GNTSTBadCopyArg
	}
	copy(v.d.mem.Frame(dst.frame)[do:do+n], v.d.mem.Frame(src.frame)[so:so+n])
	return xen.GNTSTOkay
}

// copyDomain checks one side's domain (gnttab_copy_lock_domain): a frame
// only DOMID_SELF may name; a domain that is not there is bad.
func copyDomain(ptr []byte, gref bool) xen.GrantStatus {
	dom := binary.LittleEndian.Uint16(ptr[xen.GnttabCopyPtrDomID:])
	switch {
	case dom != xen.DomIDSelf && !gref:
		return xen.GNTSTPermissionDenied
	case !grantSelf(dom) && dom != xen.BackendDomID:
		return xen.GNTSTBadDomain
	}
	return xen.GNTSTOkay
}

// claimCopyBuf claims one side of a copy for b (Xen's
// gnttab_copy_claim_buf): a grant pinned for it, or a frame of the
// domain; a writable type reference on a destination. A claim refused
// holds nothing; one made is undone by releaseCopyBuf.
func (v *vcpu) claimCopyBuf(c *ptops.Context, ptr []byte, b *copyBuf) xen.GrantStatus {
	le := binary.LittleEndian
	if b.gref {
		b.ref = gnttab.Ref(le.Uint32(ptr))
		dom := le.Uint16(ptr[xen.GnttabCopyPtrDomID:])
		if dom == xen.DomIDSelf {
			dom = xen.PVSimDomID
		}
		frame, st := v.d.gnttab.AcquireForCopy(b.ref, dom, b.readonly)
		if st != xen.GNTSTOkay {
			return st
		}
		b.frame = frame
	} else {
		b.frame = le.Uint64(ptr)
		if b.frame >= v.d.boot.NrPages {
			return xen.GNTSTBadPage
		}
	}
	if !b.readonly {
		if c.FT.GetPageAndType(b.frame, mmu.TypeWritable, c.X) != nil {
			v.releaseCopyBuf(c, b)
			return xen.GNTSTGeneralError
		}
		b.typed = true
	}
	return xen.GNTSTOkay
}

// releaseCopyBuf undoes claimCopyBuf.
func (v *vcpu) releaseCopyBuf(c *ptops.Context, b *copyBuf) {
	if b.typed {
		c.FT.PutPageAndType(b.frame)
	}
	if b.gref {
		v.d.gnttab.ReleaseCopy(b.ref, b.readonly)
	}
}
