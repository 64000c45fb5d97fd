package explore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pvsim/pvsim/fingerprint"
	"github.com/pvsim/pvsim/hv"
	"github.com/pvsim/pvsim/sched"
	"github.com/pvsim/pvsim/trace"
	"github.com/pvsim/pvsim/xen"
)

// Target is what a search explores: a snapshot to start each schedule
// from, and the judge of each run.
type Target struct {
	Snapshot *hv.Snapshot
	// Check judges a finished run: a violation, nil when the run is
	// correct, or an error when pvsim itself failed.
	Check func(d *hv.Domain, res hv.Result, runErr error) (*Violation, error)
	// Timeout ends a schedule that runs longer (a hang); Audit checks the
	// hypervisor's invariants after every MMU operation.
	Timeout time.Duration
	Audit   bool

	// model, in tests, runs a schedule in place of a domain, on vcpus.
	model func(s sched.Scheduler) *Violation
	vcpus int
}

// Violation is a schedule whose run went wrong.
type Violation struct {
	// Schedule replays the run (pvsim run --schedule).
	Schedule    string `json:"schedule"`
	Preemptions int    `json:"preemptions"`
	// Oracle names what fired, Detail says what it saw.
	Oracle string `json:"oracle"`
	Detail string `json:"detail"`
	// Interleaving is the two-column account of the run, when the
	// target can give one.
	Interleaving string `json:"interleaving,omitempty"`
	// Steps counts the run's scheduling points, and TraceSHA256 is its
	// exit trace's digest (trace.Digest), which a replay matches.
	Steps       uint64 `json:"steps"`
	TraceSHA256 string `json:"trace_sha256"`
	// FoundAt is how many schedules this search (this shard) had run when
	// it found the violation, this one included.
	FoundAt int `json:"found_at,omitempty"`
}

// BootSnapshot boots the kernel cfg describes, deterministically on the
// default schedule, to its snapshot point (pvsim_op snapshot_point) and
// returns the snapshot a Target starts every schedule from. cfg's
// Scheduler and Snapshot are set here.
func BootSnapshot(ctx context.Context, cfg hv.Config) (*hv.Snapshot, error) {
	cfg.Scheduler, cfg.Snapshot = sched.Default{}, true
	d, err := hv.New(cfg)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	res, err := d.Run(ctx)
	if err != nil {
		return nil, fmt.Errorf("booting %s to its snapshot point: %w", cfg.Name, err)
	}
	if res.Snapshot == nil {
		return nil, fmt.Errorf("%s ended (%v) without reaching its snapshot point", cfg.Name, res.Reason)
	}
	return res.Snapshot, nil
}

// Ended judges how a run ended when it did not power off, as every
// target's Check does first: a shutdown for another reason, an audit
// failure, a hang or a fault of the guest is a violation; an error of
// pvsim itself is returned. ok is false for a run that powered off, which
// the target judges by its own oracles. A crash is the target's to judge:
// Ended reports it only as not ok.
func Ended(res hv.Result, runErr error) (v *Violation, ok bool, err error) {
	var ge *hv.GuestError
	switch {
	case runErr == nil && (res.Reason == xen.ShutdownPoweroff || res.Reason == xen.ShutdownCrash):
		return nil, false, nil
	case runErr == nil:
		return &Violation{Oracle: "shutdown", Detail: fmt.Sprintf("the kernel shut down with reason %v", res.Reason)}, true, nil
	case errors.As(runErr, &ge) && ge.Kind == hv.AuditFailure:
		return &Violation{Oracle: "audit", Detail: ge.Error()}, true, nil
	case errors.As(runErr, &ge) && ge.Kind == hv.Timeout:
		return &Violation{Oracle: "hang", Detail: ge.Error()}, true, nil
	case errors.As(runErr, &ge):
		return &Violation{Oracle: "fault", Detail: ge.Error()}, true, nil
	}
	return nil, true, runErr
}

// Algo is a search algorithm.
type Algo string

