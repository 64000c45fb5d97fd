// Package hv is pvsim's VMM: one PV domain on KVM. New has the domain built
// (physmem, hvimage, builder), puts its pagetables under the type system
// and makes the vCPUs; Run runs each vCPU on its own locked OS thread and
// handles its exits: hypercalls arrive as stores to the doorbell (MMIO)
// and are dispatched by number (hypercall.go) to files named after Xen's
// public headers (hypercall_*.go); exceptions arrive as writes to the trap
// port from the hypervisor's CPL0 entry stubs (trap.go). Pagetable writes
// are validated by ptops against mmu's frame table and made by the
// executor (executor.go). Guest-caused failures end the domain with a
// GuestError that names the vCPU and the symbolized RIP.
package hv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pvsim/pvsim/biglock"
	"github.com/pvsim/pvsim/builder"
	"github.com/pvsim/pvsim/bzimage"
	"github.com/pvsim/pvsim/console"
	"github.com/pvsim/pvsim/evtchn"
	"github.com/pvsim/pvsim/gnttab"
	"github.com/pvsim/pvsim/guestsym"
	"github.com/pvsim/pvsim/hvimage"
	"github.com/pvsim/pvsim/internal/kvm"
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/physmem"
	"github.com/pvsim/pvsim/pvclock"
	"github.com/pvsim/pvsim/sched"
	"github.com/pvsim/pvsim/tlb"
	"github.com/pvsim/pvsim/trace"
	"github.com/pvsim/pvsim/xen"
	"github.com/pvsim/pvsim/xenstore"
)

// Config describes one domain.
type Config struct {
	// Name names the kernel in messages.
	Name string
	// Kernel is the guest kernel: an ELF64 image with Xen notes, or a
	// Linux bzImage whose compressed payload is one (Check unpacks it, as
	// Xen's domain builder does).
	Kernel []byte
	// Initrd is the initial RAM disk, loaded after the kernel as Xen's
	// builder loads it (start_info's mod_start and mod_len); nil for none.
	Initrd []byte
	// VCPUs is the number of vCPUs, 1..MaxVCPUs.
	VCPUs int
	// Memory is the guest's memory in bytes: a multiple of 2 MiB, at least
	// MinMemory.
	Memory uint64
	// CmdLine is the guest command line (start_info.cmd_line).
	CmdLine string
	// Console receives the guest's console output; nil discards it. Show
	// says which of the guest's consoles (console_io, the PV console
	// ring) it gets: by default, console_io until the guest first writes
	// its ring, the ring from then on.
	Console io.Writer
	Show    console.Show
	// ConsoleIn, if not nil, is the input of the guest's PV console
	// (its ring's in[]), as xenconsoled reads it from a tty; a
	// deterministic domain takes none.
	ConsoleIn io.Reader
	// Timeout ends the domain with a Timeout error when it has not shut
	// down by then; zero means no limit.
	Timeout time.Duration
	// Audit re-checks every invariant of the pagetable type system after
	// MMU operations and ends the domain on the first violation: after
	// each one, or, with AuditInterval set, after the first one at least
	// that long after the last check (a check costs about a millisecond
	// on a 64 MiB domain).
	Audit         bool
	AuditInterval time.Duration
	// TraceEvents is how many exits each vCPU's trace ring keeps; zero
	// means trace.DefaultEvents, negative turns tracing off.
	TraceEvents int
	// Scheduler, when set, makes the domain deterministic (sched.go): one
	// vCPU runs at a time, and Scheduler decides at each scheduling point
	// which one.
	Scheduler sched.Scheduler
	// Compression is what Check found the bzImage's payload compressed
	// with; zero for a kernel given as an ELF.
	Compression bzimage.Compression
	// Snapshot stops a deterministic domain at the guest's snapshot point
	// (pvsim_op snapshot_point) and hands back a Snapshot in the Result.
	Snapshot bool
	// Fingerprint makes a domain restored from a Snapshot name its state
	// at every scheduling point (sched.Point.State; fingerprint.go), for a
	// search that prunes states it has seen. It costs KVM's dirty log and
	// a digest of the frames written since the last point. New refuses
	// it; Snapshot.Restore takes it.
	Fingerprint bool
}

