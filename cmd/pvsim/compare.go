package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/pvsim/pvsim/race"
	"github.com/pvsim/pvsim/timeline"
	"github.com/pvsim/pvsim/trace"
)

// timelineMargin is how much of the trace before the first row of the
// interleaving and after the oops goes into race-timeline.json.
const timelineMargin = 2 * time.Millisecond

func cmdCompare(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("compare", stdout)
	var cc race.CompareConfig
	fs.DurationVar(&cc.Duration, "duration", 15*time.Second, "how long to run each strategy")
	fs.Uint64Var(&cc.Trials, "trials", 0, "run each strategy for this many fork+exit pairs instead of --duration")
	fs.IntVar(&cc.VCPUs, "vcpus", race.DefaultVCPUs, "vCPUs: vCPU 0 forks and exits, the others reclaim and write")
	fs.DurationVar(&cc.Window, "window", 0, "delay between the two phases of each pin and unpin, for every strategy (e.g. 50us)")
	registerAudit(fs.FlagSet, &cc.Audit, &cc.AuditInterval)
	asJSON := fs.Bool("json", false, "print the comparison as JSON instead of a table")
	out := fs.String("out", "", "write results.json, the chart (SVG, PNG), race-timeline.json and race.txt to `DIR`")
	if help, err := parseFlagsOnly(fs, args); help || err != nil {
		return err
	}
	if cc.Trials > 0 {
		cc.Duration = 0
	} else if cc.Duration <= 0 {
		return usageError{"--duration must be positive"}
	}
	probe := cc.StrategyConfig(race.Strategies[0])
	if err := probe.Check(); err != nil {
		return usageError{err.Error()}
	}
	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
	}
	done := func() {}
	if isTerminal(stdout) && !*asJSON {
		done = showProgress(&cc, stderr)
	}

	cmp, err := race.Compare(context.Background(), cc)
	done()
	if err != nil {
		return err
	}
	if *asJSON {
		if err := writeJSON(stdout, cmp); err != nil {
			return err
		}
	} else if err := cmp.WriteTable(stdout); err != nil {
		return err
	}
	if *out != "" {
		return writeCompareFiles(*out, cmp, stdout, *asJSON)
	}
	return nil
}

// showProgress draws one bar over the whole comparison, in seconds or
// trials; call what it returns when the comparison is over.
func showProgress(cc *race.CompareConfig, w io.Writer) (done func()) {
	per := int64(cc.Duration.Seconds())
	if cc.Trials > 0 {
		per = int64(cc.Trials)
	}
	bar := progressbar.NewOptions64(per*int64(len(race.Strategies)),
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
	var base int64
	cc.Start = func(i int, s string) {
		base = int64(i) * per
		bar.Describe(fmt.Sprintf("%-18s", s))
		bar.Set64(base)
	}
	cc.Progress = func(p race.Progress) {
		done := int64(p.Elapsed.Seconds())
		if cc.Trials > 0 {
			done = int64(p.Trials)
		}
		bar.Set64(base + min(done, per))
	}
	return func() { bar.Finish() }
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeCompareFiles writes the comparison's files into dir.
func writeCompareFiles(dir string, cmp *race.Comparison, stdout io.Writer, quiet bool) error {
	err := writeFile(filepath.Join(dir, "results.json"), func(w io.Writer) error { return writeJSON(w, cmp) })
	if err != nil {
		return err
	}
	if err := cmp.SaveChart(filepath.Join(dir, "chart")); err != nil {
		return err
	}
	written := []string{"results.json", "chart.svg", "chart.png"}

	files, why, err := writeOopsFiles(dir, cmp)
	if err != nil {
		return err
	}
	if why != "" {
		fmt.Fprintf(stdout, "no race-timeline.json or race.txt: %s\n", why)
	}
	written = append(written, files...)
	if !quiet {
		fmt.Fprintf(stdout, "wrote %v in %s\n", written, dir)
	}
	return nil
}

// writeOopsFiles writes race.txt and race-timeline.json for the first oops
// of strategy none, or says why it could not.
func writeOopsFiles(dir string, cmp *race.Comparison) (files []string, why string, err error) {
	var rec *race.Recording
	for _, e := range cmp.Entries {
		if e.Strategy == "none" {
			rec = e.FirstOops
		}
	}
	if rec == nil {
		return nil, "none did not oops", nil
	}
	in, err := race.Reconstruct(rec)
	if err != nil {
		return nil, err.Error(), nil
	}
	if err := writeFile(filepath.Join(dir, "race.txt"), in.Render); err != nil {
		return nil, "", err
	}
	from, to := in.Rows[0].At-timelineMargin, in.Rows[len(in.Rows)-1].At+timelineMargin
	var window []trace.Event
	for _, e := range rec.Events {
		if e.Start >= from && e.Start <= to {
			window = append(window, e)
		}
	}
	err = writeFile(filepath.Join(dir, "race-timeline.json"), func(w io.Writer) error {
		return timeline.Write(w, trace.Timeline(1, "race strategy=none, first oops", window, rec.Symbols))
	})
	if err != nil {
		return nil, "", err
	}
	return []string{"race.txt", "race-timeline.json"}, "", nil
}

// writeFile writes the file at path with write, whole or not at all: into
// a temporary file beside it, renamed to path once write and the close
// succeeded. On an error no file is left, and an earlier file at path
// stays as it was.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