const (
	DFS Algo = "dfs" // every schedule with at most Bound preemptions
	PCT Algo = "pct" // random priorities with Depth-1 change points
)

// Shard is one of Count disjoint parts of a search, Index from 0.
type Shard struct{ Index, Count int }

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// ParseShard reads "i/N", 0 <= i < N.
func ParseShard(text string) (Shard, error) {
	i, n, ok := strings.Cut(text, "/")
	s := Shard{}
	var err1, err2 error
	s.Index, err1 = strconv.Atoi(i)
	s.Count, err2 = strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || s.Count < 1 || s.Index < 0 || s.Index >= s.Count {
		return Shard{}, fmt.Errorf("shard %q: want i/N with 0 <= i < N", text)
	}
	return s, nil
}

// Config is one search.
type Config struct {
	Algo Algo
	// Bound is DFS's preemption bound.
	Bound int
	// Depth is PCT's bug depth d (d-1 priority change points). For DFS, if
	// set, only the first Depth points after the search window opens may
	// take decisions.
	Depth int
	// Budget caps the schedules run (for PCT, the schedules of all shards
	// together), Duration the time; zero is no cap, except that PCT needs
	// one of them.
	Budget   int
	Duration time.Duration
	Seed     uint64
	Workers  int
	Shard    Shard
	// All keeps searching after the first violation.
	All bool
	// Prune makes DFS name the state at every scheduling point (a digest
	// of the domain: hv.Config.Fingerprint) and not search again from a
	// state it has searched from with at least as many preemptions left:
	// the schedules it skips reach only states and verdicts the search
	// has or will have seen. PCT ignores it.
	Prune bool
	// Progress, if set, is called about once a second.
	Progress func(Progress)
}

// Progress is a running count.
type Progress struct {
	Elapsed    time.Duration
	Schedules  int
	Violations int
	Queued     int
	// States counts the distinct states recorded, with Config.Prune.
	States int
}

// Result is a search's outcome, in the fields `pvsim explore --json`
// prints.
type Result struct {
	Target string `json:"target"`
	Algo   Algo   `json:"algo"`
	Bound  int    `json:"bound"`
	Depth  int    `json:"depth"`
	Seed   uint64 `json:"seed"`
	Budget int    `json:"budget,omitempty"`
	// Shards are the shards this result covers, of ShardCount.
	Shards     []int `json:"shards"`
	ShardCount int   `json:"shard_count"`
	Workers    int   `json:"workers"`
	// Schedules counts the schedules run. Exhausted is set when they are
	// all there are within the bound (DFS) or the budget (PCT).
	Schedules int  `json:"schedules"`
	Exhausted bool `json:"exhausted"`
	// With Config.Prune: States counts the distinct states the search
	// recorded (at the points of the window after each schedule's last
	// decision), and Pruned the points where it cut a schedule's
	// subtree, having searched from their states already. A merge adds the shards' counts (a state two shards saw
	// counts twice).
	Prune  bool `json:"prune"`
	States int  `json:"states"`
	Pruned int  `json:"pruned"`
	// Points counts the scheduling points of the default schedule from
	// the window on; Window is the step the window opens at.
	Points     int         `json:"points"`
	Window     uint64      `json:"window"`
	Violations []Violation `json:"violations"`
	Seconds    float64     `json:"seconds"`
	PerSecond  float64     `json:"schedules_per_second"`
	// ResetUs is the mean cost of a reset: a domain restored from the
	// snapshot, and closed after its run.
	ResetUs float64 `json:"reset_us"`
	// Stopped says why the search ended before it was exhausted.
	Stopped string `json:"stopped,omitempty"`
}

// MaxShards bounds the shards of one search, so that a result file cannot
// make a merge allocate without limit.
const MaxShards = 1 << 16

