// Package race runs the race kernel and measures it. The kernel forks and
// exits processes on vCPU 0, pinning and unpinning their pagetables in two
// phases, while page reclaim on other vCPUs clears Accessed and Dirty bits
// in the same pagetables and a writer dirties the pages (DESIGN.md §1).
// One fix strategy is chosen per run. A run boots the domain again after
// every oops, so that one run measures a rate, and adds up what the
// kernel's oracles counted.
package race

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pvsim/pvsim/guest"
	"github.com/pvsim/pvsim/guestsym"
	"github.com/pvsim/pvsim/hv"
	"github.com/pvsim/pvsim/trace"
	"github.com/pvsim/pvsim/xen"
)

// Strategies are the fix strategies of DESIGN.md §1, in the order the
// race kernel numbers them (race_stats.strategy).
var Strategies = []string{
	"none",
	"generic-set-pte",
	"preserve-ad",
	"pvop-hypercall",
	"pin-before-visible",
	"lock-pte-pages",
	"hv-pin-aware",
}

// KernelName is the embedded race kernel.
const KernelName = "race"

// Defaults for Config's zero values.
const (
	DefaultVCPUs = 2
	DefaultPages = 16
	// stallTime ends a boot in which vCPU 0 completed no fork and exit.
	stallTime = 15 * time.Second
)

// Config is one measurement.
type Config struct {
	Strategy string
	// VCPUs: vCPU 0 forks and exits; the others reclaim and write. At
	// least 2.
	VCPUs int
	// The run ends after Duration, or after Trials forks (each a fork
	// and exit, or a fork that failed for memory) when Trials is set, or
	// once Oopses oopses were seen when that is set.
	Duration time.Duration
	Trials   uint64
	Oopses   int
	// Window is a delay between the two phases of every pin and unpin.
	Window time.Duration
	// Pages is the number of pages each child maps.
	Pages int
	// Pressure makes reclaim unmap and free the pages it finds old.
	Pressure bool
	// LowMem makes memory short as each fork starts, so that the child's
	// last tables come only from reclaiming the pages fork is copying
	// (the kernel's lowmem=1).
	LowMem bool
	// Audit re-checks the hypervisor's invariants after MMU operations,
	// at most once per AuditInterval (0: after every one); a violation is
	// counted and the domain booted again.
	Audit         bool
	AuditInterval time.Duration
	// Marks makes the kernel record trace marks (one exit each) for the
	// interleaving of an oops.
	Marks bool
	// Console receives the guest's console output; nil discards it.
	Console io.Writer
	// Progress, if set, is called about once a second.
	Progress func(Progress)
	// KeepOops keeps the exit trace of the domain that oopsed first, in
	// Result.FirstOops.
	KeepOops bool
}

// Progress is a running total.
type Progress struct {
	Elapsed    time.Duration
	Trials     uint64
	PinWindows uint64
	Oopses     int
	Boots      int
}

