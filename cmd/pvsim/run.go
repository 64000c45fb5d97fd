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
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pvsim/pvsim/builder"
	"github.com/pvsim/pvsim/bzimage"
	"github.com/pvsim/pvsim/console"
	"github.com/pvsim/pvsim/explore"
	"github.com/pvsim/pvsim/guest"
	"github.com/pvsim/pvsim/hv"
	"github.com/pvsim/pvsim/sched"
	"github.com/pvsim/pvsim/timeline"
	"github.com/pvsim/pvsim/trace"
	"github.com/pvsim/pvsim/x86"
	"github.com/pvsim/pvsim/xen"
)

// kernelImage resolves KERNEL: an embedded kernel's name, or a path.
func kernelImage(name string) (string, []byte, error) {
	if k, ok := guest.Lookup(name); ok {
		return k.Name, k.ELF, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", nil, fmt.Errorf("kernel %q: no embedded kernel has that name (see 'pvsim list') and no such file", name)
		}
		return "", nil, fmt.Errorf("kernel %q: %v", name, err)
	}
	return name, b, nil
}

// linuxTimeout is run's default --timeout for a Linux kernel: on this
// kind of host every exit costs tens of microseconds, and a stock kernel
// makes some hundred thousand of them (privileged instructions, M2P
// reads) in its first seconds.
const linuxTimeout = 5 * time.Minute

// isLinux reports whether image is a Linux kernel: a bzImage, or an ELF
// whose Xen notes name Linux as the guest OS.
func isLinux(image []byte) bool {
	if bzimage.Is(image) {
		return true
	}
	f, err := elf.NewFile(bytes.NewReader(image))
	if err != nil {
		return false
	}
	notes, err := builder.ParseXenNotes(f)
	return err == nil && strings.EqualFold(notes.GuestOS, "linux")
}

// isSet reports whether the command line set flag name.
func (fs *flagSet) isSet(name string) bool {
	set := false
	fs.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}

type runFlags struct {
	vcpus    int
	mem      sizeFlag
	timeout  time.Duration
	audit    bool
	every    time.Duration
	initrd   string
	in       string
	trace    string
	schedule string
	asJSON   bool
	show     showFlag
}

func (f *runFlags) register(fs *flag.FlagSet) {
	f.mem = hv.DefaultMemory
	fs.IntVar(&f.vcpus, "vcpus", 1, fmt.Sprintf("number of vCPUs (1-%d)", hv.MaxVCPUs))
	fs.Var(&f.mem, "mem", "guest memory, a multiple of 2M (e.g. 64M, 1G)")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "fail if the guest has not shut down after this long (0: no limit); a Linux kernel's default is "+linuxTimeout.String())
	fs.BoolVar(&f.audit, "audit", false, "re-check the pagetable invariants after every MMU hypercall; stop on the first violation")
	fs.DurationVar(&f.every, "audit-every", 0, "with --audit, check at most this often (0: after every MMU hypercall)")
	fs.StringVar(&f.initrd, "initrd", "", "load `FILE` as the initial RAM disk, after the kernel, as Xen's builder does (start_info's mod_start and mod_len)")
	fs.StringVar(&f.in, "console-in", "-", "feed the guest's PV console input (hvc0) from `FILE`: - is pvsim's standard input (a terminal goes raw, Ctrl-] ends the run), an empty name none")
	fs.StringVar(&f.trace, "trace", "", "write the last exits of every vCPU to `FILE` as Chrome/Perfetto trace JSON")
	fs.StringVar(&f.schedule, "schedule", "", "run deterministically on the schedule `S` that 'pvsim explore' printed (cpus=N,step:vcpu,...; cpus=N alone: the default schedule); the vCPU count comes from it")
	fs.BoolVar(&f.asJSON, "json", false, "after the run, print its outcome as one JSON object on stdout; the guest console then goes to stderr")
	fs.Var(&f.show, "console", "which of the guest's consoles to show: `auto` (console_io until the guest first writes its PV console ring, then the ring), xen (console_io), pv (the ring) or both")
}

