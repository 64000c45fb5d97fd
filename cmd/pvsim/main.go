// Command pvsim runs guest test kernels under a Xen x86-64 PV
// memory-management ABI on KVM, and measures what that costs.
//
// Usage:
//
//	pvsim run KERNEL [--vcpus N] [--mem SIZE] [--timeout D] [--audit] [--audit-every D]
//	          [--initrd FILE] [--console-in FILE] [--trace FILE] [--schedule S] [--json]
//	          [--console auto|xen|pv|both] [-- guest command line]
//	pvsim test KERNEL... [-j N] [--timeout D] [--vcpus N] [--mem SIZE] [--audit]
//	           [--junit FILE] [--json]
//	pvsim compare [--duration D | --trials N] [--vcpus N] [--window W] [--audit] [--audit-every D]
//	              [--json] [--out DIR]
//	pvsim race --strategy S [--vcpus N] [--duration D | --trials N] [--window W]
//	           [--pages P] [--pressure] [--lowmem] [--audit] [--audit-every D] [--marks]
//	           [--ptwr-reps N] [--console] [--json]
//	pvsim explore [KERNEL] [--strategy S | --all-strategies] [--algo dfs|pct] [--bound K] [--depth D]
//	              [--budget N | --duration T] [--seed X] [--workers N] [--vcpus N]
//	              [--shard i/N] [--oracle O] [--all] [--prune=false] [--console] [--json] [-- name=value... [flags]]
//	pvsim explore merge [--json] RESULT.json...
//	pvsim scenarios [NAME...] [--bound N] [--workers N] [--budget N] [--stress D] [--json]
//	pvsim list
//	pvsim bench hypercall [--iters N] [--rounds R] [--load] [--baseline-src FILE] [--json]
//	pvsim bench pin [--reps N] [--max L1S] [--json]
//	pvsim bench ptwr [--reps N] [--rounds R] [--load] [--baseline-src FILE] [--json]
//	pvsim bench reset [--resets N] [--workers W] [--strategy S] [--rounds R]
//	                  [--load] [--baseline-src FILE] [--json]
//	pvsim help [COMMAND]
//
// Run `pvsim help` for what each command does and the exit statuses, and
// `pvsim help COMMAND` for a command's flags.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/pvsim/pvsim/hv"
)

// usageTail follows the list of commands in 'pvsim help'.
const usageTail = `
Run 'pvsim COMMAND -h' or 'pvsim help COMMAND' for what a command does and
what each of its flags means.

Exit status of run:
  0  the guest powered off            5  timeout: the guest did not shut down
  1  pvsim error (bad kernel, KVM)    6  the guest asked to reboot
  2  bad command line                 7  the guest's watchdog fired
  3  the guest crashed (SHUTDOWN_crash), 8 other shutdown reasons
  4  the guest faulted (triple fault, hypervisor or hardware fault)
Exit status of test: 0 every verdict SUCCESS, SKIP or PASS, 1 another, 2 as run.
Exit status of explore: 0 no violation, 9 a violation found, 1 and 2 as run.
Exit status of every command: 10 internal error: a bug in pvsim (a Go panic;
its stack goes to stderr).
`

// writeUsage writes 'pvsim help': every command with its flags and what
// it does, and the exit statuses.
func writeUsage(w io.Writer) {
	fmt.Fprint(w, "pvsim: a paravirtual pagetable hypervisor emulator on KVM\n\nUsage:\n")
	writeCommands(w, "")
	fmt.Fprint(w, usageTail)
}

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
	// exitInternal: a Go panic, a bug in pvsim.
	exitInternal = 10
)

// usageError is a bad command line; it exits with exitUsage.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// statusError carries an exit status chosen by a command.
type statusError struct {
	status int
	err    error
}

func (e statusError) Error() string { return e.err.Error() }

func (e statusError) Unwrap() error { return e.err }

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

// runMain runs the command args names and returns the process's exit
// status. A panic on its goroutine is reported as an internal error.
func runMain(args []string, stdout, stderr io.Writer) (status int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "pvsim: internal error in pvsim (a bug, please report it): panic: %v\n\n%s", r, debug.Stack())
			status = exitInternal
		}
	}()
	if len(args) == 0 {
		writeUsage(stderr)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "run":
		status, err = cmdRun(args[1:], stdout, stderr)
	case "test":
		status, err = cmdTest(args[1:], stdout, stderr)
	case "list":
		err = cmdList(args[1:], stdout)
	case "race":
		err = cmdRace(args[1:], stdout, stderr)
	case "compare":
		err = cmdCompare(args[1:], stdout, stderr)
	case "explore":
		status, err = cmdExplore(args[1:], stdout, stderr)
	case "scenarios":
		status, err = cmdScenarios(args[1:], stdout, stderr)
	case "bench":
		err = cmdBench(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && args[0] == "help" && !strings.HasPrefix(args[1], "-") {
			// pvsim help COMMAND is pvsim COMMAND -h.
			return runMain(append(args[1:len(args):len(args)], "-h"), stdout, stderr)
		}
		writeUsage(stdout)
		return exitOK
	default:
		err = usageError{fmt.Sprintf("unknown command %q (try 'pvsim help')", args[0])}
	}
	if err == nil {
		return status
	}
	return reportError(stderr, err)
}

// reportError tells the user about err, on one line but for an internal
// error, which comes with the stack of the goroutine that panicked, and
// returns the exit status err maps to.
func reportError(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "pvsim: %s\n", strings.TrimSpace(err.Error()))
	var pe *hv.PanicError
	if errors.As(err, &pe) {
		fmt.Fprintf(stderr, "\n%s", pe.Stack)
	}
	return exitStatus(err)
}

// exitStatus is the exit status for err: exitInternal for a panic caught
// in hv, exitUsage for a bad command line, the status a command chose, or
// exitError.
func exitStatus(err error) int {
	var pe *hv.PanicError
	var ue usageError
	var se statusError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &pe):
		return exitInternal
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &se):
		return se.status
	}
	return exitError
}
