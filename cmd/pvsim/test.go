package main

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/pvsim/pvsim/builder"
	"github.com/pvsim/pvsim/guest"
	"github.com/pvsim/pvsim/hv"
	"github.com/pvsim/pvsim/junit"
	"github.com/pvsim/pvsim/xen"
	"github.com/pvsim/pvsim/xtf"
)

// verdict is how one kernel of 'pvsim test' did: XTF's result words,
// CRASH, and PASS and FAIL for kernels that do not speak XTF's protocol.
type verdict string

const (
	verdictSuccess verdict = verdict(xtf.Success)
	verdictSkip    verdict = verdict(xtf.Skip)
	verdictError   verdict = verdict(xtf.Error)
	verdictFailure verdict = verdict(xtf.Failure)
	// verdictCrash: the kernel crashed, faulted, timed out or hit a pvsim
	// error, or an XTF kernel powered off without a result.
	verdictCrash verdict = "CRASH"
	// verdictPass and verdictFail: a kernel that is not XTF's powered
	// off, or shut down for another reason than a crash.
	verdictPass verdict = "PASS"
	verdictFail verdict = "FAIL"
)

// verdicts are the verdicts in the order the summary counts them.
var verdicts = []verdict{verdictSuccess, verdictPass, verdictSkip, verdictFailure, verdictFail, verdictError, verdictCrash}

// passed says whether v lets 'pvsim test' exit 0.
func (v verdict) passed() bool {
	return v == verdictSuccess || v == verdictSkip || v == verdictPass
}

const (
	// consoleTail is how much of each kernel's console output 'pvsim
	// test' keeps, for XTF's result line and for --junit: the last 64 KiB.
	consoleTail = 64 << 10
	// reasonWidth bounds a reason from the console in the table.
	reasonWidth = 80
	// defaultTestJobs bounds -j's default, each domain having its vCPU
	// threads.
	defaultTestJobs = 4
)

type testFlags struct {
	jobs    int
	timeout time.Duration
	junit   string
	asJSON  bool
	vcpus   int
	mem     sizeFlag
	audit   bool
}

func (f *testFlags) register(fs *flag.FlagSet) {
	f.mem = hv.DefaultMemory
	fs.IntVar(&f.jobs, "j", 0, fmt.Sprintf("run up to `N` domains at once (0: as many as the host has CPUs, at most %d)", defaultTestJobs))
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "a kernel that has not shut down after this long is a CRASH (0: no limit)")
	fs.IntVar(&f.vcpus, "vcpus", 1, fmt.Sprintf("number of vCPUs (1-%d) of a kernel whose configuration file does not set vcpus=", hv.MaxVCPUs))
	fs.Var(&f.mem, "mem", "memory of a kernel whose configuration file does not set memory=, a multiple of 2M")
	fs.BoolVar(&f.audit, "audit", false, "re-check the pagetable invariants after every MMU hypercall; a violation is a CRASH")
	fs.StringVar(&f.junit, "junit", "", "also write the results to `FILE` as JUnit XML")
	fs.BoolVar(&f.asJSON, "json", false, "print the results as a JSON array, one object per kernel, instead of the table")
}

// testSpec is one kernel to test, resolved from its command-line
// argument.
type testSpec struct {
	// arg is the argument, name what the table calls the test: the
	// configuration file's name=, or arg.
	arg, name string
	// config is the path of its configuration file, if it has one.
	config string
	// cfg is the domain to build, without its console.
	cfg hv.Config
	// xtf: its Xen guest-OS note says it is an XTF test.
	xtf bool
}

// testResult is how one kernel did.
type testResult struct {
	verdict verdict
	// detail is the XTF reason or pvsim's error, for the table.
	detail string
	// xtf: the kernel is an XTF test, by its note or its output.
	xtf     bool
	elapsed time.Duration
	// console is the last consoleTail bytes of its output; dropped
	// counts the bytes before them.
	console []byte
	dropped int64
	// err is pvsim's error for the run, as 'pvsim run' would report it;
	// reason and status are as 'pvsim run --json' gives them.
	err    error
	reason string
	status int
	// stack is the stack of an internal error (a panic in pvsim).
	stack []byte
}