// check refuses a result no search writes: a shard count outside 1 to
// MaxShards, a shard outside it, negative counts, a violation without an
// oracle or a schedule.
func (r *Result) check() error {
	switch {
	case r.ShardCount < 1 || r.ShardCount > MaxShards:
		return fmt.Errorf("shard_count %d: want 1 to %d", r.ShardCount, MaxShards)
	case len(r.Shards) == 0 || len(r.Shards) > r.ShardCount:
		return fmt.Errorf("%d shards of %d", len(r.Shards), r.ShardCount)
	case r.Schedules < 0 || r.Workers < 0 || r.Points < 0 || r.Bound < 0 || r.Depth < 0 || r.Budget < 0 || r.States < 0 || r.Pruned < 0:
		return errors.New("a negative count")
	}
	for _, sh := range r.Shards {
		if sh < 0 || sh >= r.ShardCount {
			return fmt.Errorf("shard %d of %d", sh, r.ShardCount)
		}
	}
	for j, v := range r.Violations {
		if v.Oracle == "" || v.Schedule == "" {
			return fmt.Errorf("violation %d has no oracle or no schedule", j+1)
		}
	}
	return nil
}

// Check fills in defaults and checks the configuration.
func (c *Config) Check() error {
	switch c.Algo {
	case "":
		c.Algo = DFS
	case DFS, PCT:
	default:
		return fmt.Errorf("unknown algorithm %q: dfs or pct", c.Algo)
	}
	if c.Bound < 0 || c.Depth < 0 || c.Budget < 0 || c.Duration < 0 {
		return errors.New("bound, depth, budget and duration cannot be negative")
	}
	if c.Algo == PCT {
		if c.Depth == 0 {
			c.Depth = DefaultPCTDepth
		}
		if c.Budget == 0 && c.Duration == 0 {
			return errors.New("pct needs a budget or a duration")
		}
	}
	if c.Workers == 0 {
		c.Workers = 1
	}
	if c.Shard.Count == 0 {
		c.Shard.Count = 1
	}
	if c.Workers < 1 || c.Shard.Index < 0 || c.Shard.Index >= c.Shard.Count {
		return fmt.Errorf("workers %d, shard %v: want at least one worker and 0 <= i < N", c.Workers, c.Shard)
	}
	return nil
}

// DefaultPCTDepth is PCT's d when Config.Depth is zero: two change
// points, room for one vCPU to be stopped inside a window and resumed.
const DefaultPCTDepth = 3

// search is one running search.
type search struct {
	t     Target
	cfg   Config
	start time.Time
	// window is the first step decisions may be taken at: the first
	// labelled point of the default schedule.
	window uint64
	points int
	vcpus  int

	mu         sync.Mutex
	cond       *sync.Cond
	queue      []node
	inFlight   int
	schedules  int
	resets     int
	resetTime  time.Duration
	violations []Violation
	stopped    string
	err        error
	// nextPCT is the next PCT schedule this shard runs.
	nextPCT int
	// seen holds, with Config.Prune, the most preemptions left any
	// schedule had at each state it passed where it could decide; pruned
	// counts the subtrees skipped.
	seen   map[fingerprint.Digest]int
	pruned int
}

// node is a DFS schedule to run, with its preemptions so far.
type node struct {
	s   Schedule
	pre int
}

// lastStep is the step of n's last decision, or 0 for the default
// schedule: n's children decide only after it.
func (n node) lastStep() uint64 {
	if k := len(n.s.Decisions); k > 0 {
		return n.s.Decisions[k-1].Step
	}
	return 0
}