// Result is a measurement, in the fields `pvsim race --json` prints.
type Result struct {
	Strategy   string  `json:"strategy"`
	VCPUs      int     `json:"vcpus"`
	Pages      int     `json:"pages"`
	WindowUs   float64 `json:"window_us"`
	Pressure   bool    `json:"pressure"`
	LowMem     bool    `json:"lowmem"`
	Seconds    float64 `json:"seconds"`
	Boots      int     `json:"boots"`
	Trials     uint64  `json:"trials"`
	PinWindows uint64  `json:"pin_windows"`
	Oopses     int     `json:"oopses"`
	// Crashes counts the crashes that were no such oops: a BUG, a panic,
	// a hypercall the hypervisor refused.
	Crashes          int    `json:"crashes"`
	LostDirty        uint64 `json:"lost_dirty"`
	IneffectiveYoung uint64 `json:"ineffective_young"`
	UseAfterFree     uint64 `json:"use_after_free"`
	// ReclaimHidden counts the pages reclaim unmapped from every pte the
	// reverse map reaches and could not free, because a pte out of the
	// reverse map (a child's, during fork or exit) still mapped them;
	// ForkNoMem the forks that failed for memory.
	ReclaimHidden   uint64   `json:"reclaim_hidden"`
	ForkNoMem       uint64   `json:"fork_nomem"`
	AuditViolations int      `json:"audit_violations"`
	Audits          uint64   `json:"audits"`
	FirstOopsS      *float64 `json:"first_oops_s"`
	YoungClearUs    float64  `json:"young_clear_us"`
	ForkExitUs      float64  `json:"fork_exit_us"`
	ExitsPerYoung   float64  `json:"exits_per_young_clear"`
	YoungClears     uint64   `json:"young_clears"`
	// PTWritePinnedUs is `pvsim bench ptwr`'s pinned figure measured in
	// the same process after the race (Config aside: the caller sets it),
	// and YoungClearRatio is YoungClearUs over it: what the race's
	// contention adds to an isolated emulated write.
	PTWritePinnedUs float64 `json:"ptwr_pinned_us,omitempty"`
	// What the vCPUs other than vCPU 0 (reclaim and the writer) waited for
	// when they took the MMU lock, in µs per acquisition: the lock itself,
	// then vCPU 0's queued stores (hv's MMU lock, docs/MODEL.md).
	MMULocks          uint64  `json:"mmu_locks"`
	MMULockWaitUs     float64 `json:"mmu_lock_wait_us"`
	QueuedStoreWaitUs float64 `json:"queued_store_wait_us"`
	YoungClearRatio   float64 `json:"young_clear_ratio,omitempty"`
	// YoungCalls counts every call, young pte or not.
	YoungCalls uint64 `json:"young_calls"`
	// What shows a fix's mechanism at work: reclaim finding a pte lock
	// that a pin or unpin held (lock-pte-pages), and writes the hypervisor
	// emulated to frames announced as becoming pagetables (hv-pin-aware).
	PinLockWaits  uint64 `json:"pin_lock_waits"`
	PendingWrites uint64 `json:"pending_writes"`
	Writebacks    uint64 `json:"writebacks"`
	Writes        uint64 `json:"writes"`
	Freed         uint64 `json:"freed"`
	// DirectReclaimed counts the pages allocations reclaimed themselves,
	// short of free frames.
	DirectReclaimed uint64 `json:"direct_reclaimed"`
	// Oops describes the first oops: the faulting function and the fault.
	Oops *OopsReport `json:"oops,omitempty"`
	// OopsClasses sorts the oopses by where they faulted and why the
	// hypervisor did not emulate the write, and CrashReasons the other
	// crashes by the first line of their report; each holds at most
	// maxClasses classes, and counts the rest under "other".
	OopsClasses  []CrashClass `json:"oops_classes,omitempty"`
	CrashReasons []CrashClass `json:"crash_reasons,omitempty"`
	// Audit is the first audit failure.
	Audit string `json:"audit,omitempty"`

	// FirstOops is the first oops' exit trace, with Config.KeepOops.
	FirstOops *Recording `json:"-"`
}

// Recording is the exit trace of a domain that oopsed: every vCPU's last
// exits, the guest's trace marks among them.
type Recording struct {
	Events  []trace.Event
	Symbols *guestsym.Symbolizer
	// VCPU is the vCPU that oopsed, and Oops what the hypervisor saw.
	VCPU int
	Oops *guestsym.Oops
}

// OopsReport is one oops, as the hypervisor saw it.
type OopsReport struct {
	// Function is the symbol the faulting RIP is in, Where symbol+offset,
	// Source file:line.
	Function string `json:"function"`
	Where    string `json:"where"`
	Source   string `json:"source,omitempty"`
	VCPU     int    `json:"vcpu"`
	// Fault is the exception, and NotEmulated why ptwr left it alone.
	Fault       string `json:"fault"`
	NotEmulated string `json:"not_emulated,omitempty"`
}

// CrashClass is a kind of crash and how many there were.
type CrashClass struct {
	// Where is the faulting function for an oops; Why is why the write
	// was not emulated (frame numbers left out), or a crash's report line.
	Where string `json:"where,omitempty"`
	Why   string `json:"why"`
	Count int    `json:"count"`
}

