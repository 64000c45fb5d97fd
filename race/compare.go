package race

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// Verdict is what a run shows of a strategy: every defect its oracles
// saw, worst first and joined by "; ", or one of VerdictCorrect and
// VerdictInconclusive.
type Verdict string

// The defects' verdicts.
const (
	VerdictAudit      Verdict = "audit violation" // the hypervisor broke its own invariants
	VerdictRaces      Verdict = "races"           // oopses in a pin or unpin window
	VerdictCrashes    Verdict = "crashes"         // BUG, panic or a refused hypercall
	VerdictUseAfter   Verdict = "use-after-free"
	VerdictLosesDirty Verdict = "loses dirty bits"
	VerdictForkNoMem  Verdict = "forks fail for memory"
	VerdictNeverYoung Verdict = "never clears young"
	VerdictHidden     Verdict = "reclaim blocked by hidden mappings"
)

const (
	VerdictCorrect      Verdict = "correct"
	VerdictInconclusive Verdict = "inconclusive" // too few pin windows to say
)

// Defect is one thing a strategy can get wrong: the oracle that sees it,
// the verdict that names it, and how often a run saw it.
type Defect struct {
	// Oracle is its name in `pvsim explore`, and Verdict in a verdict.
	Oracle  string
	Verdict Verdict
	// Count is how often r saw it.
	Count func(r *Result) uint64
	// stat is the kernel's counter of it in race_stats, and what it
	// counts in CheckRun's words; 0 for the defects the hypervisor sees.
	stat int
	what string
}

// Defects are every defect, worst first: the order of a verdict's words.
var Defects = []Defect{
	{Oracle: "audit", Verdict: VerdictAudit, Count: func(r *Result) uint64 { return uint64(r.AuditViolations) }},
	{Oracle: "oops", Verdict: VerdictRaces, Count: func(r *Result) uint64 { return uint64(r.Oopses) }},
	{Oracle: "crash", Verdict: VerdictCrashes, Count: func(r *Result) uint64 { return uint64(r.Crashes) }},
	{Oracle: "use_after_free", Verdict: VerdictUseAfter, Count: func(r *Result) uint64 { return r.UseAfterFree },
		stat: statUseAfterFree, what: "freed pages still mapped"},
	{Oracle: "lost_dirty", Verdict: VerdictLosesDirty, Count: func(r *Result) uint64 { return r.LostDirty },
		stat: statLostDirty, what: "Dirty bits lost"},
	{Oracle: "fork_nomem", Verdict: VerdictForkNoMem, Count: func(r *Result) uint64 { return r.ForkNoMem },
		stat: statForkNoMem, what: "forks that failed for memory"},
	{Oracle: "ineffective_young", Verdict: VerdictNeverYoung, Count: func(r *Result) uint64 { return r.IneffectiveYoung },
		stat: statIneffectiveYoung, what: "young clears that left the pte young"},
	{Oracle: "reclaim_hidden", Verdict: VerdictHidden, Count: func(r *Result) uint64 { return r.ReclaimHidden },
		stat: statReclaimHidden, what: "pages reclaim could not free for a mapping hidden from the reverse map"},
}

// minWindows is how many pin windows a run needs before "correct" means
// anything.
const minWindows = 100

// Judge gives the verdict of r: every defect a run saw, worst first, from
// what was measured.
func Judge(r *Result) Verdict {
	var words []string
	for _, d := range Defects {
		if d.Count(r) > 0 {
			words = append(words, string(d.Verdict))
		}
	}
	switch {
	case len(words) > 0:
		return Verdict(strings.Join(words, "; "))
	case r.PinWindows < minWindows:
		return VerdictInconclusive
	}
	return VerdictCorrect
}

// Has reports whether v names defect d.
func (v Verdict) Has(d Verdict) bool {
	for _, x := range strings.Split(string(v), "; ") {
		if Verdict(x) == d {
			return true
		}
	}
	return false
}

// Entry is one strategy of a comparison.
type Entry struct {
	*Result
	Verdict Verdict `json:"verdict"`
	// YoungClearRatio is YoungClearUs over that of the cheapest correct
	// strategy of the same comparison (0 when none is correct).
	YoungClearRatio float64 `json:"young_clear_ratio"`
}