func cmdTest(args []string, stdout, stderr io.Writer) (int, error) {
	fs := newFlagSet("test", stdout)
	var f testFlags
	f.register(fs.FlagSet)
	pos, rest, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK, nil
	}
	if err != nil {
		return 0, err
	}
	switch {
	case len(pos) == 0:
		return 0, usageError{"test takes one or more KERNELs (embedded names, ELF paths or .cfg paths); see 'pvsim test -h'"}
	case len(rest) != 0:
		return 0, usageError{"test takes no guest command line after \"--\"; a kernel's configuration file gives it one (cmdline= or extra=)"}
	case f.jobs < 0:
		return 0, usageError{fmt.Sprintf("-j %d: want a number of domains, or 0", f.jobs)}
	case f.timeout < 0:
		return 0, usageError{"--timeout cannot be negative"}
	}
	check := hv.Config{VCPUs: f.vcpus, Memory: uint64(f.mem)}
	if err := check.Check(); err != nil {
		return 0, usageError{err.Error()}
	}
	if f.jobs == 0 {
		f.jobs = min(runtime.NumCPU(), defaultTestJobs)
	}
	specs := make([]*testSpec, len(pos))
	for i, arg := range pos {
		if specs[i], err = resolveTest(arg, &f); err != nil {
			return 0, err
		}
	}

	start := time.Now()
	results := runTests(specs, f.jobs, stderr)
	wall := time.Since(start)

	status := exitOK
	for i, r := range results {
		if !r.verdict.passed() && status == exitOK {
			status = exitError
		}
		if r.stack != nil {
			fmt.Fprintf(stderr, "pvsim: %s: %v\n\n%s", specs[i].name, r.err, r.stack)
			status = exitInternal
		}
	}
	if f.asJSON {
		err = writeJSON(stdout, testsJSON(specs, results))
	} else {
		err = writeTestTable(stdout, specs, results, wall)
	}
	if err != nil {
		return 0, err
	}
	if f.junit != "" {
		suite := junit.NewSuite("pvsim", start, wall, junitCases(specs, results))
		err := writeFile(f.junit, func(w io.Writer) error { return junit.Write(w, suite) })
		if err != nil {
			return 0, fmt.Errorf("--junit %s: %v", f.junit, err)
		}
	}
	return status, nil
}

// resolveTest finds the kernel arg names, and its configuration file:
// arg itself when it ends in .cfg, else arg.cfg beside an ELF file.
func resolveTest(arg string, f *testFlags) (*testSpec, error) {
	s := &testSpec{arg: arg, name: arg}
	s.cfg = hv.Config{VCPUs: f.vcpus, Memory: uint64(f.mem), Timeout: f.timeout, Audit: f.audit}
	var c xtf.Config
	if strings.HasSuffix(arg, ".cfg") {
		s.config = arg
	} else {
		name, image, err := kernelImage(arg)
		if err != nil {
			return nil, err
		}
		s.cfg.Name, s.cfg.Kernel = name, image
		if _, embedded := guest.Lookup(arg); !embedded {
			if _, err := os.Stat(arg + ".cfg"); err == nil {
				s.config = arg + ".cfg"
			}
		}
	}
	if s.config != "" {
		b, err := os.ReadFile(s.config)
		if err != nil {
			return nil, fmt.Errorf("configuration %v", err)
		}
		if c, err = xtf.ParseConfig(s.config, b); err != nil {
			return nil, err
		}
		if c.Type != "" && c.Type != "pv" {
			return nil, fmt.Errorf("%s: type=%q: pvsim runs PV guests only", s.config, c.Type)
		}
		if s.cfg.Kernel == nil {
			if s.cfg.Name, s.cfg.Kernel, err = configKernel(s.config, c.Kernel); err != nil {
				return nil, err
			}
		}
		if c.Name != "" {
			s.name = c.Name
		}
		if c.VCPUs != 0 {
			s.cfg.VCPUs = c.VCPUs
		}
		if c.Memory != 0 {
			s.cfg.Memory = uint64(c.Memory) << 20
		}
		s.cfg.CmdLine = c.CommandLine()
		if err := s.cfg.Check(); err != nil {
			return nil, fmt.Errorf("%s: %v", s.config, err)
		}
	}
	s.xtf = guestOS(s.cfg.Kernel) == "XTF"
	return s, nil
}

// configKernel reads the kernel a configuration file's kernel= names: an
// embedded kernel's name, or a path, relative to the file's directory.
// An absolute path is looked for beside the file first, where XTF builds
// its images (its configuration files name them by the absolute path of
// the tree they were built in, which may have moved since).
func configKernel(config, kernel string) (string, []byte, error) {
	if kernel == "" {
		return "", nil, fmt.Errorf("%s: no kernel= to run", config)
	}
	if k, ok := guest.Lookup(kernel); ok && !strings.Contains(kernel, "/") {
		return k.Name, k.ELF, nil
	}
	dir := filepath.Dir(config)
	path := kernel
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	} else if beside := filepath.Join(dir, filepath.Base(path)); beside != config {
		if fi, err := os.Stat(beside); err == nil && fi.Mode().IsRegular() {
			path = beside
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", nil, fmt.Errorf("%s: kernel=%q: %v", config, kernel, err)
	}
	return path, b, nil
}

