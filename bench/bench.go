// Package bench measures what pvsim's operations cost, as ratios against
// the raw-KVM lower bounds of the baseline program (kvmexit.c) measured in
// the same run: absolute times drift on shared machines, ratios much less.
package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pvsim/pvsim/guest"
	"github.com/pvsim/pvsim/hv"
	"github.com/pvsim/pvsim/sched"
)

// BaselineSourceEnv names the environment variable that points at
// kvmexit.c when it is not in shared/baseline above the working directory.
const BaselineSourceEnv = "PVSIM_BASELINE_SRC"

// FindBaselineSource locates kvmexit.c: $PVSIM_BASELINE_SRC, else
// shared/baseline/kvmexit.c in the working directory or any parent.
func FindBaselineSource() (string, error) {
	if p := os.Getenv(BaselineSourceEnv); p != "" {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "shared", "baseline", "kvmexit.c")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("kvmexit.c not found in shared/baseline above the working directory; set %s", BaselineSourceEnv)
		}
		dir = parent
	}
}

// Baseline is one run of the baseline program: figure name → µs.
type Baseline map[string]float64

// Baseline figure names (see kvmexit.c).
const (
	VMBootUs     = "vm_boot_us"
	ExitMMIOCPL3 = "exit_mmio_cpl3"
	PFTrapCPL3   = "pf_trap_cpl3"
)

// BuildBaseline compiles kvmexit.c with cc -O2 into dir and returns the
// binary's path.
func BuildBaseline(src, dir string) (string, error) {
	bin := filepath.Join(dir, "kvmexit")
	out, err := exec.Command("cc", "-O2", "-o", bin, src).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building the baseline (cc -O2 %s): %v\n%s", src, err, out)
	}
	return bin, nil
}

// RunBaseline runs the baseline binary with iters iterations per figure.
func RunBaseline(bin string, iters int) (Baseline, error) {
	out, err := exec.Command(bin, strconv.Itoa(iters)).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("baseline failed: %v: %s", err, bytes.TrimSpace(ee.Stderr))
		}
		return nil, fmt.Errorf("baseline: %v", err)
	}
	b := Baseline{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return nil, fmt.Errorf("baseline output %q: %v", sc.Text(), err)
		}
		b[f[0]] = v
	}
	return b, nil
}

// markClock is a guest console that remembers when given marker lines
// arrived. The guest writes each line with one console_io hypercall, so the
// time between two markers covers the hypercalls the guest made between
// them, plus one.
type markClock struct {
	mu    sync.Mutex
	marks map[string]time.Time
	out   bytes.Buffer
}

func (c *markClock) Write(b []byte) (int, error) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if _, seen := c.marks[line]; !seen {
			c.marks[line] = now
		}
	}
	return c.out.Write(b)
}

// NullHypercall boots the bench-hypercall kernel, which makes iters
// xen_version(XENVER_version) hypercalls between two console markers, and
// returns the mean round trip of one hypercall.
func NullHypercall(iters int) (time.Duration, error) {
	k, ok := guest.Lookup("bench-hypercall")
	if !ok {
		return 0, errors.New("the bench-hypercall kernel is not embedded")
	}
	clock := &markClock{marks: map[string]time.Time{}}
	d, err := hv.New(hv.Config{
		Name: k.Name, Kernel: k.ELF, CmdLine: fmt.Sprintf("iters=%d", iters),
		Console: clock, Timeout: time.Duration(iters)*time.Millisecond + 30*time.Second,
	})
	if err != nil {
		return 0, err
	}
	defer d.Close()
	if _, err := d.Run(context.Background()); err != nil {
		return 0, err
	}
	start, ok1 := clock.marks["bench: start"]
	end, ok2 := clock.marks["bench: end"]
	if !ok1 || !ok2 {
		return 0, fmt.Errorf("bench-hypercall did not print its markers; console:\n%s", clock.out.String())
	}
	return end.Sub(start) / time.Duration(iters), nil
}

// PinSize is the pin+unpin cost of one pagetable tree size.
type PinSize struct {
	L1Tables     int     `json:"l1_tables"`
	Frames       int     `json:"frames"`
	PinUnpinUs   float64 `json:"pin_unpin_us"`
	PerFrameUs   float64 `json:"per_frame_us"`
	PerFrameRate float64 `json:"per_frame_ratio"` // PerFrameUs / ExecutorWriteUs
}

