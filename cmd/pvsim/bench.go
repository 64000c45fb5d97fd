package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/pvsim/pvsim/bench"
	"github.com/pvsim/pvsim/explore"
	"github.com/pvsim/pvsim/race"
)

// cmdBench runs the benchmark args[0] names.
func cmdBench(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		writeBenchUsage(stderr)
		return usageError{"bench needs a benchmark name"}
	}
	if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		writeBenchUsage(stdout)
		return nil
	}
	switch args[0] {
	case "hypercall":
		return benchHypercall(args[1:], stdout, stderr)
	case "pin":
		return benchPin(args[1:], stdout, stderr)
	case "ptwr":
		return benchPTWrite(args[1:], stdout, stderr)
	case "reset":
		return benchReset(args[1:], stdout, stderr)
	}
	return usageError{fmt.Sprintf("unknown benchmark %q (try 'pvsim bench -h')", args[0])}
}

// writeBenchUsage lists the benchmarks.
func writeBenchUsage(w io.Writer) {
	fmt.Fprint(w, "Usage: pvsim bench BENCHMARK [flags]\n\nBenchmarks:\n")
	writeCommands(w, "bench ")
	fmt.Fprint(w, "\nRun 'pvsim bench BENCHMARK -h' for a benchmark's flags.\n")
}

// hypercallResult is the JSON of `pvsim bench hypercall --json`.
type hypercallResult struct {
	HypercallUs float64 `json:"hypercall_us"`
	BaselineUs  float64 `json:"baseline_us"`
	Ratio       float64 `json:"ratio"`
	Baseline    string  `json:"baseline"`
	Iters       int     `json:"iters"`
	Rounds      int     `json:"rounds"`
	// Load says the rounds ran beside a CPU-bound process (--load).
	Load bool `json:"load"`
}

func benchHypercall(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench hypercall", stdout)
	iters := fs.Int("iters", 20000, "hypercalls (and baseline exits) per round")
	var rf roundFlags
	rf.register(fs.FlagSet)
	rounds, asJSON := &rf.rounds, &rf.asJSON
	if help, err := parseFlagsOnly(fs, args); help || err != nil {
		return err
	}
	if *iters < 1 || *rounds < 1 {
		return usageError{"--iters and --rounds must be positive"}
	}
	bin, cleanup, err := buildBaseline(rf.src)
	if err != nil {
		return err
	}
	defer cleanup()
	stopLoad, err := rf.startLoad(stderr)
	if err != nil {
		return err
	}
	defer stopLoad()
	var ours, base []float64
	for r := 0; r < *rounds; r++ {
		fmt.Fprintf(stderr, "round %d/%d: baseline...", r+1, *rounds)
		b, err := bench.RunBaseline(bin, *iters)
		if err != nil {
			return err
		}
		fmt.Fprint(stderr, " pvsim...")
		d, err := bench.NullHypercall(*iters)
		if err != nil {
			return err
		}
		us := float64(d) / float64(time.Microsecond)
		fmt.Fprintf(stderr, " %.2f µs vs %.2f µs\n", us, b[bench.ExitMMIOCPL3])
		ours, base = append(ours, us), append(base, b[bench.ExitMMIOCPL3])
	}
	res := hypercallResult{
		HypercallUs: median(ours), BaselineUs: median(base),
		Baseline: bench.ExitMMIOCPL3, Iters: *iters, Rounds: *rounds, Load: rf.load,
	}
	res.Ratio = res.HypercallUs / res.BaselineUs
	if *asJSON {
		return writeJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "null hypercall (xen_version, CPL3 doorbell): %8.2f µs\n", res.HypercallUs)
	fmt.Fprintf(stdout, "baseline %-15s             %8.2f µs\n", res.Baseline+":", res.BaselineUs)
	fmt.Fprintf(stdout, "ratio                                       %8.3f\n", res.Ratio)
	return nil
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

func benchPin(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench pin", stdout)
	reps := fs.Int("reps", 20, "pin+unpin cycles per size")
	maxL1 := fs.Int("max", 64, "largest tree, in L1 tables (sizes double from 1)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if help, err := parseFlagsOnly(fs, args); help || err != nil {
		return err
	}
	if *reps < 1 || *maxL1 < 1 || *maxL1 > 512 {
		return usageError{"--reps must be positive, --max from 1 to 512"}
	}
	fmt.Fprintln(stderr, "pinning and unpinning pagetables of 1 to", *maxL1, "L1 tables...")
	res, err := bench.Pin(*reps, *maxL1)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "one executor write (single-entry mmu_update): %.2f µs\n\n", res.ExecutorWriteUs)
	fmt.Fprintf(stdout, "%9s %7s %14s %13s %18s\n", "L1 tables", "frames", "pin+unpin µs", "µs per frame", "per frame / write")
	for _, s := range res.Sizes {
		fmt.Fprintf(stdout, "%9d %7d %14.1f %13.2f %18.3f\n", s.L1Tables, s.Frames, s.PinUnpinUs, s.PerFrameUs, s.PerFrameRate)
	}
	fmt.Fprintf(stdout, "\nfit: pin+unpin = %.2f µs/frame × frames + %.1f µs (R² = %.4f)\n", res.Fit.SlopeUs, res.Fit.InterceptUs, res.Fit.R2)
	return nil
}

