package scenario

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pvsim/pvsim/explore"
	"github.com/pvsim/pvsim/guest"
	"github.com/pvsim/pvsim/hv"
)

// Row is one row of the survey: a scenario kernel and the arguments it
// runs with.
type Row struct {
	Kernel string   `json:"kernel"`
	Args   []string `json:"args"`
}

// Catalogue is every scenario kernel pvsim knows with the arguments of
// each of its rows in the survey: the broken variants and their fixes.
var Catalogue = []Row{
	{"hugetlb-truncate", []string{"variant=kravetz"}},
	{"hugetlb-truncate", []string{"variant=no-recheck"}},
	{"hugetlb-truncate", []string{"variant=no-ptl"}},
	{"hugetlb-truncate", []string{"variant=punch"}},
	{"hugetlb-truncate", []string{"variant=punch-no-mutex"}},
	{"dax-pmd-pte", []string{"variant=4.11", "race=1"}},
	{"dax-pmd-pte", []string{"variant=4.11", "race=2"}},
	{"dax-pmd-pte", []string{"variant=fixed", "race=1"}},
	{"dax-pmd-pte", []string{"variant=fixed", "race=2"}},
	{"dax-write-fault", []string{"variant=4.11"}},
	{"dax-write-fault", []string{"variant=entry-lock"}},
	{"dax-write-fault", []string{"variant=entry-lock", "cached=0"}},
	{"dax-write-fault", []string{"variant=unmap-range"}},
	{"dax-write-fault", []string{"variant=fixed"}},
	{"dax-write-fault", []string{"variant=fixed", "cached=0"}},
	{"dax-unmap-range", []string{"variant=dax-no-lock"}},
	{"dax-unmap-range", []string{"variant=lock"}},
}

// Names lists the kernels of the Catalogue, each once, in its order.
func Names() []string {
	var names []string
	for _, r := range Catalogue {
		if !slices.Contains(names, r.Kernel) {
			names = append(names, r.Kernel)
		}
	}
	return names
}

// Select returns the Catalogue's rows of the named kernels (of every
// kernel when names is empty) as the kernels to survey, each on
// DefaultVCPUs, and skipped, the named kernels this build does not embed,
// whose rows are left out. A name the Catalogue does not have is an
// error.
func Select(names []string) (ks []Kernel, skipped []string, err error) {
	known := Names()
	for _, n := range names {
		if !slices.Contains(known, n) {
			return nil, nil, fmt.Errorf("unknown scenario %q: the scenarios are %s", n, strings.Join(known, ", "))
		}
	}
	for _, r := range Catalogue {
		if len(names) > 0 && !slices.Contains(names, r.Kernel) {
			continue
		}
		g, ok := guest.Lookup(r.Kernel)
		if !ok {
			if !slices.Contains(skipped, r.Kernel) {
				skipped = append(skipped, r.Kernel)
			}
			continue
		}
		ks = append(ks, Kernel{Name: r.Kernel, Image: g.ELF, Args: slices.Clone(r.Args), VCPUs: DefaultVCPUs})
	}
	return ks, skipped, nil
}

// SurveyConfig is a survey of scenario kernels.
type SurveyConfig struct {
	// Bound is DFS's preemption bound, Workers the VMs each search runs
	// schedules in at once.
	Bound, Workers int
	// PCTSeeds is how many PCT searches (seeds 1 to PCTSeeds) look for
	// each oracle found, of at most PCTBudget schedules each.
	PCTSeeds, PCTBudget int
	// Stress is how long each row boots its kernel again and again on
	// its vCPUs without the deterministic scheduler; zero runs none.
	Stress time.Duration
	// Start, if set, is called as each row's survey begins, with the
	// row's kernel and arguments.
	Start func(row string)
}