// DefaultMemory is the guest memory when Config.Memory is zero.
const (
	DefaultMemory = 64 << 20
	MinMemory     = 4 << 20
	MaxMemory     = 1 << 30
)

// MaxVCPUs is how many vCPUs a domain may have.
const MaxVCPUs = hvimage.MaxVCPUs

// ErrNoKVM is returned (wrapped) when /dev/kvm cannot be opened.
var ErrNoKVM = kvm.ErrNoKVM

// Result is how a domain that shut down ended.
type Result struct {
	// Reason is what the guest gave to SCHEDOP_shutdown.
	Reason xen.ShutdownReason
	// VCPU is the vCPU that asked for the shutdown.
	VCPU int
	// Elapsed is the wall time from the first KVM_RUN to the shutdown.
	Elapsed time.Duration
	// Exits counts exits per vCPU.
	Exits []trace.ExitStats
	// Oops is the guest's report when it crashed (SHUTDOWN_crash).
	Oops *guestsym.Oops
	// Snapshot is the domain stopped at its snapshot point, when
	// Config.Snapshot asked for one; Reason is then meaningless.
	Snapshot *Snapshot
	// Steps counts the scheduling points of a deterministic domain.
	Steps uint64
	// NotOffered is, for a crash, the last hypercalls the crashing vCPU
	// made that pvsim does not offer, if it made any.
	NotOffered NotOfferedList
}

// Domain is one built guest, ready to run once.
type Domain struct {
	cfg  Config
	vm   *kvm.VM
	mem  *physmem.Memory
	hv   *hvimage.Region
	boot *builder.Boot
	syms *guestsym.Symbolizer
	// sharedInfo is the host view of the shared info page.
	sharedInfo []byte
	// clockMul and clockShift are the vcpu_time_info scale every vCPU
	// publishes (zero in a deterministic domain): system time from TSC.
	clockMul   uint32
	clockShift int8
	vcpus      []*vcpu
	flushers   []*tlb.Flusher // the vCPUs', by id
	rings      []*trace.Ring

	console *console.Console
	// consoleRing is the PV console ring, drained under consoleMu.
	consoleRing *console.Ring
	// store is the domain's xenstore, served under storeMu when the guest
	// notifies its event channel.
	storeMu   sync.Mutex
	store     *xenstore.Store
	consoleMu sync.Mutex
	// consoleRoom tells the console input (console.go) that the guest
	// consumed some.
	consoleRoom chan struct{}
	// m2p is the read-only M2P's extent (XENMEM_machphys_mapping).
	m2p struct{ start, end, maxMFN uint64 }
	// evtchn are the domain's event channels.
	evtchn *evtchn.Table
	// gnttab is the domain's grant table; the MMU lock guards it.
	gnttab *gnttab.Table

	// mmu guards the frame table; mmuOwner is the vCPU holding it.
	mmu      *biglock.Lock
	mmuOwner *vcpu
	ft       *mmu.FrameTable
	tables   *mmuMemory // memory as ft reads it

	// lastAudit is when the audit last ran; the MMU lock guards it.
	lastAudit time.Time

	exitCounters trace.CounterPage

	// vmAssist are the VM assists the guest turned on (vm_assist):
	// assisted says whether one is.
	vmAssist atomic.Uint64

	// det is the CPU of a deterministic domain (Config.Scheduler).
	det *sched.CPU
	// digests keeps the state fingerprint (Config.Fingerprint).
	digests *stateDigests

	stopping atomic.Bool
	stopCh   chan struct{}
	endMu    sync.Mutex
	ended    bool
	result   Result
	err      error
	started  time.Time
}

