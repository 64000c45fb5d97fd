package hv

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/ptops"
	"github.com/pvsim/pvsim/xen"
)

// mmuMemory is guest memory as the frame table reads it. The vCPU holding
// the MMU lock may have stores queued in its executor; they run before any
// read, so that validation sees what the guest will see.
type mmuMemory struct{ d *Domain }

func (m *mmuMemory) Read64(pa uint64) (uint64, bool) {
	if o := m.d.mmuOwner; o != nil && o.exec.n > 0 {
		o.exec.round()
	}
	return m.d.mem.Read64(pa)
}

// lockMMU takes the domain's MMU lock for v and returns v's context for
// pagetable operations. Inside a multicall the lock, once taken, is kept
// until the multicall ends: between its entries the executor holds stores
// the frame table already counts.
func (v *vcpu) lockMMU() *ptops.Context {
	if !v.mmuLocked {
		v.d.lockMMU(v)
		v.d.mmuOwner = v
		v.mmuLocked = true
	}
	c := &v.mmuCtx
	*c = ptops.Context{
		FT: v.d.ft, X: v.exec, VCPU: v.id, CR3: &v.cr3, All: v.d.upMask(),
		ReadGuest: v.readGuestFn, Flush: v.flushFn,
	}
	return c
}

// lockMMU takes the MMU lock for v once no other vCPU holds stores that
// the frame table counts and memory does not show yet: the lock's holder
// then finds in memory what the frame table counts. Those stores run as
// soon as their vCPU is back in KVM_RUN or in its next executor round,
// neither of which needs the lock.
func (d *Domain) lockMMU(v *vcpu) {
	d.mmu.Lock()
	for _, u := range d.vcpus {
		for u != v && u.exec.storesPending() && !d.stopping.Load() {
			runtime.Gosched()
		}
	}
}

// unlockMMU ends a pagetable operation: it releases the MMU lock, unless
// the operation is an entry of a multicall, which releases it at its end.
func (v *vcpu) unlockMMU() {
	if !v.inMulticall {
		v.releaseMMU()
	}
}

// releaseMMU audits, if asked to, releases the lock, and then does the
// remote TLB flushes the operations asked for.
func (v *vcpu) releaseMMU() {
	if !v.mmuLocked {
		return
	}
	if d := v.d; d.cfg.Audit && (d.cfg.AuditInterval == 0 || time.Since(d.lastAudit) >= d.cfg.AuditInterval) {
		v.audit()
		v.stats.Audits++
		d.lastAudit = time.Now()
	}
	v.exec.markQueued()
	v.d.mmuOwner = nil
	v.mmuLocked = false
	v.d.mmu.Unlock()
	if v.remote != 0 {
		v.flushRemote()
	}
}

// upMask is the set of vCPUs that are up.
func (d *Domain) upMask() ptops.VCPUMask {
	var m ptops.VCPUMask
	for _, v := range d.vcpus {
		if v.state.Load() == vcpuUp {
			m |= 1 << v.id
		}
	}
	return m
}

// audit checks the type system's invariants and ends the domain on a
// violation. The caller holds the MMU lock.
func (v *vcpu) audit() {
	var cr3s []uint64
	for _, t := range v.d.vcpus {
		if t.state.Load() != vcpuDown {
			cr3s = append(cr3s, t.cr3)
		}
	}
	if viol := v.d.ft.Audit(cr3s, 3); len(viol) > 0 {
		var s []string
		for _, x := range viol {
			s = append(s, x.String())
		}
		v.fatal(AuditFailure, v.run.regs.RIP, "pagetable audit after "+v.lastMMUOp+": "+strings.Join(s, "; "))
	}
}

// flush does TLB maintenance for a pagetable operation: on this vCPU
// through its executor now, on others after the MMU lock is released.
func (v *vcpu) flush(f ptops.Flush) {
	if f.CPUs&(1<<v.id) != 0 {
		if f.Kind == ptops.FlushPage {
			v.exec.InvalidatePage(f.VA)
		} else {
			v.exec.FlushTLB()
		}
	}
	// Remote flushes are always full: over-flushing is allowed, and it keeps
	// the request a single bit.
	v.remote |= f.CPUs &^ (1 << v.id)
}

func mmuErr(err error) uint64 {
	if err == nil {
		return 0
	}
	return ptops.Errno(err).Ret()
}