// Run searches t's schedules.
func Run(ctx context.Context, t Target, cfg Config) (*Result, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	s := &search{t: t, cfg: cfg, start: time.Now(), nextPCT: cfg.Shard.Index}
	s.cond = sync.NewCond(&s.mu)
	if cfg.Algo != DFS {
		s.cfg.Prune = false
	}
	if s.cfg.Prune {
		s.seen = map[fingerprint.Digest]int{}
		if t.Snapshot != nil {
			if err := t.Snapshot.PrepareFingerprints(); err != nil {
				return nil, err
			}
		}
	}

	// The default schedule: every shard runs it to find the window and
	// the first decisions; shard 0 counts it.
	s.vcpus = t.vcpus
	if t.Snapshot != nil {
		s.vcpus = t.Snapshot.VCPUs()
	}
	root := &Replay{Schedule: Schedule{VCPUs: s.vcpus}, Record: true}
	v, err := s.run(ctx, root)
	if err != nil {
		return nil, err
	}
	s.window = root.Points[len(root.Points)-1].Step + 1
	for _, p := range root.Points {
		if p.Labelled {
			s.window = p.Step
			break
		}
	}
	for _, p := range root.Points {
		if p.Step >= s.window {
			s.points++
		}
	}
	if cfg.Shard.Index == 0 {
		s.schedules++
		if v != nil {
			v.FoundAt = s.schedules
			s.violations = append(s.violations, *v)
		}
	}

	stopProgress := s.progress()
	switch cfg.Algo {
	case DFS:
		if v == nil || cfg.All {
			s.mu.Lock()
			s.queue = s.children(node{s: root.Schedule}, s.unexplored(node{s: root.Schedule}, root.Points), true)
			s.mu.Unlock()
			s.work(ctx, s.dfsWorker)
		}
	case PCT:
		s.work(ctx, s.pctWorker)
	}
	stopProgress()
	if s.err != nil {
		return nil, s.err
	}
	return s.result(), nil
}

// work runs cfg.Workers copies of worker and waits for them.
func (s *search) work(ctx context.Context, worker func(context.Context)) {
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			worker(ctx)
		}()
	}
	wg.Wait()
}

// progress calls cfg.Progress once a second until the returned function
// is called.
func (s *search) progress() func() {
	if s.cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				s.mu.Lock()
				p := Progress{Elapsed: time.Since(s.start), Schedules: s.schedules, Violations: len(s.violations), Queued: len(s.queue), States: len(s.seen)}
				s.mu.Unlock()
				s.cfg.Progress(p)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// stop ends the search for why, unless it ended already. The caller holds
// s.mu.
func (s *search) stop(why string) {
	if s.stopped == "" {
		s.stopped = why
	}
	s.cond.Broadcast()
}

// budgetLeft reports whether another schedule may start, and stops the
// search if not. The caller holds s.mu.
func (s *search) budgetLeft(ctx context.Context) bool {
	switch {
	case s.stopped != "":
	case ctx.Err() != nil:
		s.stop("interrupted")
	case s.cfg.Budget > 0 && s.schedules+s.inFlight >= s.cfg.Budget && s.cfg.Algo == DFS:
		s.stop(fmt.Sprintf("budget of %d schedules spent", s.cfg.Budget))
	case s.cfg.Duration > 0 && time.Since(s.start) >= s.cfg.Duration:
		s.stop(fmt.Sprintf("time of %v spent", s.cfg.Duration))
	default:
		return true
	}
	return false
}

// finished records one schedule's outcome. The caller holds s.mu.
func (s *search) finished(v *Violation, err error) {
	s.inFlight--
	s.schedules++
	switch {
	case err != nil:
		if s.err == nil {
			s.err = err
		}
		s.stop("error")
	case v != nil:
		v.FoundAt = s.schedules
		s.violations = append(s.violations, *v)
		if !s.cfg.All {
			s.stop("violation found")
		}
	}
	s.cond.Broadcast()
}

func (s *search) dfsWorker(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		for len(s.queue) == 0 && s.inFlight > 0 && s.stopped == "" {
			s.cond.Wait()
		}
		if len(s.queue) == 0 || !s.budgetLeft(ctx) {
			s.cond.Broadcast()
			return
		}
		n := s.queue[len(s.queue)-1]
		s.queue = s.queue[:len(s.queue)-1]
		s.inFlight++
		s.mu.Unlock()

		r := &Replay{Schedule: n.s, Record: true}
		v, err := s.run(ctx, r)

		s.mu.Lock()
		if err == nil {
			s.queue = append(s.queue, s.children(n, s.unexplored(n, r.Points), false)...)
		}
		s.finished(v, err)
	}
}

