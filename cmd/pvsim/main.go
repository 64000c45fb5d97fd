// Command pvsim runs guest test kernels under a Xen x86-64 PV
// memory-management ABI on KVM, and measures what that costs.
//
// Usage:
//
//	pvsim run KERNEL [--vcpus N] [--mem SIZE] [--timeout D] [-- guest command line]
//	pvsim compare [--duration D] [--vcpus N] [--json] [--out DIR]
//	pvsim race --strategy S [--vcpus N] [--duration D | --trials N] [--json]
//	pvsim explore --strategy S [--algo dfs|pct] [--bound K] [--json]
//	pvsim list
//	pvsim bench hypercall [--iters N] [--json]
//
// Run `pvsim help` for the exit statuses.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

const usage = `pvsim: a paravirtual pagetable hypervisor emulator on KVM

Usage:
  pvsim run KERNEL [flags] [-- guest command line]
        boot KERNEL (an embedded kernel name or an ELF path) and wait for it
        to shut down; the guest console goes to stdout
  pvsim compare [--duration D] [--vcpus N] [--json] [--out DIR]
        run the race under every strategy, D each (default 15s), and print
        one table: verdict, each oracle, and the cost of a young clear and of
        fork+exit; --out also writes results.json, a chart (SVG, PNG), and
        for the first oops of strategy none a timeline and race.txt, the
        interleaving that led to it
  pvsim race --strategy S [--duration D | --trials N] [flags]
        run the fork/exit pinning against page reclaim race under fix
        strategy S, rebooting after each oops, and count what each oracle
        saw: oopses, lost Dirty bits, ineffective young-clears,
        use-after-free
  pvsim explore --strategy S [--algo dfs|pct] [--bound K] [--depth D]
                [--budget N | --duration T] [--seed X] [--workers N] [--shard i/N] [--json]
        run the race kernel deterministically, in a small configuration, and
        search its schedules for an oops or a broken oracle: every schedule
        within K preemptions (dfs), or random priority schedules (pct); each
        starts from a snapshot taken after boot. A violation comes with the
        schedule that replays it: pvsim run race --schedule S -- strategy=...
  pvsim explore merge [--json] RESULT.json...
        join the --json results of the shards of one search
  pvsim list
        name the embedded kernels
  pvsim bench hypercall [--iters N] [--json]
        time pvsim's null hypercall against the raw-KVM baseline, same run
  pvsim help
        this text

Run 'pvsim COMMAND -h' for a command's flags.

Exit status of run:
  0  the guest powered off            5  timeout: the guest did not shut down
  1  pvsim error (bad kernel, KVM)    6  the guest asked to reboot
  2  bad command line                 7  the guest's watchdog fired
  3  the guest crashed (SHUTDOWN_crash), 8 other shutdown reasons
  4  the guest faulted (triple fault, hypervisor or hardware fault)
Exit status of explore: 0 no violation, 9 a violation found, 1 and 2 as run.
`

// Exit statuses.
const (
	exitOK       = 0
	exitError    = 1
	exitUsage    = 2
	exitCrash    = 3
	exitFault    = 4
	exitTimeout  = 5
	exitReboot   = 6
	exitWatchdog = 7
	exitOther    = 8
	// exitViolation: explore found a violation.
	exitViolation = 9
)

// usageError is a bad command line; it exits with exitUsage.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// exitError carries an exit status chosen by a command.
type statusError struct {
	status int
	err    error
}

func (e statusError) Error() string { return e.err.Error() }

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

func runMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var err error
	status := exitOK
	switch args[0] {
	case "run":
		status, err = cmdRun(args[1:], stdout, stderr)
	case "list":
		err = cmdList(args[1:], stdout)
	case "race":
		err = cmdRace(args[1:], stdout, stderr)
	case "compare":
		err = cmdCompare(args[1:], stdout, stderr)
	case "explore":
		status, err = cmdExplore(args[1:], stdout, stderr)
	case "bench":
		err = cmdBench(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && args[0] == "help" && !strings.HasPrefix(args[1], "-") {
			// pvsim help COMMAND is pvsim COMMAND -h.
			return runMain(append(args[1:len(args):len(args)], "-h"), stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		err = usageError{fmt.Sprintf("unknown command %q (try 'pvsim help')", args[0])}
	}
	if err == nil {
		return status
	}
	fmt.Fprintf(stderr, "pvsim: %s\n", strings.TrimSpace(err.Error()))
	var ue usageError
	var se statusError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &se):
		return se.status
	}
	return exitError
}
