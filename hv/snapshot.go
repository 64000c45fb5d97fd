package hv

import (
	"errors"
	"fmt"
	"sync"

	"github.com/pvsim/pvsim/builder"
	"github.com/pvsim/pvsim/fingerprint"
	"github.com/pvsim/pvsim/gnttab"
	"github.com/pvsim/pvsim/guestsym"
	"github.com/pvsim/pvsim/hvimage"
	"github.com/pvsim/pvsim/internal/kvm"
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/physmem"
	"github.com/pvsim/pvsim/ptops"
	"github.com/pvsim/pvsim/trace"
	"github.com/pvsim/pvsim/traps"
	"github.com/pvsim/pvsim/xen"
)

// Snapshots. A deterministic domain built with Config.Snapshot stops when
// its guest reaches pvsim_op snapshot_point with one vCPU up, and hands
// back a Snapshot: its memory file, frame table and vCPU state. Restore
// makes a new domain from it, over a copy-on-write (MAP_PRIVATE) mapping
// of that file: a fresh VM, so KVM's shadow pagetables start empty and
// nothing stale survives (host writes into guest pagetables would not be
// seen, DESIGN.md §2), and the snapshot stays as it was for the next one.

// Snapshot is a domain stopped at its snapshot point. Close releases it
// once no domain restored from it runs.
type Snapshot struct {
	cfg   Config
	image *physmem.Image
	boot  *builder.Boot
	syms  *guestsym.Symbolizer
	ft    *mmu.FrameTable

	exitCountersPFN uint64 // the exit-counter page, if exitCounters
	exitCounters    bool
	vmAssist        uint64
	gnttab          *gnttab.Table
	consoleTail     []byte
	step, ticks     uint64
	cur             int
	vcpus           []vcpuSnapshot

	// digests are the bases domains restored with Config.Fingerprint
	// start from (PrepareFingerprints).
	digestsOnce sync.Once
	digests     digestBases
}

// vcpuSnapshot is what a vCPU is, beyond guest memory.
type vcpuSnapshot struct {
	state State
	// kvm is set for the vCPU that took the snapshot: its registers just
	// after the snapshot hypercall.
	kvm                *kvmState
	start              startContext
	table              traps.Table
	callbacks          traps.Callbacks
	gdt                ptops.GDT
	ldt                ldtState
	mode               modeState
	runstate, infoAddr uint64
	priv               privRegs
	kernelSS, kernelSP uint64
	stats              trace.ExitStats
	exits              uint64
	labels             trace.Labels
	trace              []trace.Event
	traceN             uint64
}

type kvmState struct {
	regs  kvm.Regs
	sregs kvm.Sregs
}

// snapshotPoint: pvsim_op snapshot_point. Only a domain asked to snapshot
// does; elsewhere the call does nothing.
func (v *vcpu) snapshotPoint() uint64 {
	if !v.d.cfg.Snapshot {
		return 0
	}
	for _, u := range v.d.vcpus {
		if u != v && u.state.Load() != Down {
			return xen.EBUSY.Ret()
		}
	}
	v.hc.snapshotting = true
	return 0
}

// takeSnapshot ends the domain with a snapshot of it, just after v's
// snapshot hypercall returned. The snapshot completes the doorbell store
// itself, rather than leave it to the next KVM_RUN: RIP past the store
// (where KVM may have put it already), the result in RAX. The store has
// no other effect, and the restored vCPU is a new one, with nothing
// pending.
func (v *vcpu) takeSnapshot() {
	d, r := v.d, v.run
	fail := func(err error) { d.end(Result{}, fmt.Errorf("vCPU %d: snapshot: %w", v.id, err)) }
	regs, err := v.kvm.Regs()
	if err != nil {
		fail(err)
		return
	}
	store, ok := v.doorbellStore(regs.RIP)
	if !ok {
		fail(fmt.Errorf("RIP %#x is not at a doorbell store of the hypercall page", regs.RIP))
		return
	}
	regs.RIP = store + hvimage.DoorbellInsnLen
	regs.RAX = r.Regs.RAX
	sregs, err := v.kvm.Sregs()
	if err != nil {
		fail(err)
		return
	}
	ev, err := v.kvm.Events()
	if err != nil {
		fail(err)
		return
	}
	if kvm.Pending(ev) {
		fail(errors.New("an event is pending"))
		return
	}
	image, err := d.mem.Keep()
	if err != nil {
		fail(err)
		return
	}
	step, ticks, _ := d.det.State()
	s := &Snapshot{
		cfg: d.cfg, image: image, boot: d.boot, syms: d.syms, ft: d.ft.Clone(nil),
		consoleTail: d.console.Tail(),
		step:        step, ticks: ticks, cur: v.id,
	}
	s.exitCountersPFN, s.exitCounters = d.exitCounters.PFN()
	s.vmAssist = d.vmAssist.Load()
	s.gnttab = d.gnttab.Clone(nil)
	for _, u := range d.vcpus {
		vs := vcpuSnapshot{
			state: u.state.Load(), start: u.start, table: u.traps.table, callbacks: u.traps.callbacks, gdt: u.gdt, ldt: u.ldt, mode: u.guestMode, runstate: u.runstate, infoAddr: u.infoAddr, priv: u.priv.privRegs, kernelSS: u.traps.kernelSS, kernelSP: u.traps.kernelSP,
			stats: u.stats, exits: u.exits, labels: u.hc.labels.Clone(),
			trace: u.trace.Events(), traceN: u.trace.Len(),
		}
		if u == v {
			vs.kvm = &kvmState{regs: *regs, sregs: *sregs}
		}
		s.vcpus = append(s.vcpus, vs)
	}
	d.end(Result{VCPU: v.id, Snapshot: s}, nil)
}