// unexplored returns the points of n's run up to the first whose subtree
// the search need not explore (all of them without Config.Prune): the
// first, after n's last decision, at a state already reached with at least
// as many preemptions left. It records the states before that one, with
// the preemptions n has left. The caller holds s.mu.
//
// Why this is sound, for a search with a preemption bound: from a state,
// the schedules n's children run are every continuation with at most the
// preemptions n has left (the vCPU at a point, whether it yields and who
// can run are part of the state). The state was reached before with at
// least that many left, and that schedule's children, queued when it
// finished, run every such continuation; whatever verdict one of n's would
// reach, one of theirs reaches too. States are named by their digests
// (hv.Config.Fingerprint), which include the step, so no state repeats
// within a run, and each entry rests only on entries made before it.
//
// Verdicts are the states': the oracles read the domain as the run ends.
// A violation's detail and drawing are its schedule's, so the pruned
// search may show a violation through another schedule than the plain
// one would, with the same oracle at no more preemptions. With shards,
// each records the default schedule's states though it runs only its
// share of their children: what it skips there the other shards run, so
// the merged search is sound, and one shard's result is its share.
func (s *search) unexplored(n node, points []Point) []Point {
	if !s.cfg.Prune {
		return points
	}
	last := n.lastStep()
	left := s.cfg.Bound - n.pre
	for i, p := range points {
		if p.Step <= last || p.Step < s.window || p.State == (fingerprint.Digest{}) {
			continue
		}
		if had, ok := s.seen[p.State]; ok && had >= left {
			s.pruned++
			return points[:i]
		}
		s.seen[p.State] = left
	}
	return points
}

// children are the schedules that extend n by one decision at a point of
// its run after its last one: another vCPU runs there, within the
// preemption bound. At the root, only this shard's share is kept.
func (s *search) children(n node, points []Point, root bool) []node {
	last := n.lastStep()
	var kids []node
	k := 0
	for _, p := range points {
		if p.Step <= last || p.Step < s.window {
			continue
		}
		if s.cfg.Depth > 0 && p.Step >= s.window+uint64(s.cfg.Depth) {
			break
		}
		for v := range hv.MaxVCPUs {
			if p.Runnable&(1<<v) == 0 || v == p.Ran || (p.Yield && v == p.VCPU) {
				continue
			}
			cost := 1
			if p.Yield {
				cost = 0 // the vCPU gave the CPU up: choosing who gets it is free
			}
			if n.pre+cost > s.cfg.Bound {
				continue
			}
			k++
			if root && (k-1)%s.cfg.Shard.Count != s.cfg.Shard.Index {
				continue
			}
			kid := node{s: n.s.with(Decision{Step: p.Step, VCPU: v}), pre: n.pre + cost}
			kids = append(kids, kid)
		}
	}
	// The queue is a stack: the earliest decision is run first.
	for i, j := 0, len(kids)-1; i < j; i, j = i+1, j-1 {
		kids[i], kids[j] = kids[j], kids[i]
	}
	return kids
}

// pctWorker runs PCT schedules: schedule j of the search belongs to shard
// j mod N, and its randomness comes from (seed, j) alone.
func (s *search) pctWorker(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if !s.budgetLeft(ctx) {
			return
		}
		j := s.nextPCT
		if s.cfg.Budget > 0 && j >= s.cfg.Budget {
			if s.inFlight == 0 {
				s.cond.Broadcast()
			}
			return
		}
		s.nextPCT += s.cfg.Shard.Count
		s.inFlight++
		s.mu.Unlock()

		p := newPCTScheduler(s.cfg.Seed, j, s.cfg.Depth, s.window, s.points, s.vcpus)
		v, err := s.run(ctx, p)

		s.mu.Lock()
		s.finished(v, err)
	}
}