// guestOS is the kernel's XEN_ELFNOTE_GUEST_OS, "" when it has none or
// is no ELF file (the domain builder then says what is wrong with it).
func guestOS(image []byte) string {
	f, err := elf.NewFile(bytes.NewReader(image))
	if err != nil {
		return ""
	}
	defer f.Close()
	n, err := builder.ParseXenNotes(f)
	if err != nil {
		return ""
	}
	return n.GuestOS
}

// runTests runs the specs, up to jobs at once, and says on stderr how
// each did as it finishes. The results are in the specs' order.
func runTests(specs []*testSpec, jobs int, stderr io.Writer) []testResult {
	results := make([]testResult, len(specs))
	next := make(chan int)
	var mu sync.Mutex
	done := 0
	var wg sync.WaitGroup
	for range min(jobs, len(specs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := runTest(specs[i])
				results[i] = r
				mu.Lock()
				done++
				fmt.Fprintf(stderr, "[%d/%d] %-7s %s (%.2fs)\n", done, len(specs), r.verdict, specs[i].name, r.elapsed.Seconds())
				mu.Unlock()
			}
		}()
	}
	for i := range specs {
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}

// testPanic is a panic in pvsim while it built or ran a test's domain
// outside the vCPU threads, which catch their own (hv.PanicError).
type testPanic struct{ value any }

func (e testPanic) Error() string {
	return fmt.Sprintf("internal error in pvsim (a bug, please report it): panic: %v", e.value)
}

// runTest builds s's domain, runs it, and judges how it ended.
func runTest(s *testSpec) (r testResult) {
	start := time.Now()
	out := &tailBuffer{limit: consoleTail}
	var d *hv.Domain
	defer func() {
		if p := recover(); p != nil {
			err := testPanic{p}
			r = testResult{verdict: verdictCrash, detail: err.Error(), err: err, reason: "error", status: exitInternal, stack: debug.Stack()}
			r.elapsed = time.Since(start)
			r.console, r.dropped = out.tail()
		}
		if d != nil {
			d.Close()
		}
	}()
	cfg := s.cfg
	cfg.Console = out
	var res hv.Result
	d, runErr := hv.New(cfg)
	if runErr == nil {
		res, runErr = d.Run(context.Background())
	}
	r.elapsed = time.Since(start)
	r.console, r.dropped = out.tail()
	text := r.console
	if r.dropped > 0 {
		// The first line is cut.
		if i := bytes.IndexByte(text, '\n'); i >= 0 {
			text = text[i+1:]
		}
	}
	judge(&r, s.xtf, xtf.ParseConsole(text), res, runErr)
	return r
}

// judge gives r its verdict from how the domain ended (res, runErr) and
// what its console said (rep); isXTF is what the kernel's note says.
func judge(r *testResult, isXTF bool, rep xtf.Report, res hv.Result, runErr error) {
	r.err = runOutcome(res, runErr)
	r.status = exitStatus(r.err)
	r.reason = newRunJSON("", res, runErr, r.status, r.err, "").Reason
	var pe *hv.PanicError
	if errors.As(runErr, &pe) {
		r.stack = pe.Stack
	}
	r.xtf = isXTF || rep.Framework || rep.Result != ""
	switch {
	case r.xtf && r.err == nil && rep.Result != "":
		r.verdict, r.detail = verdict(rep.Result), rep.Reason
		if rep.Warnings {
			r.detail = strings.TrimSuffix("with warnings: "+rep.Reason, ": ")
		}
		r.detail = truncate(r.detail, reasonWidth)
	case r.xtf && r.err == nil:
		r.verdict, r.detail = verdictCrash, `powered off without a "Test result:" line`
	case r.xtf:
		r.verdict, r.detail = verdictCrash, r.err.Error()
		if rep.Panic != "" {
			r.detail += "; " + truncate("PANIC: "+rep.Panic, reasonWidth)
		}
	case r.err == nil:
		r.verdict = verdictPass
	case runErr == nil && res.Reason != xen.ShutdownCrash:
		r.verdict, r.detail = verdictFail, r.err.Error()
	default:
		// A crash, a fault, a timeout or a pvsim error.
		r.verdict, r.detail = verdictCrash, r.err.Error()
	}
	r.detail = oneLine(r.detail)
}

// oneLine makes s fit a table cell: control characters, invalid UTF-8
// included, become '?'.
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, "?")
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == utf8.RuneError {
			return '?'
		}
		return r
	}, strings.TrimSpace(s))
}

// truncate cuts s to n runes, ending it with "..." when it does.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-3]) + "..."
}