// batch runs op on each of count records of size bytes at guest address
// base, under the MMU lock, stopping at the first refusal, and reports the
// number done through pdone as mmu_update and mmuext_op do.
func (v *vcpu) batch(name string, base, count, size, pdone, dom uint64, op func(v *vcpu, c *ptops.Context, rec []byte) error) uint64 {
	if dom != xen.DomIDSelf {
		return xen.ESRCH.Ret()
	}
	v.lastMMUOp = name
	c := v.lockMMU()
	var err error
	done := uint64(0)
	for ; done < count; done++ {
		rec := v.buf[:size]
		if err = v.readGuest(rec, base+done*size); err != nil {
			break
		}
		if err = op(v, c, rec); err != nil {
			break
		}
	}
	v.unlockMMU()
	if pdone != 0 {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(done))
		if werr := v.writeGuest(pdone, b[:]); werr != nil && err == nil {
			return xen.EFAULT.Ret()
		}
	}
	return mmuErr(err)
}

// mmuUpdate: HYPERVISOR_mmu_update(req, count, success_count, domid).
func (v *vcpu) mmuUpdate(a *hypercallArgs) uint64 {
	return v.batch("mmu_update", a[0], a[1], xen.MMUUpdateSize, a[2], a[3], (*vcpu).mmuUpdateOp)
}

func (v *vcpu) mmuUpdateOp(c *ptops.Context, rec []byte) error {
	ptr, val := binary.LittleEndian.Uint64(rec), mmu.PTE(binary.LittleEndian.Uint64(rec[8:]))
	switch ptr & 7 {
	case xen.MMUNormalPTUpdate:
		return ptops.UpdateEntry(c, ptr&^7, val, false)
	case xen.MMUPTUpdatePreserveAD:
		return ptops.UpdateEntry(c, ptr&^7, val, true)
	}
	return fmt.Errorf("mmu_update: request type %d: %w", ptr&7, xen.ENOSYS)
}

// updateVAMapping: HYPERVISOR_update_va_mapping(va, val, flags).
func (v *vcpu) updateVAMapping(a *hypercallArgs) uint64 {
	v.lastMMUOp = "update_va_mapping"
	c := v.lockMMU()
	err := ptops.UpdateVAMapping(c, a[0], mmu.PTE(a[1]), a[2])
	v.unlockMMU()
	return mmuErr(err)
}

// mmuextOp: HYPERVISOR_mmuext_op(op, count, success_count, domid).
func (v *vcpu) mmuextOp(a *hypercallArgs) uint64 {
	return v.batch("mmuext_op", a[0], a[1], xen.MMUExtOpSize, a[2], a[3], (*vcpu).mmuextOpRec)
}

func (v *vcpu) mmuextOpRec(c *ptops.Context, rec []byte) error {
	return ptops.MMUExtOp(c, ptops.ExtOp{
		Cmd:  binary.LittleEndian.Uint32(rec),
		Arg1: binary.LittleEndian.Uint64(rec[8:]),
		Arg2: binary.LittleEndian.Uint64(rec[16:]),
	})
}

// multicall: HYPERVISOR_multicall(calls, nr_calls). Each entry's result is
// written back into it; the call itself returns 0.
func (v *vcpu) multicall(a *hypercallArgs) uint64 {
	calls, n := a[0], a[1]
	if v.inMulticall {
		return xen.EINVAL.Ret()
	}
	v.inMulticall = true
	defer func() {
		v.inMulticall = false
		v.releaseMMU()
	}()
	for i := uint64(0); i < n; i++ {
		var b [xen.MulticallEntrySize]byte
		at := calls + i*xen.MulticallEntrySize
		if err := v.readGuest(b[:], at); err != nil {
			return xen.EFAULT.Ret()
		}
		op := binary.LittleEndian.Uint64(b[:])
		var args hypercallArgs
		for j := range args {
			args[j] = binary.LittleEndian.Uint64(b[xen.MulticallArgs+8*j:])
		}
		ret := v.call(op, &args)
		var r [8]byte
		binary.LittleEndian.PutUint64(r[:], ret)
		if err := v.writeGuest(at+xen.MulticallResult, r[:]); err != nil {
			return xen.EFAULT.Ret()
		}
		if v.d.stopping.Load() {
			break
		}
	}
	return 0
}