// maxClasses bounds OopsClasses and CrashReasons.
const maxClasses = 16

// countClass counts one crash of class c in cs.
func countClass(cs []CrashClass, c CrashClass) []CrashClass {
	for i := range cs {
		if cs[i].Where == c.Where && cs[i].Why == c.Why {
			cs[i].Count++
			return cs
		}
	}
	if len(cs) >= maxClasses-1 {
		for i := range cs {
			if cs[i].Where == "" && cs[i].Why == "other" {
				cs[i].Count++
				return cs
			}
		}
		c = CrashClass{Why: "other"}
	}
	c.Count = 1
	return append(cs, c)
}

// frameNumber is a frame number in a not-emulated reason.
var frameNumber = regexp.MustCompile(`frame 0x[0-9a-f]+`)

// isRaceOops reports whether a crash is the race's oops: the vCPU crashed
// in the handler of a write fault on a present page that the hypervisor
// bounced because the frame was read-only and not an L1 pagetable in use,
// as a pagetable between the phases of a pin or an unpin is.
func isRaceOops(o *guestsym.Oops) bool {
	return o != nil && o.Fault != nil && o.Fault.IsWriteFault() &&
		strings.Contains(o.NotEmulated, "is not an L1 pagetable in use")
}

// stats is the kernel's struct race_stats, read from guest memory by
// member name (statNames), one uint64 per member.
type stats [nrStats]uint64

const (
	statMagic = iota
	statStrategy
	statForks
	statPinWindows
	statForkExitNs
	statYoungClears
	statYoungClearNs
	statYoungClearExits
	statLostDirty
	statIneffectiveYoung
	statUseAfterFree
	statWritebacks
	statWrites
	statFreed
	statYoungCalls
	statPinLockWaits
	statReclaimHidden
	statForkNoMem
	statDirectReclaimed
	nrStats
)

// statNames are the members of struct race_stats (guest/include/race.h)
// that stats holds.
var statNames = [nrStats]string{
	statMagic: "magic", statStrategy: "strategy", statForks: "forks", statPinWindows: "pin_windows",
	statForkExitNs: "fork_exit_ns", statYoungClears: "young_clears", statYoungClearNs: "young_clear_ns",
	statYoungClearExits: "young_clear_exits", statLostDirty: "lost_dirty",
	statIneffectiveYoung: "ineffective_young", statUseAfterFree: "use_after_free",
	statWritebacks: "writebacks", statWrites: "writes", statFreed: "freed", statYoungCalls: "young_calls",
	statPinLockWaits: "pin_lock_waits", statReclaimHidden: "reclaim_hidden", statForkNoMem: "fork_nomem",
	statDirectReclaimed: "direct_reclaimed",
}

// forks counts the forks the kernel made: those completed with their
// exit, and those that failed for memory.
func (s *stats) forks() uint64 { return s[statForks] + s[statForkNoMem] }

// statsMagic is race_stats.magic once the kernel runs.
const statsMagic = 0x7276736d69737670

// statsLayout is where struct race_stats keeps each member of statNames:
// its size and their offsets.
type statsLayout struct {
	size int
	off  [nrStats]int
}

// layoutOf finds the members of statNames in l, each a u64.
func layoutOf(l *guestsym.StructLayout) (*statsLayout, error) {
	sl := &statsLayout{size: int(l.Size)}
	for i, name := range statNames {
		m, ok := l.Members[name]
		switch {
		case !ok:
			return nil, fmt.Errorf("struct race_stats has no member %s", name)
		case m.Size != 8 || m.Offset < 0 || m.Offset+8 > l.Size:
			return nil, fmt.Errorf("race_stats.%s: %d bytes at offset %d, want a u64 inside the struct", name, m.Size, m.Offset)
		}
		sl.off[i] = int(m.Offset)
	}
	return sl, nil
}

