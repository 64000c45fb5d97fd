package hv

import (
	"errors"
	"fmt"

	"github.com/pvsim/pvsim/fingerprint"
	"github.com/pvsim/pvsim/hvimage"
	"github.com/pvsim/pvsim/internal/kvm"
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/sched"
)

// State fingerprints. A domain restored with Config.Fingerprint names its
// state at every scheduling point by a digest (sched.Point.State): two
// points with equal digests have the same future under every schedule,
// which is what lets a search prune a subtree it has already explored.
//
// The digest covers everything a run's future depends on:
//   - guest memory and the hypervisor region, frame by frame: the frames
//     KVM's dirty log says the guest wrote, those the host accessed
//     through physmem (Memory.Track), and those the host writes through
//     views it keeps (shared_info, the vcpu_info pages, the console,
//     xenstore and grant-table frames, the exit-counter page, each vCPU's
//     command block and the top page of its CPL0 stack) are rehashed at
//     each point;
//   - the frame table, record by record (FrameTable.Track), and what it
//     holds besides;
//   - the scheduling point itself and the deterministic CPU's state (the
//     vCPU at the point, the step and the logical clock);
//   - every vCPU's registers (general, special, x87 and SSE), pending exit
//     and pending events as KVM left them (the interrupt bitmap only while
//     an interrupt is pending), what its crash report would say, and the
//     hypervisor's state of it: its start context, trap table, callbacks,
//     GDT and LDT, guest mode, privileged registers, hypercall and trap
//     state, the deferred exchange, timers and TLB flush requests;
//   - the event channels, grant table and xenstore.
//
// Left out, as history that no future depends on: exit traces and
// statistics, console output, the labels read (a cache of guest strings:
// a label is digested as a point's), decoded instructions and scratch
// space. Left out for want of a way to read it: what KVM caches of the
// guest's translations (TLBs, kvm_pvm's shadow pagetables). pvsim's own
// TLB model, the frame table's flush clock and the vCPUs' flush requests,
// is in; docs/MODEL.md says what that leaves.

// stateDigests keeps a domain's fingerprint current.
type stateDigests struct {
	mem, frames *fingerprint.Set
	// slots are KVM_GET_DIRTY_LOG's bitmaps of memory slots 0 (guest
	// frames) and 1 (the hypervisor region); todo gathers the frames to
	// rehash, in physmem.Memory.Frames' numbering.
	slots [2]fingerprint.Bitmap
	todo  fingerprint.Bitmap
	// kept are the frames the host writes through views it keeps.
	kept []uint64
	h    *fingerprint.Hash
	fpu  kvm.FPU // KVM_GET_FPU's
	// rehashed counts the frames digested again, for BenchmarkStateDigest.
	rehashed uint64
	// verify, in tests, recomputes the memory's and the frame table's
	// digests from scratch at every point and fails the domain if the
	// incremental ones differ: what proves the dirty tracking complete.
	verify func(mem, frames fingerprint.Digest) error
}

// digestBases are a snapshot's digests, from which each domain restored
// with Config.Fingerprint starts.
type digestBases struct {
	mem, frames *fingerprint.Base
}

// newStateDigests starts d's fingerprint at the snapshot's bases.
//
// Precondition: d is restored from a snapshot with bases b, has its VM
// and vCPUs, and no vCPU has run.
func (d *Domain) newStateDigests(b *digestBases) (*stateDigests, error) {
	f := &stateDigests{mem: b.mem.NewSet(), frames: b.frames.NewSet(), todo: fingerprint.NewBitmap(d.mem.Frames()), h: fingerprint.NewHash()}
	f.slots[0] = fingerprint.NewBitmap(d.mem.NrPages())
	f.slots[1] = fingerprint.NewBitmap(uint64(len(d.mem.HV)) >> mmu.PageShift)
	views := [][]byte{d.sharedInfo, d.mem.Frame(d.boot.Console), d.mem.Frame(d.boot.Store)}
	views = append(views, d.gnttab.Shared()...)
	for _, v := range d.vcpus {
		// The executor keeps its command block and the top page of the
		// CPL0 stack; the other stack pages the host reaches through
		// stackWord, which touches them.
		w := mmu.Translate(d.mem, d.boot.L4<<mmu.PageShift, hvimage.CPUCmdBlockVA(v.id), mmu.AccessWrite)
		if !w.OK {
			return nil, fmt.Errorf("vCPU %d's command block at %#x is not mapped", v.id, w.VA)
		}
		views = append(views, v.traps.stack[hvimage.CPUStackPages-1], d.mem.Bytes(w.PA, mmu.PageSize))
	}
	for _, b := range views {
		i, ok := d.mem.FrameOf(b)
		if !ok {
			return nil, errors.New("a view the host keeps is not of the domain's memory")
		}
		f.kept = append(f.kept, i)
	}
	return f, nil
}