// New builds a domain: a KVM VM with its memory, the hypervisor region, the
// guest kernel loaded with its initial pagetables and start_info, and the
// vCPUs, all stopped. Close releases it.
func New(cfg Config) (*Domain, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	d := newDomain(cfg)
	d.syms = guestsym.New(cfg.Kernel, hvimage.Symbol)
	ok := false
	defer func() {
		if !ok {
			d.Close()
		}
	}()

	var err error
	// The domain's RAM, then its shared info page and grant table's
	// frames, which Xen keeps outside it (builder.ExtraFrames).
	if d.mem, err = physmem.New(cfg.Memory + builder.ExtraFrames*mmu.PageSize); err != nil {
		return nil, err
	}
	if d.hv, err = hvimage.Build(d.mem, cfg.VCPUs); err != nil {
		return nil, err
	}
	if d.boot, err = builder.Build(d.mem, d.hv, cfg.Name, cfg.Kernel, cfg.Initrd, cfg.CmdLine); err != nil {
		return nil, err
	}
	d.m2p.start, d.m2p.end, d.m2p.maxMFN = d.hv.SetM2P(d.boot.NrPages)
	if err := d.createVM(); err != nil {
		return nil, err
	}
	d.setPVClock()
	if err := d.validateBoot(); err != nil {
		return nil, err
	}
	v0 := d.vcpus[0]
	v0.start.regs.RIP = d.boot.Entry
	v0.start.regs.RSP = d.boot.StackTop
	v0.start.regs.RSI = d.boot.StartInfoVA
	v0.start.cr3 = d.boot.L4 << mmu.PageShift
	v0.state.Store(Up)
	if d.det != nil {
		d.det.Start(0, 0, 0)
	}
	ok = true
	return d, nil
}

// Check fills in the defaults of cfg and says what New would refuse in it.
func (cfg *Config) Check() error {
	if cfg.VCPUs == 0 {
		cfg.VCPUs = 1
	}
	if cfg.VCPUs < 1 || cfg.VCPUs > MaxVCPUs {
		return fmt.Errorf("%d vCPUs: pvsim supports 1 to %d", cfg.VCPUs, MaxVCPUs)
	}
	if cfg.Memory == 0 {
		cfg.Memory = DefaultMemory
	}
	if cfg.Memory < MinMemory || cfg.Memory > MaxMemory || cfg.Memory%(2<<20) != 0 {
		return fmt.Errorf("memory of %d bytes: want a multiple of 2 MiB from %d MiB to %d MiB", cfg.Memory, MinMemory>>20, MaxMemory>>20)
	}
	if cfg.Snapshot && cfg.Scheduler == nil {
		return errors.New("a snapshot needs a deterministic domain (a Scheduler)")
	}
	if cfg.Fingerprint {
		return errors.New("fingerprints are for a domain restored from a snapshot (Snapshot.Restore)")
	}
	if bzimage.Is(cfg.Kernel) {
		elf, c, err := bzimage.Extract(cfg.Kernel, maxKernelImage)
		if err != nil {
			return &builder.KernelError{Name: cfg.Name, Reason: err.Error()}
		}
		cfg.Kernel, cfg.Compression = elf, c
	}
	return nil
}

// maxKernelImage bounds a bzImage's decompressed payload: a distribution
// kernel's vmlinux is some tens of MiB.
const maxKernelImage = 256 << 20

// newDomain starts a Domain for cfg, with the defaults filled in.
func newDomain(cfg Config) *Domain {
	if cfg.Name == "" {
		cfg.Name = "kernel"
	}
	d := &Domain{cfg: cfg, stopCh: make(chan struct{}), consoleRoom: make(chan struct{}, 1), console: console.New(cfg.Console, cfg.Show)}
	d.tables = &mmuMemory{d}
	if cfg.Scheduler != nil {
		d.det = sched.NewCPU(cfg.Scheduler, cfg.VCPUs)
	}
	return d
}