// Close releases the snapshot's memory file.
func (s *Snapshot) Close() {
	if s.image != nil {
		s.image.Close()
		s.image = nil
	}
}

// VCPUs is the number of vCPUs of the snapshot domain.
func (s *Snapshot) VCPUs() int { return s.cfg.VCPUs }

// Steps is how many scheduling points the domain had passed when it was
// snapshot.
func (s *Snapshot) Steps() uint64 { return s.step }

// Restore makes a domain that starts where the snapshot stopped, over a
// copy-on-write mapping of its memory. From cfg it takes the Scheduler
// (required), Console, Timeout and the audit settings; the kernel, memory
// and vCPUs are the snapshot's. The snapshot can be restored again and
// again, also concurrently.
func (s *Snapshot) Restore(cfg Config) (*Domain, error) {
	if cfg.Scheduler == nil {
		return nil, errors.New("restoring a snapshot needs a Scheduler")
	}
	if s.image == nil {
		return nil, errors.New("the snapshot is closed")
	}
	c := s.cfg
	c.Scheduler, c.Snapshot = cfg.Scheduler, false
	c.Console, c.Timeout, c.Audit, c.AuditInterval = cfg.Console, cfg.Timeout, cfg.Audit, cfg.AuditInterval
	c.Fingerprint = cfg.Fingerprint
	d := newDomain(c)
	d.syms, d.boot = s.syms, s.boot
	ok := false
	defer func() {
		if !ok {
			d.Close()
		}
	}()
	var err error
	if d.mem, err = s.image.MapPrivate(); err != nil {
		return nil, err
	}
	if c.Fingerprint {
		if err := s.PrepareFingerprints(); err != nil {
			return nil, err
		}
		d.mem.Track()
	}
	if err := d.createVM(); err != nil {
		return nil, err
	}
	d.ft = s.ft.Clone(d.tables)
	d.vmAssist.Store(s.vmAssist)
	d.gnttab = s.gnttab.Clone(d.gnttab.Shared())
	if s.exitCounters {
		d.exitCounters.Set(d.mem.Frame(s.exitCountersPFN), s.exitCountersPFN)
	}
	d.console.Keep(s.consoleTail)
	d.det.Start(s.cur, s.step, s.ticks)
	for i, vs := range s.vcpus {
		v := d.vcpus[i]
		v.state.Store(vs.state)
		v.start = vs.start
		v.traps.table, v.traps.kernelSS, v.traps.kernelSP = vs.table, vs.kernelSS, vs.kernelSP
		v.traps.callbacks, v.gdt, v.priv.privRegs = vs.callbacks, vs.gdt, vs.priv
		v.ldt, v.guestMode = vs.ldt, vs.mode
		v.runstate, v.infoAddr = vs.runstate, vs.infoAddr
		if a := vs.infoAddr; a != 0 {
			off := a & (mmu.PageSize - 1)
			d.evtchn.PlaceVCPUInfo(i, d.mem.Frame(a >> mmu.PageShift)[off:off+xen.VCPUInfoSize])
		}
		v.stats, v.exits = vs.stats, vs.exits
		v.hc.labels = vs.labels.Clone()
		v.trace.Restore(vs.trace, vs.traceN)
		v.restored = vs.kvm
	}
	if c.Fingerprint {
		d.ft.Track()
		if d.digests, err = d.newStateDigests(&s.digests); err != nil {
			return nil, err
		}
	}
	ok = true
	return d, nil
}

// PrepareFingerprints makes, once, the digests of the snapshot's memory
// and frame table that domains restored with Config.Fingerprint start
// from: it reads the whole memory, so a search calls it before it times
// its first reset.
func (s *Snapshot) PrepareFingerprints() error {
	if s.image == nil {
		return errors.New("the snapshot is closed")
	}
	var err error
	s.digestsOnce.Do(func() {
		var m *physmem.Memory
		if m, err = s.image.MapPrivate(); err != nil {
			return
		}
		defer m.Free()
		s.digests.mem = fingerprint.NewBase(m.Frames(), m.FrameDigest)
		s.digests.frames = fingerprint.NewBase(s.ft.NrFrames(), s.ft.RecordDigest)
	})
	if err == nil && s.digests.mem == nil {
		err = errors.New("the snapshot's digests could not be made")
	}
	return err
}

// restoreState loads the registers a snapshot kept for v.
func (v *vcpu) restoreState() error {
	if err := v.kvm.SetSregs(&v.restored.sregs); err != nil {
		return err
	}
	if err := v.setSyscallMSRs(); err != nil {
		return err
	}
	return v.kvm.SetRegs(&v.restored.regs)
}

// doorbellStore returns the address of the hypercall stub's doorbell store
// that a hypercall exit left the guest's RIP at or just after: KVM may or
// may not have completed the store when it reports the exit.
func (v *vcpu) doorbellStore(rip uint64) (uint64, bool) {
	var b [hvimage.DoorbellInsnLen]byte
	for _, at := range [...]uint64{rip, rip - hvimage.DoorbellInsnLen} {
		if v.readGuest(b[:], at) == nil && hvimage.IsDoorbellStore(b[:]) {
			return at, true
		}
	}
	return 0, false
}
