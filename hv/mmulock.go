package hv

import (
	"strings"
	"time"

	"github.com/pvsim/pvsim/biglock"
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/ptops"
)

// The domain's MMU lock guards the frame table. A vCPU takes it for each
// pagetable operation: a hypercall, a multicall entry, or an emulated
// write. This is the per-domain lock of Xen 3.1 and 3.2 (LOCK_BIGLOCK in
// do_mmu_update, do_mmuext_op, do_update_va_mapping and the ptwr fault
// path), the Xen that Linux 2.6.23/24 ran on; Xen's do_multicall calls each
// entry's handler in turn, so the lock is not held between entries, and
// another vCPU's hypercall or fault can run there (docs/MODEL.md).

// mmuState is a vCPU's side of the MMU lock: the context its pagetable
// operations run in, and the remote flushes they asked for. Only the
// vCPU's thread touches it; ctx is valid while locked.
type mmuState struct {
	ctx ptops.Context
	// Method values made once, so that taking the lock allocates nothing.
	readGuestFn func(va uint64, b []byte) error
	flushFn     func(ptops.Flush)
	settleFn    func(pa uint64)
	// remote collects the vCPUs an operation asked to flush.
	remote      ptops.VCPUMask
	lastOp      string // for audit reports
	audit       mmu.AuditCopy
	cr3s        []uint64 // scratch space for the audit's copy
	inMulticall bool
	locked      bool // the vCPU holds the domain's MMU lock
	// exchange asks the unlock to mark the deferred compare-and-exchange
	// of the entry at exchangePA (ptwr's one-exit path).
	exchange   bool
	exchangePA uint64
}

// mmuMemory is guest memory as the frame table reads it: memory, with the
// stores queued in the lock holder's executor laid over it, so that
// validation sees what the guest will see. A read never runs guest code.
type mmuMemory struct{ d *Domain }

// Read64 implements mmu.Memory. The caller holds the MMU lock.
func (m *mmuMemory) Read64(pa uint64) (uint64, bool) {
	m.d.mmu.Settle(pa)
	if o := m.d.mmuOwner; o != nil && o.exec.Queued() > 0 {
		if v, ok := o.exec.QueuedStore(pa); ok {
			return v, true
		}
	}
	return m.d.mem.Read64(pa)
}

// Publish implements mmu.Publisher: the lock holder runs the stores it
// queued, before the frame table validates a frame.
func (m *mmuMemory) Publish() {
	if o := m.d.mmuOwner; o != nil && o.exec.Queued() > 0 {
		o.exec.Round()
	}
}

// lockMMU takes the domain's MMU lock for v, for the operation op (named in
// audit reports), and returns v's context for pagetable operations. The
// lock's holder finds in memory every store the frame table counts.
func (v *vcpu) lockMMU(op string) *ptops.Context { return v.lockMMUAs(op, false) }

// lockMMUAs is lockMMU for an operation that, if lazy, moves no reference
// unless it settles first (ptops.Context.Settle), and so waits only for
// the queued stores of other vCPUs that it reads or writes (biglock).
func (v *vcpu) lockMMUAs(op string, lazy bool) *ptops.Context {
	v.mm.lastOp = op
	if !v.mm.locked {
		v.d.mmu.Acquire(v.id, lazy, &v.stats)
		v.d.mmuOwner = v
		v.mm.locked = true
	}
	c := &v.mm.ctx
	*c = ptops.Context{
		FT: v.d.ft, X: v.exec, VCPU: v.id, CR3: &v.start.cr3, UserBase: &v.start.userBase, LDT: &v.start.ldt, All: v.d.upMask(),
		ReadGuest: v.mm.readGuestFn, Flush: v.mm.flushFn, Settle: v.mm.settleFn,
	}
	return c
}

// unlockMMU ends a pagetable operation: it audits, if asked to, releases
// the lock, and then does the remote TLB flushes the operation asked for.
// Stores the operation queued in the executor may still be queued: they
// are marked (MarkQueued), and the next holder waits for them (lockMMU).
func (v *vcpu) unlockMMU() {
	if !v.mm.locked {
		return
	}
	audit := false
	if d := v.d; d.cfg.Audit && (d.cfg.AuditInterval == 0 || time.Since(d.lastAudit) >= d.cfg.AuditInterval) {
		d.mmu.Settle(biglock.Everything)
		v.snapshotForAudit()
		audit = true
		d.lastAudit = time.Now()
	}
	if v.mm.remote != 0 && v.exec.Queued() > 0 && v.d.det == nil {
		// v is about to wait for other vCPUs' flushes; one of them may be
		// waiting under the lock for v's queued stores (lockMMU). Run them
		// now, so that no vCPU waits on another while leaving queued
		// something that other one needs.
		v.exec.Round()
	}
	if v.mm.exchange {
		v.exec.MarkExchange(v.mm.exchangePA)
		v.mm.exchange = false
	} else {
		v.exec.MarkQueued()
	}
	v.d.mmuOwner = nil
	v.mm.locked = false
	v.d.mmu.Release()
	if audit {
		v.audit()
	}
	if v.mm.remote != 0 {
		v.flushRemote()
	}
}

// upMask is the set of vCPUs that are up.
func (d *Domain) upMask() ptops.VCPUMask {
	var m ptops.VCPUMask
	for _, v := range d.vcpus {
		if v.state.Load() == Up {
			m |= 1 << v.id
		}
	}
	return m
}

// snapshotForAudit copies, under the MMU lock, what audit checks.
func (v *vcpu) snapshotForAudit() {
	cr3s := v.mm.cr3s[:0]
	for _, t := range v.d.vcpus {
		if t.state.Load() != Down {
			cr3s = append(cr3s, t.start.cr3)
		}
		if t.start.userBase != 0 {
			cr3s = append(cr3s, t.start.userBase<<mmu.PageShift)
		}
	}
	v.mm.cr3s = cr3s
	v.d.ft.Snapshot(&v.mm.audit, cr3s)
}

// audit checks the type system's invariants on the copy snapshotForAudit
// made, without the lock, and ends the domain on a violation.
func (v *vcpu) audit() {
	v.stats.Audits++
	if viol := v.mm.audit.Check(3); len(viol) > 0 {
		var s []string
		for _, x := range viol {
			s = append(s, x.String())
		}
		v.fatal(AuditFailure, v.run.Regs.RIP, "pagetable audit after "+v.mm.lastOp+": "+strings.Join(s, "; "))
	}
}

// flushTLB does TLB maintenance for a pagetable operation: on this vCPU
// through its executor now, on others after the MMU lock is released.
func (v *vcpu) flushTLB(f ptops.Flush) {
	if f.CPUs&(1<<v.id) != 0 {
		if f.Kind == ptops.FlushPage {
			v.exec.InvalidatePage(f.VA)
		} else {
			v.exec.FlushTLB()
		}
	}
	// Remote flushes are always full: over-flushing is allowed, and it keeps
	// the request a single bit.
	v.mm.remote |= f.CPUs &^ (1 << v.id)
}