// createVM makes the KVM VM over the domain's memory, and its vCPUs.
func (d *Domain) createVM() error {
	sys, err := kvm.Open()
	if err != nil {
		return err
	}
	if d.vm, err = sys.CreateVM(); err != nil {
		return err
	}
	if err := d.vm.SetMemory(0, 0, d.mem.Guest, d.cfg.Fingerprint); err != nil {
		return err
	}
	if err := d.vm.SetMemory(1, d.mem.HVBase, d.mem.HV, d.cfg.Fingerprint); err != nil {
		return err
	}
	queues := make([]biglock.Queue, d.cfg.VCPUs)
	d.mmu = biglock.New(queues, &d.stopping)
	for i := range queues {
		v, err := newVCPU(d, i)
		if err != nil {
			return err
		}
		d.vcpus, queues[i] = append(d.vcpus, v), v.exec
		d.flushers, d.rings = append(d.flushers, v.flush), append(d.rings, &v.trace)
	}
	d.sharedInfo = d.mem.Frame(d.boot.SharedInfo)
	if err := d.initGrantTable(); err != nil {
		return err
	}
	return d.initEventChannels()
}

// initEventChannels makes the domain's event channels, with the xenstore
// and console ports start_info names allocated as a toolstack allocates
// them (unbound, their remote end the backend's domain, 0), every vCPU's
// upcalls masked, and the console ring served.
func (d *Domain) initEventChannels() error {
	si, err := evtchn.NewSharedInfo(d.sharedInfo)
	if err != nil {
		return err
	}
	d.evtchn = evtchn.NewTable(len(d.vcpus), si)
	// Every vCPU starts with upcalls masked, as Xen's domain builders
	// leave them: the kernel unmasks when it is ready for events.
	for i := range xen.LegacyMaxVCPUs {
		si.SetUpcallMask(i, true)
	}
	for _, want := range []evtchn.Port{builder.StorePort, builder.ConsolePort} {
		if p, err := d.evtchn.AllocUnbound(xen.DomIDSelf, xen.BackendDomID); err != nil || p != want {
			return fmt.Errorf("event channel %d for start_info: got %d, %v", want, p, err)
		}
	}
	d.consoleRing = console.NewRing(d.mem.Frame(d.boot.Console))
	d.store = xenstore.New(d.mem.Frame(d.boot.Store), xenstore.Config{DomID: xen.PVSimDomID, Name: d.cfg.Name,
		VCPUs: len(d.vcpus), MemoryK: d.boot.NrPages * mmu.PageSize / 1024})
	return nil
}

// initGrantTable makes the domain's grant table over the frames the
// builder set aside for it.
func (d *Domain) initGrantTable() error {
	shared := make([][]byte, len(d.boot.GrantFrames))
	for i, pfn := range d.boot.GrantFrames {
		shared[i] = d.mem.Frame(pfn)
	}
	t, err := gnttab.New(xen.PVSimDomID, d.boot.GrantFrames, shared, d.boot.NrPages)
	d.gnttab = t
	return err
}

// setPVClock publishes every vCPU's vcpu_time_info: the TSC's scale, or in
// a deterministic domain zero, its time being the logical clock alone.
func (d *Domain) setPVClock() {
	mul, shift := pvclock.HostScale(d.det == nil)
	d.clockMul, d.clockShift = mul, shift
	for _, v := range d.vcpus {
		pvclock.Publish(v.vcpuInfo(), mul, shift)
	}
}

// validateBoot puts the builder's pagetables under the type system
// (builder.Boot.Validate), with the hypervisor's reserved L4 slots.
func (d *Domain) validateBoot() error {
	d.ft = mmu.NewFrameTable(d.tables, d.mem.NrPages())
	for i := range d.ft.ReservedL4 {
		d.ft.ReservedL4[i] = d.hv.L4Entry(xen.FirstReservedL4Slot + i)
	}
	return d.boot.Validate(d.ft, d.mem)
}

// Close releases the VM, its vCPUs and its memory.
func (d *Domain) Close() {
	// No timer may fire into a vCPU, or the memory, being released.
	for _, v := range d.vcpus {
		v.stopTimers()
	}
	for _, v := range d.vcpus {
		v.close()
	}
	d.vcpus = nil
	if d.vm != nil {
		d.vm.Close()
		d.vm = nil
	}
	if d.mem != nil {
		d.mem.Free()
		d.mem = nil
	}
}