// kernelStatsLayout is the layout of the embedded race kernel's
// race_stats, read from its DWARF once.
var kernelStatsLayout = sync.OnceValues(func() (*statsLayout, error) {
	k, ok := guest.Lookup(KernelName)
	if !ok {
		return nil, fmt.Errorf("no embedded kernel %q", KernelName)
	}
	l, err := guestsym.New(k.ELF, nil).Struct("race_stats")
	if err != nil {
		return nil, fmt.Errorf("kernel %s: %w", KernelName, err)
	}
	return layoutOf(l)
})

// parse reads the counters out of b, a copy of race_stats.
func (l *statsLayout) parse(b []byte) (s stats) {
	for i, off := range l.off {
		s[i] = binary.LittleEndian.Uint64(b[off:])
	}
	return s
}

// add adds up the counters of o (all but the magic and the strategy).
func (s *stats) add(o stats) {
	for i := statForks; i < nrStats; i++ {
		s[i] += o[i]
	}
}

// CmdLine is the race kernel's command line for c.
func (c *Config) CmdLine(iters uint64) string {
	pressure := 0
	if c.Pressure {
		pressure = 1
	}
	marks := 0
	if c.Marks {
		marks = 1
	}
	lowmem := 0
	if c.LowMem {
		lowmem = 1
	}
	return fmt.Sprintf("strategy=%s pages=%d window=%d pressure=%d lowmem=%d marks=%d iters=%d",
		c.Strategy, c.Pages, c.Window.Microseconds(), pressure, lowmem, marks, iters)
}

// Check fills in defaults and checks the configuration.
func (c *Config) Check() error {
	if !slices.Contains(Strategies, c.Strategy) {
		return fmt.Errorf("unknown strategy %q: one of %s", c.Strategy, strings.Join(Strategies, ", "))
	}
	if c.VCPUs == 0 {
		c.VCPUs = DefaultVCPUs
	}
	if c.VCPUs < 2 || c.VCPUs > hv.MaxVCPUs {
		return fmt.Errorf("%d vCPUs: the race needs 2 to %d", c.VCPUs, hv.MaxVCPUs)
	}
	if c.Pages == 0 {
		c.Pages = DefaultPages
	}
	if c.Pages < 1 || c.Pages > 64 {
		return fmt.Errorf("%d pages: 1 to 64", c.Pages)
	}
	if c.Window < 0 {
		return errors.New("a negative window")
	}
	switch {
	case c.LowMem && c.Pressure:
		return errors.New("lowmem and pressure together: reclaim could free the parent's pages before a fork, leaving it nothing to reclaim; the fork reclaims for itself under lowmem")
	case c.LowMem && c.Pages < 2:
		return fmt.Errorf("lowmem with %d pages: it needs 2 or more, one each side of the 1 GiB line", c.Pages)
	}
	if c.Duration <= 0 && c.Trials == 0 {
		return errors.New("give a duration or a number of trials")
	}
	return nil
}

// Run measures cfg. On a pvsim failure it returns what it measured so far
// with the error.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	k, ok := guest.Lookup(KernelName)
	if !ok {
		return nil, fmt.Errorf("no embedded kernel %q", KernelName)
	}
	r := &runner{cfg: cfg, kernel: k, start: time.Now()}
	if cfg.Duration > 0 {
		r.deadline = r.start.Add(cfg.Duration)
	}
	err := r.loop(ctx)
	return r.result(), err
}

type runner struct {
	cfg      Config
	kernel   guest.Kernel
	start    time.Time
	deadline time.Time // zero: run by trials

	total     stats
	boots     int
	oopses    int
	firstOops time.Duration
	// crashes counts the other crashes; the classes are Result's.
	crashes                   int
	oopsClasses, crashReasons []CrashClass
	oops                      *OopsReport
	rec                       *Recording
	audits                    int // violations
	audit                     string
	auditsRun                 uint64
	// locks, lockWait and storesWait add up the MMU lock statistics of
	// the vCPUs other than vCPU 0.
	locks                uint64
	lockWait, storesWait time.Duration
	// pendingWrites adds up the vCPUs' ExitStats.PendingWrites.
	pendingWrites uint64
}

func (r *runner) done() bool {
	if r.cfg.Trials > 0 && r.total.forks() >= r.cfg.Trials {
		return true
	}
	if r.cfg.Oopses > 0 && r.oopses >= r.cfg.Oopses {
		return true
	}
	return !r.deadline.IsZero() && !time.Now().Before(r.deadline)
}