// stateDigest is the digest of d's state at scheduling point p, which the
// vCPU at it has filled in.
func (d *Domain) stateDigest(p *sched.Point) (fingerprint.Digest, error) {
	f := d.digests
	for slot, bm := range f.slots {
		if err := d.vm.DirtyLog(slot, bm); err != nil {
			return fingerprint.Digest{}, err
		}
	}
	g := d.mem.NrPages()
	f.slots[0].Take(func(i uint64) { f.todo.Mark(i, i) })
	f.slots[1].Take(func(i uint64) { f.todo.Mark(g+i, g+i) })
	d.mem.TakeTouched(func(i uint64) { f.todo.Mark(i, i) })
	for _, i := range f.kept {
		f.todo.Mark(i, i)
	}
	for _, v := range d.vcpus {
		if a := v.infoAddr; a != 0 {
			if i, ok := d.mem.FrameIndex(a >> mmu.PageShift); ok {
				f.todo.Mark(i, i)
			}
		}
	}
	if pfn, ok := d.exitCounters.PFN(); ok {
		if i, ok := d.mem.FrameIndex(pfn); ok {
			f.todo.Mark(i, i)
		}
	}
	f.todo.Take(func(i uint64) {
		f.mem.Update(i, d.mem.FrameDigest(i))
		f.rehashed++
	})
	d.ft.TakeTouched(func(pfn uint64) { f.frames.Update(pfn, d.ft.RecordDigest(pfn)) })

	if f.verify != nil {
		if err := f.verify(f.mem.Sum(), f.frames.Sum()); err != nil {
			return fingerprint.Digest{}, err
		}
	}

	h := f.h
	h.Reset()
	h.Digest(f.mem.Sum())
	h.Digest(f.frames.Sum())
	d.ft.Fingerprint(h)

	step, ticks, _ := d.det.State()
	h.Uint64(step)
	h.Uint64(ticks)
	h.Uint64(uint64(p.VCPU))
	h.Uint64(uint64(p.Kind))
	h.Uint64(uint64(p.Nr))
	h.Bool(p.Yield)
	h.Uint64(p.Runnable)
	h.String(p.Label)

	h.Uint64(d.vmAssist.Load())
	for _, v := range d.vcpus {
		v.digestState(h)
		// The x87 and SSE registers, which KVM keeps outside kvm_run.
		if err := v.kvm.FPU(&f.fpu); err != nil {
			return fingerprint.Digest{}, fmt.Errorf("vCPU %d: %w", v.id, err)
		}
		fingerprint.Plain(h, &f.fpu)
	}
	d.evtchn.Fingerprint(h)
	d.gnttab.Fingerprint(h)
	d.storeMu.Lock()
	d.store.Fingerprint(h)
	d.storeMu.Unlock()
	return h.Sum(), nil
}

// digestState adds v's state to h: what of it the domain's digest covers.
func (v *vcpu) digestState(h *fingerprint.Hash) {
	r := v.run
	h.Uint64(uint64(v.state.Load()))
	h.Bool(v.entered)
	h.Uint64(v.exits)
	h.Uint64(uint64(r.ExitReason))
	h.Write(r.ExitData())
	fingerprint.Plain(h, &r.Regs)
	// kvm_pvm leaves the last injected vector in the special registers'
	// interrupt bitmap, or not, as the run happened to end (sregsChanged):
	// nothing is pending unless the events say so.
	sregs := r.Sregs
	if r.Events.I.Inject == 0 {
		clear(sregs.InterruptBitmap[:])
	}
	fingerprint.Plain(h, &sregs)
	fingerprint.Plain(h, &r.Events)
	if v.restored != nil && !v.entered {
		fingerprint.Plain(h, &v.restored.regs)
		fingerprint.Plain(h, &v.restored.sregs)
	}

	s := &v.start
	fingerprint.Plain(h, &s.regs)
	for _, x := range [...]uint64{s.cr3, s.userBase, s.fsBase, s.gsBase, s.gsBaseUser, uint64(s.cs), uint64(s.ss),
		s.kernelSS, s.kernelSP, uint64(s.iopl)} {
		h.Uint64(x)
	}
	fingerprint.Plain(h, &s.ldt)
	fingerprint.Plain(h, &s.callbacks)
	h.Bool(s.table != nil)
	if s.table != nil {
		fingerprint.Plain(h, s.table)
	}

	c := &v.hc
	fingerprint.Plain(h, &c.args)
	fingerprint.Plain(h, &c.cont)
	fingerprint.Plain(h, &c.pendingPFNs)
	fingerprint.Plain(h, &c.notOffered) // what a crash report would say
	for _, b := range [...]bool{c.active, c.bySyscall, c.preempted, c.snapshotting} {
		h.Bool(b)
	}
	h.Uint64(c.caller)
	h.Uint64(c.r11)

	t := &v.traps
	fingerprint.Plain(h, &t.table)
	fingerprint.Plain(h, &t.callbacks)
	fingerprint.Plain(h, &t.upcall)
	fingerprint.Plain(h, &t.upcallCtx)
	fingerprint.Plain(h, &t.exc)
	fingerprint.Plain(h, &t.bounce)
	fingerprint.Plain(h, &t.cas)
	h.Uint64(t.kernelSS)
	h.Uint64(t.kernelSP)
	h.Bool(t.active)
	h.Uint64(t.frame)
	// What a crash report will say, which the oracles read.
	h.Bool(t.bounced)
	fingerprint.Plain(h, &t.lastBounce)
	h.String(t.lastBounceWhy)
	h.String(t.lastNotEmulated)

	fingerprint.Plain(h, &v.guestMode)
	fingerprint.Plain(h, &v.ldt)
	fingerprint.Plain(h, &v.gdt)
	fingerprint.Plain(h, &v.priv.privRegs)
	h.Uint64(v.runstate)
	h.Uint64(v.infoAddr)

	m := &v.mm
	h.Uint64(uint64(m.remote))
	h.Bool(m.inMulticall)
	h.Bool(m.locked)
	h.Bool(m.exchange)
	h.Uint64(m.exchangePA)

	v.timers.mu.Lock()
	for _, x := range [...]uint64{v.timers.singleshot, v.timers.period, v.timers.periodic, v.timers.poll} {
		h.Uint64(x)
	}
	v.timers.mu.Unlock()
	gen, pending := v.flush.Pending()
	h.Uint64(gen)
	h.Bool(pending)
	h.Bool(v.exec.Parked())
	if v.exec.Parked() {
		rip, rsp, rflags, rcx := v.exec.Guest()
		for _, x := range [...]uint64{rip, rsp, rflags, rcx} {
			h.Uint64(x)
		}
	}
}