// Finding is what the survey found of one oracle of one row, or, for a
// row where nothing fired, the bound DFS exhausted.
type Finding struct {
	Kernel string   `json:"kernel"`
	Args   []string `json:"args"`
	// Oracle is what fired: one of the kernel's oracles, or a failure
	// (crash, hang, fault, audit, shutdown, no_progress, or error for a
	// stress run pvsim could not judge). It is empty when neither DFS
	// within Bound nor the stress runs saw anything.
	Oracle string `json:"oracle,omitempty"`
	// Failure is set when Oracle is a failure rather than one of the
	// kernel's oracles; Detail says what the first such run saw.
	Failure bool   `json:"failure,omitempty"`
	Detail  string `json:"detail,omitempty"`

	// DFS is set when DFS found the oracle within Bound: MinBound is the
	// fewest preemptions of a schedule that shows it, Schedule the first
	// such schedule found, and FoundAt how many schedules DFS had run
	// when it first found the oracle.
	DFS      bool   `json:"dfs"`
	MinBound int    `json:"min_bound"`
	FoundAt  int    `json:"found_at,omitempty"`
	Schedule string `json:"schedule,omitempty"`
	// Bound is DFS's preemption bound, and Schedules how many schedules
	// it ran (all of them: Exhausted).
	Bound     int  `json:"bound"`
	Schedules int  `json:"schedules"`
	Exhausted bool `json:"exhausted"`

	// PCTHits is how many of PCTSeeds PCT searches, of at most PCTBudget
	// schedules each and asked for this oracle alone, found it.
	PCTHits   int `json:"pct_hits"`
	PCTSeeds  int `json:"pct_seeds"`
	PCTBudget int `json:"pct_budget"`

	// StressRuns is how many times the kernel was booted and run to its
	// end without the deterministic scheduler, in StressSeconds, and
	// StressHits in how many of those runs the oracle fired.
	StressRuns    int     `json:"stress_runs"`
	StressHits    int     `json:"stress_hits"`
	StressSeconds float64 `json:"stress_seconds"`
}

// Label is the finding's kernel and arguments, as the survey names its row.
func (f Finding) Label() string { return strings.TrimSpace(f.Kernel + " " + strings.Join(f.Args, " ")) }

// Survey surveys each kernel: stress runs for cfg.Stress, DFS over every
// schedule within cfg.Bound (all of them, not stopping at a violation),
// which gives each oracle's smallest bound, and then for each oracle that
// fired, PCT with each seed from 1 to cfg.PCTSeeds, asked for that oracle
// alone. On an error it returns the findings of the rows before.
func Survey(ctx context.Context, cfg SurveyConfig, ks []Kernel) ([]Finding, error) {
	var out []Finding
	for _, k := range ks {
		row := strings.TrimSpace(k.Name + " " + k.CmdLine())
		if cfg.Start != nil {
			cfg.Start(row)
		}
		f, err := surveyKernel(ctx, cfg, k)
		if err != nil {
			return out, fmt.Errorf("%s: %w", row, err)
		}
		out = append(out, f...)
	}
	return out, nil
}

// surveyKernel surveys one row.
func surveyKernel(ctx context.Context, cfg SurveyConfig, k Kernel) ([]Finding, error) {
	if k.VCPUs == 0 {
		k.VCPUs = DefaultVCPUs
	}
	counters, err := Oracles(k.Image)
	if err != nil {
		return nil, fmt.Errorf("%s follows no scenario protocol: %w", k.Name, err)
	}
	st, err := stress(ctx, k, cfg.Stress, counters)
	if err != nil {
		return nil, err
	}
	t, err := Target(ctx, k, nil)
	if err != nil {
		return nil, err
	}
	defer t.Snapshot.Close()
	r, err := explore.Run(ctx, t, explore.Config{Algo: explore.DFS, Bound: cfg.Bound, Workers: cfg.Workers, All: true})
	if err != nil {
		return nil, fmt.Errorf("dfs to bound %d: %w", cfg.Bound, err)
	}
	found := findings(k, counters, r, st)
	if found[0].Oracle == "" {
		return found, nil
	}
	for i := range found {
		f := &found[i]
		if f.Oracle == stressError {
			continue // pvsim's own failure: no schedule shows it
		}
		f.PCTSeeds, f.PCTBudget = cfg.PCTSeeds, cfg.PCTBudget
		pt := t
		pt.Check = OnlyOracle(t.Check, f.Oracle, counters)
		for seed := 1; seed <= cfg.PCTSeeds; seed++ {
			pr, err := explore.Run(ctx, pt, explore.Config{Algo: explore.PCT, Seed: uint64(seed), Budget: cfg.PCTBudget, Workers: cfg.Workers})
			if err != nil {
				return nil, fmt.Errorf("pct seed %d for %s: %w", seed, f.Oracle, err)
			}
			if slices.ContainsFunc(pr.Violations, func(v explore.Violation) bool { return v.Oracle == f.Oracle }) {
				f.PCTHits++
			}
		}
	}
	return found, nil
}