// trailingBlanks are the padding tabwriter leaves at the end of a row
// with no detail.
var trailingBlanks = regexp.MustCompile(`(?m) +$`)

// writeTestTable prints the results, in the order given, and a summary.
func writeTestTable(w io.Writer, specs []*testSpec, results []testResult, wall time.Duration) error {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "name\tverdict\tseconds\tdetail\n")
	for i, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%s\n", oneLine(specs[i].name), r.verdict, r.elapsed.Seconds(), r.detail)
	}
	tw.Flush()
	table := trailingBlanks.ReplaceAllString(b.String(), "")
	_, err := fmt.Fprintf(w, "%s%s in %.2fs: %s\n", table, plural(len(results), "test"), wall.Seconds(), countVerdicts(results))
	return err
}

// countVerdicts says how many results have each verdict, "2 PASS, 1
// CRASH", leaving out those none has.
func countVerdicts(results []testResult) string {
	var parts []string
	for _, v := range verdicts {
		n := 0
		for _, r := range results {
			if r.verdict == v {
				n++
			}
		}
		if n != 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, v))
		}
	}
	return strings.Join(parts, ", ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// testJSON is one kernel's object in 'pvsim test --json'.
type testJSON struct {
	Name string `json:"name"`
	// Kernel is the argument naming it, Config its configuration file.
	Kernel string `json:"kernel"`
	Config string `json:"config,omitempty"`
	// Kind is "xtf" for an XTF test, else "pvsim".
	Kind    string  `json:"kind"`
	Verdict verdict `json:"verdict"`
	Seconds float64 `json:"seconds"`
	Detail  string  `json:"detail,omitempty"`
	// Reason and ExitStatus are as 'pvsim run --json' gives them: the
	// shutdown reason, or timeout, fault or error; the status 'pvsim run'
	// would exit with.
	Reason     string `json:"reason"`
	ExitStatus int    `json:"exit_status"`
	// Error is pvsim's error, as 'pvsim run' reports it.
	Error string `json:"error,omitempty"`
}

func testsJSON(specs []*testSpec, results []testResult) []testJSON {
	js := make([]testJSON, len(results))
	for i, r := range results {
		js[i] = testJSON{Name: specs[i].name, Kernel: specs[i].arg, Config: specs[i].config, Kind: testKind(r),
			Verdict: r.verdict, Seconds: r.elapsed.Seconds(), Detail: r.detail, Reason: r.reason, ExitStatus: r.status}
		if r.err != nil {
			js[i].Error = strings.TrimSpace(r.err.Error())
		}
	}
	return js
}

func testKind(r testResult) string {
	if r.xtf {
		return "xtf"
	}
	return "pvsim"
}

// junitCases are the results as JUnit test cases: FAILURE and FAIL fail,
// ERROR and CRASH are errors, SKIP is skipped; each with the kernel's
// console output.
func junitCases(specs []*testSpec, results []testResult) []junit.Testcase {
	cases := make([]junit.Testcase, len(results))
	for i, r := range results {
		c := junit.Testcase{Name: specs[i].name, Classname: testKind(r), Time: junit.Seconds(r.elapsed)}
		msg := r.detail
		if msg == "" {
			msg = string(r.verdict)
		}
		var text string
		if r.err != nil && strings.TrimSpace(r.err.Error()) != msg {
			text = strings.TrimSpace(r.err.Error())
		}
		switch r.verdict {
		case verdictFailure, verdictFail:
			c.Failure = &junit.Problem{Message: msg, Type: string(r.verdict), Text: text}
		case verdictError, verdictCrash:
			c.Error = &junit.Problem{Message: msg, Type: string(r.verdict), Text: text}
		case verdictSkip:
			c.Skipped = &junit.Skip{Message: r.detail}
		}
		c.SystemOut = string(r.console)
		if r.dropped > 0 {
			c.SystemOut = fmt.Sprintf("[the first %d bytes of the console output are left out]\n", r.dropped) + c.SystemOut
		}
		cases[i] = c
	}
	return cases
}

// tailBuffer keeps the last limit bytes written to it. Any vCPU writes
// it.
type tailBuffer struct {
	mu      sync.Mutex
	limit   int
	buf     []byte
	dropped int64
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if n := len(t.buf); n > 2*t.limit {
		t.dropped += int64(n - t.limit)
		t.buf = append(t.buf[:0], t.buf[n-t.limit:]...)
	}
	return len(b), nil
}

// tail is the last limit bytes, and how many came before them.
func (t *tailBuffer) tail() ([]byte, int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, dropped := t.buf, t.dropped
	if n := len(b); n > t.limit {
		b, dropped = b[n-t.limit:], dropped+int64(n-t.limit)
	}
	return append([]byte(nil), b...), dropped
}