// run runs one schedule from the snapshot and judges it.
func (s *search) run(ctx context.Context, sched sched.Scheduler) (*Violation, error) {
	if s.t.model != nil {
		return s.named(s.t.model(sched), sched), nil
	}
	t0 := time.Now()
	d, err := s.t.Snapshot.Restore(hv.Config{Scheduler: sched, Timeout: s.t.Timeout, Audit: s.t.Audit, Fingerprint: s.cfg.Prune})
	if err != nil {
		return nil, err
	}
	reset := time.Since(t0)
	res, runErr := d.Run(ctx)
	if ctx.Err() != nil {
		d.Close()
		return nil, nil
	}
	v, err := s.t.Check(d, res, runErr)
	var digest string
	if v != nil {
		digest = trace.Digest(d.Trace())
	}
	t1 := time.Now()
	d.Close()
	reset += time.Since(t1)
	s.mu.Lock()
	s.resets++
	s.resetTime += reset
	s.mu.Unlock()
	if err != nil || v == nil {
		return nil, err
	}
	v.Steps, v.TraceSHA256 = res.Steps, digest
	return s.named(v, sched), nil
}

// named gives a violation the schedule that led to it.
func (s *search) named(v *Violation, sched sched.Scheduler) *Violation {
	if v == nil {
		return nil
	}
	switch sc := sched.(type) {
	case *Replay:
		v.Schedule = sc.Schedule.String()
		v.Preemptions = Preemptions(sc.Schedule, sc.Points)
	case *pctScheduler:
		v.Schedule = sc.taken.String()
		v.Preemptions = Preemptions(sc.taken, sc.points)
	}
	return v
}

func (s *search) result() *Result {
	r := &Result{
		Algo: s.cfg.Algo, Bound: s.cfg.Bound, Depth: s.cfg.Depth, Seed: s.cfg.Seed, Budget: s.cfg.Budget,
		Shards: []int{s.cfg.Shard.Index}, ShardCount: s.cfg.Shard.Count, Workers: s.cfg.Workers,
		Schedules: s.schedules, Points: s.points, Window: s.window,
		Prune: s.cfg.Prune, States: len(s.seen), Pruned: s.pruned,
		Violations: s.violations, Seconds: time.Since(s.start).Seconds(), Stopped: s.stopped,
	}
	if r.Violations == nil {
		r.Violations = []Violation{}
	}
	r.Exhausted = s.stopped == "" && s.err == nil
	if len(s.violations) > 0 && s.cfg.Algo == DFS && !s.cfg.All && s.stopped == "" {
		r.Stopped, r.Exhausted = "violation found", false // at the root
	}
	if r.Seconds > 0 {
		r.PerSecond = float64(r.Schedules) / r.Seconds
	}
	if s.resets > 0 {
		r.ResetUs = float64(s.resetTime.Microseconds()) / float64(s.resets)
	}
	return r
}

// pctScheduler is one PCT schedule: every vCPU gets a random priority
// from d up, and at each of d-1 random change points among the window's
// points the running vCPU drops to priority 1, 2, ...; the runnable vCPU
// with the highest priority runs, except that one that yields gives way.
type pctScheduler struct {
	prio   [hv.MaxVCPUs]int
	change map[uint64]int
	window uint64
	taken  Schedule
	points []Point
}

func newPCTScheduler(seed uint64, j, d int, window uint64, k, vcpus int) *pctScheduler {
	rng := rand.New(rand.NewPCG(seed, uint64(j)))
	p := &pctScheduler{change: map[uint64]int{}, window: window, taken: Schedule{VCPUs: vcpus}}
	for i, v := range rng.Perm(vcpus) {
		p.prio[v] = d + i
	}
	for i := 1; i < d && k > 0; {
		step := window + uint64(rng.IntN(k))
		if _, dup := p.change[step]; dup && len(p.change) < k {
			continue
		}
		p.change[step] = i
		i++
	}
	return p
}