func (r *runner) loop(ctx context.Context) error {
	for !r.done() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.boot(ctx); err != nil {
			return err
		}
	}
	return nil
}

// boot runs the kernel once, until it oopses, the time or the trials are
// up, or something fails.
func (r *runner) boot(ctx context.Context) error {
	iters := uint64(0)
	if r.cfg.Trials > 0 {
		iters = r.cfg.Trials - r.total.forks()
	}
	d, err := hv.New(hv.Config{
		Name: KernelName, Kernel: r.kernel.ELF, VCPUs: r.cfg.VCPUs,
		CmdLine: r.cfg.CmdLine(iters), Console: r.cfg.Console,
		Audit: r.cfg.Audit, AuditInterval: r.cfg.AuditInterval,
	})
	if err != nil {
		return err
	}
	defer d.Close()
	r.boots++
	bootStart := time.Now()

	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if !r.deadline.IsZero() {
		var c2 context.CancelFunc
		runCtx, c2 = context.WithDeadline(runCtx, r.deadline)
		defer c2()
	}
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		r.watch(runCtx, d, cancel)
	}()
	res, runErr := d.Run(runCtx)
	cancel(nil)
	<-watched

	s, serr := readStats(d)
	if serr == nil {
		r.total.add(s)
	}
	for i, e := range res.Exits {
		r.auditsRun += e.Audits
		r.pendingWrites += e.PendingWrites
		if i > 0 {
			r.locks += e.MMULocks
			r.lockWait += e.MMULockWait
			r.storesWait += e.MMUStoresWait
		}
	}
	var ge *hv.GuestError
	switch {
	case runErr == nil && res.Reason == xen.ShutdownCrash:
		if serr != nil {
			return fmt.Errorf("boot %d crashed before the race began: %v", r.boots, crashText(res))
		}
		if !isRaceOops(res.Oops) {
			r.crashes++
			r.crashReasons = countClass(r.crashReasons, CrashClass{Why: crashText(res)})
			return nil
		}
		r.oopses++
		o := report(res)
		r.oopsClasses = countClass(r.oopsClasses, CrashClass{Where: o.Function, Why: frameNumber.ReplaceAllString(o.NotEmulated, "frame")})
		if r.oops == nil {
			r.firstOops = bootStart.Add(res.Elapsed).Sub(r.start)
			r.oops = o
			if r.cfg.KeepOops {
				r.rec = &Recording{Events: d.Trace(), Symbols: d.Symbols(), VCPU: res.VCPU, Oops: res.Oops}
			}
		}
		return nil
	case runErr == nil && res.Reason == xen.ShutdownPoweroff:
		return serr
	case runErr == nil:
		return fmt.Errorf("the race kernel shut down with reason %v", res.Reason)
	case errors.As(runErr, &ge) && ge.Kind == hv.AuditFailure:
		r.audits++
		if r.audit == "" {
			r.audit = ge.Error()
		}
		return serr
	case errors.Is(runErr, context.DeadlineExceeded) && ctx.Err() == nil:
		return nil // the time is up, perhaps before this boot's kernel ran
	case errors.Is(runErr, context.Canceled) && context.Cause(runCtx) != context.Canceled && ctx.Err() == nil:
		return context.Cause(runCtx)
	}
	return runErr
}

// watch reports progress and ends a boot that stalls.
func (r *runner) watch(ctx context.Context, d *hv.Domain, cancel context.CancelCauseFunc) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	// Progress is a fork and exit, or anything reclaim or a writer did: on
	// a loaded host, with the audit after every MMU operation, a fork may
	// wait that long for reclaim, which holds locks the fork needs.
	var last [3]uint64
	lastChange := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s, _ := readStats(d) // zero until the kernel runs
		if now := [3]uint64{s.forks(), s[statYoungCalls], s[statWrites]}; now != last {
			last, lastChange = now, time.Now()
		}
		if time.Since(lastChange) > stallTime {
			cancel(fmt.Errorf("boot %d stalled: no fork, reclaim or write in %v (%d forks so far)", r.boots, stallTime, s.forks()))
			return
		}
		if r.cfg.Progress != nil {
			p := r.progress()
			p.Trials += s.forks()
			p.PinWindows += s[statPinWindows]
			r.cfg.Progress(p)
		}
	}
}