// PinResult is what `pvsim bench pin` reports.
type PinResult struct {
	Sizes []PinSize `json:"sizes"`
	// ExecutorWriteUs is one mmu_update of a single entry: a hypercall
	// whose only effect is one executor store.
	ExecutorWriteUs float64 `json:"executor_write_us"`
	// Fit is the least-squares line pin_unpin_us = slope*frames + intercept.
	Fit  LinearFit `json:"fit"`
	Reps int       `json:"reps"`
}

// LinearFit is a least-squares straight line and its coefficient of
// determination.
type LinearFit struct {
	SlopeUs     float64 `json:"slope_us_per_frame"`
	InterceptUs float64 `json:"intercept_us"`
	R2          float64 `json:"r2"`
}

// Fit fits y = a*x + b.
func Fit(xs, ys []float64) LinearFit {
	n := float64(len(xs))
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx, sy, sxx, sxy = sx+xs[i], sy+ys[i], sxx+xs[i]*xs[i], sxy+xs[i]*ys[i]
	}
	a := (n*sxy - sx*sy) / (n*sxx - sx*sx)
	b := (sy - a*sx) / n
	var ssRes, ssTot float64
	for i := range xs {
		d := ys[i] - (a*xs[i] + b)
		ssRes += d * d
		m := ys[i] - sy/n
		ssTot += m * m
	}
	return LinearFit{SlopeUs: a, InterceptUs: b, R2: 1 - ssRes/ssTot}
}

var pinMark = regexp.MustCompile(`^bench-pin: n=(\d+) frames=(\d+) start$`)