// ptwriteResult is the JSON of `pvsim bench ptwr --json`.
type ptwriteResult struct {
	bench.PTWriteResult
	BaselineUs  float64 `json:"baseline_us"`
	Baseline    string  `json:"baseline"`
	Ratio       float64 `json:"ratio"`        // PinnedUs / BaselineUs
	LiveRatio   float64 `json:"live_ratio"`   // LiveUs / BaselineUs
	BounceRatio float64 `json:"bounce_ratio"` // BounceUs / BaselineUs
	Rounds      int     `json:"rounds"`
	Load        bool    `json:"load"` // beside a CPU-bound process (--load)
}

func benchPTWrite(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench ptwr", stdout)
	reps := fs.Int("reps", 2000, "emulated writes (and bounced faults) per round")
	var rf roundFlags
	rf.register(fs.FlagSet)
	rounds, asJSON := &rf.rounds, &rf.asJSON
	if help, err := parseFlagsOnly(fs, args); help || err != nil {
		return err
	}
	if *reps < 1 || *rounds < 1 {
		return usageError{"--reps and --rounds must be positive"}
	}
	bin, cleanup, err := buildBaseline(rf.src)
	if err != nil {
		return err
	}
	defer cleanup()
	stopLoad, err := rf.startLoad(stderr)
	if err != nil {
		return err
	}
	defer stopLoad()
	var pinned, live, bounce, base []float64
	var last bench.PTWriteResult
	for r := 0; r < *rounds; r++ {
		fmt.Fprintf(stderr, "round %d/%d: baseline...", r+1, *rounds)
		b, err := bench.RunBaseline(bin, *reps*10)
		if err != nil {
			return err
		}
		fmt.Fprint(stderr, " pvsim...")
		res, err := bench.PTWrite(*reps)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, " %.2f µs vs %.2f µs\n", res.PinnedUs, b[bench.PFTrapCPL3])
		pinned, live, bounce = append(pinned, res.PinnedUs), append(live, res.LiveUs), append(bounce, res.BounceUs)
		base = append(base, b[bench.PFTrapCPL3])
		last = res
	}
	res := ptwriteResult{PTWriteResult: last, Baseline: bench.PFTrapCPL3, Rounds: *rounds, BaselineUs: median(base), Load: rf.load}
	res.PinnedUs, res.LiveUs, res.BounceUs = median(pinned), median(live), median(bounce)
	res.Ratio, res.LiveRatio, res.BounceRatio = res.PinnedUs/res.BaselineUs, res.LiveUs/res.BaselineUs, res.BounceUs/res.BaselineUs
	if *asJSON {
		return writeJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "emulated write, pinned L1 not in use:  %8.2f µs  ratio %.3f\n", res.PinnedUs, res.Ratio)
	fmt.Fprintf(stdout, "emulated write, L1 of the running mm:  %8.2f µs  ratio %.3f\n", res.LiveUs, res.LiveRatio)
	fmt.Fprintf(stdout, "#PF bounced to the guest and iret:     %8.2f µs  ratio %.3f\n", res.BounceUs, res.BounceRatio)
	fmt.Fprintf(stdout, "baseline %-15s               %8.2f µs\n", res.Baseline+":", res.BaselineUs)
	return nil
}

// roundFlags are the flags of the benchmarks that alternate rounds of the
// baseline and of pvsim.
type roundFlags struct {
	rounds int
	asJSON bool
	src    string
	load   bool
}

func (f *roundFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.rounds, "rounds", 3, "rounds, alternating baseline and pvsim; medians are reported")
	fs.BoolVar(&f.asJSON, "json", false, "print the result as JSON")
	fs.StringVar(&f.src, "baseline-src", "", "path of kvmexit.c (default: $"+bench.BaselineSourceEnv+", else shared/baseline/kvmexit.c above the working directory)")
	fs.BoolVar(&f.load, "load", false, "run every round, the baseline's and pvsim's, beside one CPU-bound process (a shell's busy loop)")
}

// startLoad starts the CPU-bound neighbour if --load asked for one; stop
// ends it.
func (f *roundFlags) startLoad(stderr io.Writer) (stop func(), err error) {
	if !f.load {
		return func() {}, nil
	}
	n, err := bench.StartNeighbour()
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(stderr, "beside one CPU-bound process (--load)")
	return n.Stop, nil
}