func (r *runner) progress() Progress {
	return Progress{Elapsed: time.Since(r.start), Trials: r.total.forks(), PinWindows: r.total[statPinWindows],
		Oopses: r.oopses, Boots: r.boots}
}

func readStats(d *hv.Domain) (stats, error) {
	l, err := kernelStatsLayout()
	if err != nil {
		return stats{}, err
	}
	var buf [512]byte
	if l.size > len(buf) {
		return stats{}, fmt.Errorf("struct race_stats is %d bytes, more than %d", l.size, len(buf))
	}
	b := buf[:l.size]
	if err := d.ReadSymbol("race_stats", b); err != nil {
		return stats{}, err
	}
	s := l.parse(b)
	if s[statMagic] != statsMagic {
		return stats{}, errors.New("the race kernel did not start")
	}
	return s, nil
}

func crashText(res hv.Result) string {
	if res.Oops != nil && res.Oops.Text != "" {
		first, _, _ := strings.Cut(res.Oops.Text, "\n")
		return first
	}
	return fmt.Sprintf("SHUTDOWN_crash from vCPU %d", res.VCPU)
}

func report(res hv.Result) *OopsReport {
	o := &OopsReport{VCPU: res.VCPU, Fault: crashText(res)}
	if res.Oops == nil {
		return o
	}
	o.Where, o.Source, o.NotEmulated = res.Oops.Where, res.Oops.Source, res.Oops.NotEmulated
	o.Function, _, _ = strings.Cut(o.Where, "+")
	if res.Oops.Fault != nil {
		o.Fault = res.Oops.Fault.Describe()
	}
	return o
}

func (r *runner) result() *Result {
	t := r.total
	res := &Result{
		Strategy: r.cfg.Strategy, VCPUs: r.cfg.VCPUs, Pages: r.cfg.Pages,
		WindowUs: float64(r.cfg.Window) / float64(time.Microsecond), Pressure: r.cfg.Pressure, LowMem: r.cfg.LowMem,
		Seconds: time.Since(r.start).Seconds(), Boots: r.boots,
		Trials: t.forks(), PinWindows: t[statPinWindows], Oopses: r.oopses,
		Crashes: r.crashes, OopsClasses: r.oopsClasses, CrashReasons: r.crashReasons,
		PinLockWaits: t[statPinLockWaits], PendingWrites: r.pendingWrites,
		LostDirty: t[statLostDirty], IneffectiveYoung: t[statIneffectiveYoung], UseAfterFree: t[statUseAfterFree],
		ReclaimHidden: t[statReclaimHidden], ForkNoMem: t[statForkNoMem], DirectReclaimed: t[statDirectReclaimed],
		AuditViolations: r.audits, Audits: r.auditsRun, YoungClears: t[statYoungClears],
		Writebacks: t[statWritebacks], Writes: t[statWrites], Freed: t[statFreed],
		YoungCalls: t[statYoungCalls], Oops: r.oops, Audit: r.audit, FirstOops: r.rec,
	}
	if r.oops != nil {
		s := r.firstOops.Seconds()
		res.FirstOopsS = &s
	}
	if n := t[statYoungClears]; n > 0 {
		res.YoungClearUs = float64(t[statYoungClearNs]) / float64(n) / 1e3
		res.ExitsPerYoung = float64(t[statYoungClearExits]) / float64(n)
	}
	if n := t[statForks]; n > 0 {
		res.ForkExitUs = float64(t[statForkExitNs]) / float64(n) / 1e3
	}
	if r.locks > 0 {
		res.MMULocks = r.locks
		res.MMULockWaitUs = float64(r.lockWait) / float64(r.locks) / 1e3
		res.QueuedStoreWaitUs = float64(r.storesWait) / float64(r.locks) / 1e3
	}
	return res
}