func cmdRun(args []string, stdout, stderr io.Writer) (int, error) {
	fs := newFlagSet("run", stdout)
	var f runFlags
	f.register(fs.FlagSet)
	pos, rest, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK, nil
	}
	if err != nil {
		return 0, err
	}
	if len(pos) != 1 {
		return 0, usageError{"run takes one KERNEL (an embedded name or an ELF path); see 'pvsim run -h'"}
	}
	name, image, err := kernelImage(pos[0])
	if err != nil {
		return 0, err
	}
	var initrd []byte
	if f.initrd != "" {
		if initrd, err = os.ReadFile(f.initrd); err != nil {
			return 0, fmt.Errorf("--initrd: %w", err)
		}
	}
	if !fs.isSet("timeout") && isLinux(image) {
		f.timeout = linuxTimeout
	}
	cfg := hv.Config{
		Name: name, Kernel: image, Initrd: initrd, VCPUs: f.vcpus, Memory: uint64(f.mem),
		CmdLine: strings.Join(rest, " "), Console: stdout, Show: console.Show(f.show), Timeout: f.timeout, Audit: f.audit,
		AuditInterval: f.every,
	}
	if err := cfg.Check(); err != nil {
		return 0, usageError{err.Error()}
	}
	if f.asJSON {
		cfg.Console = stderr
	}
	var replay *explore.Replay
	if f.schedule != "" {
		s, err := explore.ParseSchedule(f.schedule)
		if err != nil {
			return 0, usageError{"--schedule: " + err.Error()}
		}
		if fs.isSet("vcpus") && f.vcpus != s.VCPUs {
			return 0, usageError{fmt.Sprintf("--vcpus %d, but the schedule is for %d vCPUs", f.vcpus, s.VCPUs)}
		}
		cfg.VCPUs = s.VCPUs
		replay = &explore.Replay{Schedule: s}
		cfg.Scheduler = replay
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	if replay == nil {
		in, restore, err := consoleIn(f.in, stderr, func() { cancel(errConsoleEscape) })
		if err != nil {
			return 0, err
		}
		defer restore()
		cfg.ConsoleIn = in
	}
	d, err := hv.New(cfg)
	if err != nil {
		return 0, err
	}
	defer d.Close()
	res, runErr := d.Run(ctx)
	if errors.Is(runErr, context.Canceled) && errors.Is(context.Cause(ctx), errConsoleEscape) {
		runErr = errConsoleEscape
	}
	digest := trace.Digest(d.Trace())
	if replay != nil {
		fmt.Fprintf(stderr, "pvsim: deterministic run: %d scheduling points, trace sha256 %s\n", res.Steps, digest)
	}
	if f.trace != "" {
		if terr := writeTrace(f.trace, name, d); terr != nil {
			fmt.Fprintf(stderr, "pvsim: %v\n", terr)
		}
	}
	err = runOutcome(res, runErr)
	if replay != nil {
		err = fitSchedule(replay, err)
	}
	status := exitStatus(err)
	if f.asJSON {
		if jerr := writeJSON(stdout, newRunJSON(name, res, runErr, status, err, digest)); jerr != nil && err == nil {
			return exitError, jerr
		}
	}
	return status, err
}

// runOutcome turns how a run ended into the error that reports it with
// its exit status, or nil if the guest powered off.
func runOutcome(res hv.Result, err error) error {
	var ge *hv.GuestError
	switch {
	case errors.As(err, &ge) && ge.Kind == hv.Timeout:
		return statusError{exitTimeout, err}
	case errors.As(err, &ge):
		return statusError{exitFault, err}
	case err != nil:
		return err
	}
	switch res.Reason {
	case xen.ShutdownPoweroff:
		return nil
	case xen.ShutdownCrash:
		return statusError{exitCrash, crashError(res)}
	case xen.ShutdownReboot:
		return statusError{exitReboot, fmt.Errorf("the guest asked to reboot (vCPU %d)", res.VCPU)}
	case xen.ShutdownWatchdog:
		return statusError{exitWatchdog, fmt.Errorf("the guest's watchdog fired (vCPU %d)", res.VCPU)}
	}
	return statusError{exitOther, fmt.Errorf("the guest shut down with reason %v (vCPU %d)", res.Reason, res.VCPU)}
}

// fitSchedule makes a run whose --schedule did not fit it a pvsim error,
// whatever the guest did, since the run is not the one the schedule
// describes; outcome is the run's error from runOutcome. A panic or a
// decision for a vCPU that was not up already is the error to report.
func fitSchedule(replay *explore.Replay, outcome error) error {
	var pe *hv.PanicError
	var se *sched.Error
	if errors.As(outcome, &pe) || errors.As(outcome, &se) {
		return outcome
	}
	misfit := replay.Fit()
	if misfit == nil {
		return outcome
	}
	ended := "the guest powered off"
	if outcome != nil {
		ended = outcome.Error()
	}
	return fmt.Errorf("%w; the run itself: %s", misfit, ended)
}

// cmdList names the embedded kernels and says what each does.
func cmdList(args []string, stdout io.Writer) error {
	fs := newFlagSet("list", stdout)
	pos, rest, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(pos) != 0 || len(rest) != 0 {
		return usageError{"list takes no arguments"}
	}
	w := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
	for _, k := range guest.Kernels() {
		fmt.Fprintf(w, "%s\t%s\n", k.Name, k.Description)
	}
	return w.Flush()
}

// crashError describes a crash: the fault the guest could not handle,
// where it was in the source, and the first line of the guest's report.
func crashError(res hv.Result) error {
	msg := fmt.Sprintf("the guest crashed (SHUTDOWN_crash from vCPU %d)", res.VCPU)
	o := res.Oops
	if o == nil {
		if len(res.NotOffered) > 0 {
			msg += ": " + res.NotOffered.String()
		}
		return errors.New(msg)
	}
	if o.Fault != nil {
		where := o.Where
		if o.Source != "" {
			where += " (" + o.Source + ")"
		}
		msg += fmt.Sprintf(": oops at %s: %s", where, o.Fault.Describe())
		if o.NotEmulated != "" && o.Fault.Vector == x86.VectorPF {
			msg += " (ptwr " + o.NotEmulated + ")"
		} else if o.NotEmulated != "" {
			msg += " (" + o.NotEmulated + ")"
		}
	}
	if first, _, _ := strings.Cut(o.Text, "\n"); first != "" {
		msg += fmt.Sprintf("; the guest said %q", first)
	}
	if len(res.NotOffered) > 0 {
		msg += "; " + res.NotOffered.String()
	}
	return errors.New(msg)
}

// writeTrace writes the domain's exit trace to path as Chrome/Perfetto
// trace JSON.
func writeTrace(path, name string, d *hv.Domain) error {
	err := writeFile(path, func(w io.Writer) error {
		return timeline.Write(w, trace.Timeline(1, name, d.Trace(), d.Symbols()))
	})
	if err != nil {
		return fmt.Errorf("--trace %s: %v", path, err)
	}
	return nil
}