// buildBaseline compiles the baseline program from src (or where
// FindBaselineSource finds it) into a temporary directory.
func buildBaseline(src string) (bin string, cleanup func(), err error) {
	if src == "" {
		if src, err = bench.FindBaselineSource(); err != nil {
			return "", nil, err
		}
	}
	dir, err := os.MkdirTemp("", "pvsim-bench")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	if bin, err = bench.BuildBaseline(src, dir); err != nil {
		cleanup()
		return "", nil, err
	}
	return bin, cleanup, nil
}

// resetResult is the JSON of `pvsim bench reset --json`.
type resetResult struct {
	// ResetUs is RestoreUs+TeardownUs: what starting one schedule from
	// the snapshot costs beyond running it.
	ResetUs    float64 `json:"reset_us"`
	RestoreUs  float64 `json:"restore_us"`
	TeardownUs float64 `json:"teardown_us"`
	VMBootUs   float64 `json:"vm_boot_us"`
	Ratio      float64 `json:"ratio"`
	Target     float64 `json:"target_ratio"`
	// SchedulesPerSecond is the explorer's rate on Search with 1 worker
	// and with Workers.
	Search             string  `json:"search"`
	Schedules          int     `json:"schedules"`
	Workers            int     `json:"workers"`
	SchedulesPerSecond float64 `json:"schedules_per_second"`
	OneWorkerPerSecond float64 `json:"one_worker_schedules_per_second"`
	Resets             int     `json:"resets"`
	Rounds             int     `json:"rounds"`
}

// resetTarget is the ratio to the baseline's VM boot a reset should stay
// under.
const resetTarget = 1.5

func benchReset(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench reset", stdout)
	resets := fs.Int("resets", 200, "resets per round")
	workers := fs.Int("workers", 2, "workers for the schedules-per-second figure")
	strategy := fs.String("strategy", "lock-pte-pages", "strategy whose dfs search (bound 2) gives schedules per second")
	var rf roundFlags
	rf.register(fs.FlagSet)
	if help, err := parseFlagsOnly(fs, args); help || err != nil {
		return err
	}
	if *resets < 1 || rf.rounds < 1 || *workers < 1 {
		return usageError{"--resets, --rounds and --workers must be positive"}
	}
	bin, cleanup, err := buildBaseline(rf.src)
	if err != nil {
		return err
	}
	defer cleanup()
	ctx := context.Background()
	t, err := race.ExploreTarget(ctx, *strategy, nil)
	if err != nil {
		return err
	}
	defer t.Snapshot.Close()
	stopLoad, err := rf.startLoad(stderr)
	if err != nil {
		return err
	}
	defer stopLoad()
	var restore, teardown, boot []float64
	for r := 0; r < rf.rounds; r++ {
		fmt.Fprintf(stderr, "round %d/%d: baseline...", r+1, rf.rounds)
		b, err := bench.RunBaseline(bin, 1000)
		if err != nil {
			return err
		}
		fmt.Fprint(stderr, " resets...")
		rr, err := bench.Reset(t.Snapshot, *resets)
		if err != nil {
			return err
		}
		restore, teardown = append(restore, us(rr.Restore)), append(teardown, us(rr.Teardown))
		boot = append(boot, b[bench.VMBootUs])
		fmt.Fprintf(stderr, " %.0f+%.0f µs vs VM boot %.0f µs\n", us(rr.Restore), us(rr.Teardown), b[bench.VMBootUs])
	}
	res := resetResult{
		RestoreUs: median(restore), TeardownUs: median(teardown), VMBootUs: median(boot), Target: resetTarget,
		Search: "dfs --bound 2 --strategy " + *strategy, Workers: *workers, Resets: *resets, Rounds: rf.rounds,
	}
	res.ResetUs = res.RestoreUs + res.TeardownUs
	res.Ratio = res.ResetUs / res.VMBootUs
	for _, w := range []int{1, *workers} {
		fmt.Fprintf(stderr, "explore %s with %d workers...\n", res.Search, w)
		er, err := explore.Run(ctx, t, explore.Config{Algo: explore.DFS, Bound: 2, Workers: w})
		if err != nil {
			return err
		}
		res.Schedules = er.Schedules
		if w == 1 {
			res.OneWorkerPerSecond = er.PerSecond
		}
		res.SchedulesPerSecond = er.PerSecond
	}
	if rf.asJSON {
		return writeJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "reset (restore %.0f µs + teardown %.0f µs): %8.0f µs\n", res.RestoreUs, res.TeardownUs, res.ResetUs)
	fmt.Fprintf(stdout, "baseline %-29s %8.0f µs\n", bench.VMBootUs+":", res.VMBootUs)
	fmt.Fprintf(stdout, "ratio                                  %8.2f (target <= %.1f)\n", res.Ratio, res.Target)
	fmt.Fprintf(stdout, "%s: %d schedules, %.1f/s with 1 worker, %.1f/s with %d\n",
		res.Search, res.Schedules, res.OneWorkerPerSecond, res.SchedulesPerSecond, res.Workers)
	return nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