// Run runs the domain until it shuts down, fails, times out, or ctx ends. A
// guest that shuts down gives a Result; a guest at fault gives a
// *GuestError; anything else is pvsim's own error.
func (d *Domain) Run(ctx context.Context) (Result, error) {
	if d.started != (time.Time{}) {
		return Result{}, errors.New("a domain runs only once")
	}
	d.started = time.Now()
	var wg sync.WaitGroup
	for _, v := range d.vcpus {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v.loop()
		}()
	}
	if d.cfg.ConsoleIn != nil && d.det == nil {
		go d.consoleInput()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	var timeout <-chan time.Time
	if d.cfg.Timeout > 0 {
		t := time.NewTimer(d.cfg.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	timedOut := false
	select {
	case <-done:
	case <-ctx.Done():
		d.end(Result{}, ctx.Err())
		<-done
	case <-timeout:
		timedOut = d.end(Result{}, &GuestError{Kind: Timeout, After: d.cfg.Timeout})
		<-done
	}
	if timedOut {
		d.err = d.timeoutError()
	}
	d.endMu.Lock()
	defer d.endMu.Unlock()
	if !d.ended {
		return Result{}, errors.New("every vCPU stopped without a shutdown")
	}
	if d.det != nil {
		d.result.Steps, _, _ = d.det.State()
	}
	d.result.Exits = make([]trace.ExitStats, len(d.vcpus))
	for i, v := range d.vcpus {
		d.result.Exits[i] = v.stats
	}
	// The vCPU threads are done: their hypercall state can be read.
	if d.err == nil && d.result.Reason == xen.ShutdownCrash && d.result.Snapshot == nil {
		d.result.NotOffered = describe(&d.vcpus[d.result.VCPU].hc.notOffered, d.syms)
	}
	var ge *GuestError
	if errors.As(d.err, &ge) && ge.VCPU >= 0 && ge.VCPU < len(d.vcpus) {
		ge.NotOffered = describe(&d.vcpus[ge.VCPU].hc.notOffered, d.syms)
	}
	return d.result, d.err
}

// ReadSymbol copies the guest's data object called name into b, through
// the boot address space (which maps the kernel image). b must not be
// longer than the object. Call it after Run has returned, before Close.
func (d *Domain) ReadSymbol(name string, b []byte) error {
	return d.syms.Read(name, b, func(b []byte, va uint64) error {
		return d.mem.CopyFromGuest(d.boot.L4<<mmu.PageShift, b, va)
	})
}

// end records how the domain ended, first caller wins, and stops every
// vCPU. It reports whether this call was the first.
func (d *Domain) end(r Result, err error) bool {
	d.endMu.Lock()
	first := !d.ended
	if first {
		d.ended = true
		r.Elapsed = time.Since(d.started)
		d.result, d.err = r, err
	}
	d.endMu.Unlock()
	if first {
		d.stopping.Store(true)
		close(d.stopCh)
		for _, v := range d.vcpus {
			v.kick()
		}
	}
	return first
}

// timeoutError says where each running vCPU was when time ran out.
func (d *Domain) timeoutError() error {
	e := &GuestError{Kind: Timeout, After: d.cfg.Timeout, VCPU: -1}
	var where []string
	for _, v := range d.vcpus {
		if v.state.Load() != Up || !v.entered {
			continue
		}
		if e.VCPU < 0 {
			e.VCPU, e.RIP, e.Where = v.id, v.lastRIP, d.syms.Format(v.lastRIP)
		}
		where = append(where, fmt.Sprintf("vCPU %d at %s", v.id, d.syms.Format(v.lastRIP)))
	}
	e.Detail = strings.Join(where, ", ")
	if e.Detail == "" {
		e.Detail = "no vCPU was running"
	}
	return e
}

// Trace returns the exits the vCPUs' trace rings still hold, ordered by
// start time. Call it after Run has returned.
func (d *Domain) Trace() []trace.Event { return trace.Merge(d.rings...) }

// Symbols returns the symbolizer of the domain's kernel.
func (d *Domain) Symbols() *guestsym.Symbolizer { return d.syms }

// assisted reports whether the guest turned VM assist typ on (Xen's
// VM_ASSIST).
func (d *Domain) assisted(typ uint) bool { return d.vmAssist.Load()&(1<<typ) != 0 }