// Pin boots the bench-pin kernel, which pins and unpins pagetable trees of
// 1, 2, 4, ... maxL1 L1 tables reps times each, and rewrites one entry
// reps*32 times with mmu_update, between console markers.
func Pin(reps, maxL1 int) (PinResult, error) {
	k, ok := guest.Lookup("bench-pin")
	if !ok {
		return PinResult{}, errors.New("the bench-pin kernel is not embedded")
	}
	clock := &markClock{marks: map[string]time.Time{}}
	d, err := hv.New(hv.Config{
		Name: k.Name, Kernel: k.ELF, CmdLine: fmt.Sprintf("reps=%d max=%d", reps, maxL1),
		Console: clock, Timeout: 10 * time.Minute,
	})
	if err != nil {
		return PinResult{}, err
	}
	defer d.Close()
	if _, err := d.Run(context.Background()); err != nil {
		return PinResult{}, err
	}
	span := func(start, end string) (time.Duration, error) {
		s, ok1 := clock.marks[start]
		e, ok2 := clock.marks[end]
		if !ok1 || !ok2 {
			return 0, fmt.Errorf("bench-pin did not print %q and %q; console:\n%s", start, end, clock.out.String())
		}
		return e.Sub(s), nil
	}
	w, err := span("bench-write: start", "bench-write: end")
	if err != nil {
		return PinResult{}, err
	}
	res := PinResult{Reps: reps, ExecutorWriteUs: us(w) / float64(reps*32)}
	var xs, ys []float64
	for line := range clock.marks {
		m := pinMark.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		frames, _ := strconv.Atoi(m[2])
		dur, err := span(line, fmt.Sprintf("bench-pin: n=%d end", n))
		if err != nil {
			return PinResult{}, err
		}
		per := us(dur) / float64(reps)
		res.Sizes = append(res.Sizes, PinSize{
			L1Tables: n, Frames: frames, PinUnpinUs: per,
			PerFrameUs: per / float64(frames), PerFrameRate: per / float64(frames) / res.ExecutorWriteUs,
		})
	}
	sort.Slice(res.Sizes, func(i, j int) bool { return res.Sizes[i].Frames < res.Sizes[j].Frames })
	for _, s := range res.Sizes {
		xs, ys = append(xs, float64(s.Frames)), append(ys, s.PinUnpinUs)
	}
	if len(xs) < 2 {
		return PinResult{}, fmt.Errorf("bench-pin measured %d sizes; console:\n%s", len(xs), clock.out.String())
	}
	res.Fit = Fit(xs, ys)
	return res, nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// PTWriteResult is one run of the bench-ptwr kernel: the mean round trip,
// in µs, of one guest write that faults into the hypervisor.
type PTWriteResult struct {
	// PinnedUs: `lock btr` on an entry of a pinned L1 that no vCPU runs
	// on (a forked child's, as in the race), emulated (ptwr).
	PinnedUs float64 `json:"pinned_us"`
	// LiveUs: the same on an L1 of the running address space.
	LiveUs float64 `json:"live_us"`
	// BounceUs: a #PF bounced to the guest's handler and back with
	// HYPERVISOR_iret.
	BounceUs float64 `json:"bounce_us"`
	// PTWrites counts the writes the hypervisor emulated, and
	// ExitsPerWrite the exits they took each: the fault's, and the
	// exchange's when it is not made on the one-exit path.
	PTWrites      uint64  `json:"ptwrites"`
	ExitsPerWrite float64 `json:"exits_per_write"`
	Reps          int     `json:"reps"`
}

// PTWrite boots the bench-ptwr kernel, which times reps emulated writes
// to a pinned L1, reps to a live L1 and reps bounced faults, each between
// console markers.
func PTWrite(reps int) (PTWriteResult, error) {
	k, ok := guest.Lookup("bench-ptwr")
	if !ok {
		return PTWriteResult{}, errors.New("the bench-ptwr kernel is not embedded")
	}
	clock := &markClock{marks: map[string]time.Time{}}
	d, err := hv.New(hv.Config{
		Name: k.Name, Kernel: k.ELF, CmdLine: fmt.Sprintf("reps=%d", reps),
		Console: clock, Timeout: time.Duration(reps)*time.Millisecond + 60*time.Second,
	})
	if err != nil {
		return PTWriteResult{}, err
	}
	defer d.Close()
	r, err := d.Run(context.Background())
	if err != nil {
		return PTWriteResult{}, err
	}
	res := PTWriteResult{Reps: reps}
	var exits uint64
	for _, e := range r.Exits {
		res.PTWrites += e.PTWrites
		exits += e.PTWriteExits
	}
	if res.PTWrites > 0 {
		res.ExitsPerWrite = float64(exits) / float64(res.PTWrites)
	}
	for _, m := range []struct {
		name string
		dst  *float64
	}{{"pinned", &res.PinnedUs}, {"live", &res.LiveUs}, {"bounce", &res.BounceUs}} {
		s, ok1 := clock.marks[fmt.Sprintf("bench-ptwr: %s start n=%d", m.name, reps)]
		e, ok2 := clock.marks["bench-ptwr: "+m.name+" end"]
		if !ok1 || !ok2 {
			return PTWriteResult{}, fmt.Errorf("bench-ptwr did not print its %s markers; console:\n%s", m.name, clock.out.String())
		}
		*m.dst = us(e.Sub(s)) / float64(reps)
	}
	if res.PTWrites < uint64(2*reps) {
		return PTWriteResult{}, fmt.Errorf("bench-ptwr: the hypervisor emulated %d writes, want at least %d", res.PTWrites, 2*reps)
	}
	return res, nil
}

// ResetResult is the cost of starting a schedule from a snapshot.
type ResetResult struct {
	// Restore is a new VM over a copy-on-write mapping of the snapshot's
	// memory, with its vCPUs, registers and frame table; Teardown is its
	// close. Both are means.
	Restore, Teardown time.Duration
}

// Reset restores n domains from snap and closes them again, without
// running them, and times both halves.
func Reset(snap *hv.Snapshot, n int) (ResetResult, error) {
	var r ResetResult
	for range n {
		t0 := time.Now()
		d, err := snap.Restore(hv.Config{Scheduler: sched.Default{}})
		if err != nil {
			return ResetResult{}, err
		}
		t1 := time.Now()
		d.Close()
		r.Restore += t1.Sub(t0)
		r.Teardown += time.Since(t1)
	}
	r.Restore /= time.Duration(n)
	r.Teardown /= time.Duration(n)
	return r, nil
}