// stressError is the failure of a stress run pvsim could not judge: an
// error of its own, or a kernel that powered off without its oracles.
const stressError = "error"

// stressResult is what the stress runs of one row saw.
type stressResult struct {
	runs    int
	seconds float64
	// hits counts the runs in which each oracle fired, or that ended in
	// each failure; first is the first such run's detail.
	hits  map[string]int
	first map[string]string
}

// stress boots k again and again on its vCPUs, without the deterministic
// scheduler, for d (at least once when d is positive), and judges each
// run as an explored one is judged (CheckRun). A run pvsim could not
// judge counts as "error"; a panic in pvsim ends the survey.
func stress(ctx context.Context, k Kernel, d time.Duration, counters []string) (stressResult, error) {
	st := stressResult{hits: map[string]int{}, first: map[string]string{}}
	if d <= 0 {
		return st, nil
	}
	start := time.Now()
	for st.runs == 0 || time.Since(start) < d {
		dom, err := hv.New(hv.Config{Name: k.Name, Kernel: k.Image, VCPUs: k.VCPUs, CmdLine: k.CmdLine(), Timeout: Timeout, Audit: true})
		if err != nil {
			return st, fmt.Errorf("stress run %d: %w", st.runs+1, err)
		}
		res, runErr := dom.Run(ctx)
		var pe *hv.PanicError
		switch {
		case ctx.Err() != nil:
			dom.Close()
			return st, ctx.Err()
		case errors.As(runErr, &pe):
			dom.Close()
			return st, fmt.Errorf("stress run %d: %w", st.runs+1, runErr)
		}
		v, err := CheckRun(dom, res, runErr)
		dom.Close()
		st.runs++
		var fired []string
		var detail string
		switch {
		case err != nil:
			fired, detail = []string{stressError}, err.Error()
		case v != nil:
			fired, detail = firedIn(v, counters), v.Detail
		}
		for _, o := range fired {
			st.hits[o]++
			if _, ok := st.first[o]; !ok {
				st.first[o] = detail
			}
		}
	}
	st.seconds = time.Since(start).Seconds()
	return st, nil
}

// firedIn lists the oracles that fired in v's run: its first, and the
// counters its detail names as CheckRun does ("; also NAME: N").
func firedIn(v *explore.Violation, counters []string) []string {
	fired := []string{v.Oracle}
	for _, c := range counters {
		if c != v.Oracle && strings.Contains(v.Detail, "; also "+c+": ") {
			fired = append(fired, c)
		}
	}
	return fired
}