func (c *pctScheduler) Next(p *sched.Point) int {
	def := sched.DefaultNext(p)
	best := def
	if p.Step >= c.window {
		if i, ok := c.change[p.Step]; ok {
			c.prio[p.VCPU] = i
		}
		best = -1
		for v := range hv.MaxVCPUs {
			if p.Runnable&(1<<v) == 0 || (p.Yield && v == p.VCPU && def != p.VCPU) {
				continue
			}
			if best < 0 || c.prio[v] > c.prio[best] {
				best = v
			}
		}
		if best != def {
			c.taken.Decisions = append(c.taken.Decisions, Decision{Step: p.Step, VCPU: best})
		}
	}
	c.points = append(c.points, Point{Step: p.Step, VCPU: p.VCPU, Yield: p.Yield, Labelled: p.Label != "",
		Runnable: uint64(p.Runnable), Ran: best})
	return best
}

// Merge joins the results of the shards of one search, run apart (on
// other machines, say). The search is exhausted when every shard is there
// and was.
func Merge(results []*Result) (*Result, error) {
	if len(results) > MaxShards {
		return nil, fmt.Errorf("%d results: a search has at most %d shards", len(results), MaxShards)
	}
	if len(results) == 0 {
		return nil, errors.New("nothing to merge")
	}
	first := results[0]
	m := &Result{
		Target: first.Target, Algo: first.Algo, Bound: first.Bound, Depth: first.Depth, Seed: first.Seed,
		Budget: first.Budget, ShardCount: first.ShardCount, Points: first.Points, Window: first.Window,
		Violations: []Violation{}, Exhausted: true,
	}
	seen := map[int]bool{}
	var resetWeighted float64
	for i, r := range results {
		if err := r.check(); err != nil {
			return nil, fmt.Errorf("result %d: %w", i+1, err)
		}
		if r.Target != m.Target || r.Algo != m.Algo || r.Bound != m.Bound || r.Depth != m.Depth ||
			r.Seed != m.Seed || r.Budget != m.Budget || r.ShardCount != m.ShardCount {
			return nil, fmt.Errorf("result %d is of another search (%s %s bound %d depth %d seed %d budget %d, %d shards), not %s %s bound %d depth %d seed %d budget %d, %d shards",
				i+1, r.Target, r.Algo, r.Bound, r.Depth, r.Seed, r.Budget, r.ShardCount,
				m.Target, m.Algo, m.Bound, m.Depth, m.Seed, m.Budget, m.ShardCount)
		}
		if r.Points != m.Points || r.Window != m.Window {
			return nil, fmt.Errorf("result %d saw another default schedule (%d points from step %d, not %d from %d): another build or kernel?",
				i+1, r.Points, r.Window, m.Points, m.Window)
		}
		for _, sh := range r.Shards {
			if seen[sh] {
				return nil, fmt.Errorf("shard %d/%d is in more than one result", sh, m.ShardCount)
			}
			seen[sh] = true
			m.Shards = append(m.Shards, sh)
		}
		m.Schedules += r.Schedules
		m.States += r.States
		m.Pruned += r.Pruned
		m.Prune = m.Prune || r.Prune
		m.Workers += r.Workers
		m.Violations = append(m.Violations, r.Violations...)
		m.Seconds = max(m.Seconds, r.Seconds)
		m.PerSecond += r.PerSecond
		resetWeighted += r.ResetUs * float64(r.Schedules)
		if !r.Exhausted {
			m.Exhausted = false
			if m.Stopped == "" {
				m.Stopped = fmt.Sprintf("shard %v: %s", r.Shards, r.Stopped)
			}
		}
	}
	if m.Schedules > 0 {
		m.ResetUs = resetWeighted / float64(m.Schedules)
	}
	slices.Sort(m.Shards)
	var missing []string
	for i := range m.ShardCount {
		if !seen[i] {
			missing = append(missing, strconv.Itoa(i))
		}
	}
	if len(missing) > 0 {
		m.Exhausted = false
		m.Stopped = fmt.Sprintf("shards %s of %d missing", strings.Join(missing, ", "), m.ShardCount)
	}
	return m, nil
}