// Comparison is every strategy, measured in one process.
type Comparison struct {
	DurationS float64 `json:"duration_per_strategy_s,omitempty"`
	Trials    uint64  `json:"trials_per_strategy,omitempty"`
	VCPUs     int     `json:"vcpus"`
	// Cheapest is the correct strategy with the cheapest young clear.
	Cheapest string  `json:"cheapest_correct"`
	Entries  []Entry `json:"strategies"`
}

// CompareConfig is a comparison: the settings every run shares.
type CompareConfig struct {
	Duration time.Duration // per strategy
	// Trials, if set, runs each strategy for that many fork+exit pairs
	// instead of Duration.
	Trials uint64
	VCPUs  int
	// Window widens every pin and unpin of every strategy (Config.Window).
	Window time.Duration
	Audit  bool
	// AuditInterval as in Config.
	AuditInterval time.Duration
	// Start, if set, is called before each strategy's run, and Progress
	// during it.
	Start    func(i int, strategy string)
	Progress func(Progress)
}

// StrategyConfig is how a comparison runs strategy s: each where its
// verdict shows, so pin-before-visible short of memory as it forks (Hugh
// Dickins' objection to it); none with trace marks, for the interleaving
// of its first oops.
func (c *CompareConfig) StrategyConfig(s string) Config {
	return Config{
		Strategy: s, VCPUs: c.VCPUs, Duration: c.Duration, Trials: c.Trials, Window: c.Window,
		LowMem: s == "pin-before-visible",
		Marks:  s == "none", KeepOops: s == "none",
		Audit: c.Audit, AuditInterval: c.AuditInterval, Progress: c.Progress,
	}
}

// Compare runs every strategy in turn.
func Compare(ctx context.Context, cc CompareConfig) (*Comparison, error) {
	cmp := &Comparison{DurationS: cc.Duration.Seconds(), Trials: cc.Trials, VCPUs: cc.VCPUs}
	for i, s := range Strategies {
		if cc.Start != nil {
			cc.Start(i, s)
		}
		res, err := Run(ctx, cc.StrategyConfig(s))
		if err != nil {
			return cmp, fmt.Errorf("strategy %s: %w", s, err)
		}
		cmp.VCPUs = res.VCPUs
		cmp.Entries = append(cmp.Entries, Entry{Result: res, Verdict: Judge(res)})
	}
	cmp.rank()
	return cmp, nil
}

// PerStrategy says how long each strategy ran: "15s" or "300 trials".
func (c *Comparison) PerStrategy() string {
	if c.Trials > 0 {
		return fmt.Sprintf("%d trials", c.Trials)
	}
	return fmt.Sprintf("%.0fs", c.DurationS)
}

// rank finds the cheapest correct strategy and the cost ratios to it.
func (c *Comparison) rank() {
	best := math.Inf(1)
	for _, e := range c.Entries {
		if e.Verdict == VerdictCorrect && e.YoungClearUs > 0 && e.YoungClearUs < best {
			best, c.Cheapest = e.YoungClearUs, e.Strategy
		}
	}
	for i := range c.Entries {
		if c.Cheapest != "" {
			c.Entries[i].YoungClearRatio = c.Entries[i].YoungClearUs / best
		}
	}
}

// WriteTable prints the comparison as a table.
func (c *Comparison) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "strategy\tverdict\toopses\tlost dirty\tineffective young\tuse after free\treclaim hidden\tforks failed\taudit\tpin windows\tyoung clear µs\t× cheapest\tfork+exit µs\texits/young clear")
	for _, e := range c.Entries {
		ratio := "-"
		if e.YoungClearRatio > 0 {
			ratio = fmt.Sprintf("%.2f", e.YoungClearRatio)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.1f\t%s\t%.0f\t%.2f\n",
			e.Strategy, e.Verdict, e.Oopses, e.LostDirty, e.IneffectiveYoung, e.UseAfterFree,
			e.ReclaimHidden, e.ForkNoMem, e.AuditViolations, e.PinWindows, e.YoungClearUs, ratio, e.ForkExitUs, e.ExitsPerYoung)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	note := fmt.Sprintf("%s per strategy, %d vCPUs; pin-before-visible short of memory at fork (lowmem); none with trace marks", c.PerStrategy(), c.VCPUs)
	if c.Cheapest != "" {
		note += "; × cheapest: young clear cost over " + c.Cheapest + "'s"
	}
	_, err := fmt.Fprintln(w, note)
	return err
}