// findings sums up a row: each oracle that DFS (which ran to its end,
// All) or the stress runs saw fire, the kernel's oracles in declaration
// order and then the failures, DFS's first; or one finding without an
// oracle when nothing fired.
func findings(k Kernel, counters []string, r *explore.Result, st stressResult) []Finding {
	var order []string
	byOracle := map[string]*Finding{}
	add := func(o string) *Finding {
		f := byOracle[o]
		if f == nil {
			f = &Finding{Oracle: o, Failure: !slices.Contains(counters, o)}
			byOracle[o] = f
			order = append(order, o)
		}
		return f
	}
	for _, v := range r.Violations {
		for _, o := range firedIn(&v, counters) {
			f := add(o)
			switch {
			case !f.DFS:
				f.DFS, f.MinBound, f.Schedule, f.FoundAt = true, v.Preemptions, v.Schedule, v.FoundAt
				if f.Failure {
					f.Detail = v.Detail
				}
			case v.Preemptions < f.MinBound:
				f.MinBound, f.Schedule = v.Preemptions, v.Schedule
			}
			// With several workers, violations are listed as they
			// finish, not quite in the order their schedules began.
			f.FoundAt = min(f.FoundAt, v.FoundAt)
		}
	}
	var stressOnly []string
	for o := range st.hits {
		if byOracle[o] == nil {
			stressOnly = append(stressOnly, o)
		}
	}
	sort.Strings(stressOnly)
	for _, o := range stressOnly {
		f := add(o)
		if f.Failure {
			f.Detail = st.first[o]
		}
	}
	rank := func(o string) int {
		if i := slices.Index(counters, o); i >= 0 {
			return i
		}
		return len(counters)
	}
	sort.SliceStable(order, func(i, j int) bool { return rank(order[i]) < rank(order[j]) })
	var found []Finding
	for _, o := range order {
		found = append(found, *byOracle[o])
	}
	if len(found) == 0 {
		found = []Finding{{}}
	}
	for i := range found {
		f := &found[i]
		f.Kernel, f.Args = k.Name, slices.Clone(k.Args)
		f.Bound, f.Schedules, f.Exhausted = r.Bound, r.Schedules, r.Exhausted
		f.StressRuns, f.StressSeconds, f.StressHits = st.runs, st.seconds, st.hits[f.Oracle]
	}
	return found
}

// WriteTable prints the findings as a table, one line a finding, and
// below it what each failure saw.
func WriteTable(w io.Writer, fs []Finding) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tvariant/args\tviolation\tstress\tmin bound\tfound after\tPCT hits\tschedule")
	for _, f := range fs {
		args := strings.Join(f.Args, " ")
		if args == "" {
			args = "-"
		}
		oracle := f.Oracle
		if oracle == "" {
			oracle = "none"
		}
		stress := "-"
		if f.StressRuns > 0 {
			stress = fmt.Sprintf("%d/%d", f.StressHits, f.StressRuns)
		}
		bound, after, schedule := "-", "-", dfsCovered(f)
		if f.DFS {
			bound, schedule = fmt.Sprint(f.MinBound), f.Schedule
			after = fmt.Sprintf("%d schedules", f.FoundAt)
			if f.FoundAt == 1 {
				after = "1 schedule"
			}
		}
		pct := "-"
		if f.Oracle != "" && f.PCTSeeds > 0 {
			pct = fmt.Sprintf("%d/%d", f.PCTHits, f.PCTSeeds)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Kernel, args, oracle, stress, bound, after, pct, schedule)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var notes strings.Builder
	for _, f := range fs {
		if f.Failure && f.Detail != "" {
			detail, _, _ := strings.Cut(strings.TrimSpace(f.Detail), "\n")
			fmt.Fprintf(&notes, "%s: %s: %s\n", f.Label(), f.Oracle, detail)
		}
	}
	if notes.Len() == 0 {
		return nil
	}
	_, err := fmt.Fprintf(w, "\n%s", notes.String())
	return err
}

// dfsCovered says what DFS covered, for a finding it did not find:
// "bound N exhausted: S schedules" when nothing fired, "none within bound
// N: S schedules" for what only the stress runs saw, or that the bound
// was not exhausted.
func dfsCovered(f Finding) string {
	switch {
	case !f.Exhausted:
		return fmt.Sprintf("bound %d not exhausted: %d schedules", f.Bound, f.Schedules)
	case f.Oracle == "":
		return fmt.Sprintf("bound %d exhausted: %d schedules", f.Bound, f.Schedules)
	}
	return fmt.Sprintf("none within bound %d: %d schedules", f.Bound, f.Schedules)
}
