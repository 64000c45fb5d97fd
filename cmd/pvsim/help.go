package main

import (
	"fmt"
	"io"
	"strings"
)

// command describes one command of pvsim for 'pvsim help' and for the
// command's -h.
type command struct {
	// name is the command as typed after "pvsim", e.g. "bench ptwr".
	name string
	// args are its flags and arguments, lines joined by "\n".
	args string
	// summary says in one line what it does.
	summary string
	// detail says more, for the command's -h; lines joined by "\n".
	detail string
}

// commands are pvsim's commands, in the order 'pvsim help' lists them.
var commands = []command{
	{
		name: "run",
		args: "KERNEL [--vcpus N] [--mem SIZE] [--timeout D] [--audit] [--audit-every D]\n" +
			"[--initrd FILE] [--console-in FILE] [--trace FILE] [--schedule S] [--json]\n" +
			"[--console auto|xen|pv|both] [-- guest command line]",
		summary: "boot KERNEL, wait for it to shut down; console on stdout (with --json on stderr)",
		detail: "KERNEL is the name of an embedded kernel (see 'pvsim list'), the path\n" +
			"of an ELF file, or a Linux bzImage; what follows \"--\" is the guest's\n" +
			"command line.\n" +
			"--console picks which of the guest's consoles to show: auto (the default)\n" +
			"shows console_io until the guest first writes its PV console ring, and the\n" +
			"ring from then on; xen, pv and both as they say.\n" +
			"The guest's PV console input (hvc0) comes from --console-in: - (the\n" +
			"default) is pvsim's standard input, which, when it is a terminal, goes\n" +
			"raw, every key to the guest and Ctrl-] ending the run; a file is read to\n" +
			"its end; an empty name gives the guest no input.\n" +
			"With --json, stdout gets one JSON object once the run is over: kernel,\n" +
			"reason, exit_status, vcpu, error, oops, steps, trace_sha256 and each\n" +
			"vCPU's exits; the guest console goes to stderr instead.\n" +
			"With --schedule S the run is deterministic and follows the schedule S\n" +
			"that 'pvsim explore' printed; a schedule that does not fit the run (a\n" +
			"decision that never applied, fewer vCPUs up than it is for) is an\n" +
			"error, status 1.",
	},
	{
		name: "test",
		args: "KERNEL... [-j N] [--timeout D] [--vcpus N] [--mem SIZE] [--audit]\n" +
			"[--junit FILE] [--json]",
		summary: "run test kernels, several domains at once: a table of verdicts, JUnit XML",
		detail: "Each KERNEL is an embedded kernel's name (see 'pvsim list'), the path of an\n" +
			"ELF file, or the path of an xl configuration file, NAME.cfg, whose kernel=\n" +
			"names the image: an embedded kernel, or a path relative to the file (of\n" +
			"an absolute path, the file of that name beside the .cfg comes first, as\n" +
			"XTF builds its images beside their .cfg files).\n" +
			"An ELF file's configuration is FILE.cfg beside it, when there is one, as\n" +
			"the Xen Test Framework (XTF) ships test-pv64-NAME.cfg beside\n" +
			"test-pv64-NAME. Of it pvsim reads name= (the test's name), vcpus=,\n" +
			"memory= (MiB), cmdline= or extra= (the guest command line) and type=\n" +
			"(\"pv\" only), and ignores the rest; --vcpus and --mem apply to what no\n" +
			"configuration sets.\n" +
			"Verdicts: an XTF test (its Xen guest-OS note says XTF, or it prints XTF's\n" +
			"banner or result line) gets the result of its last \"Test result:\" line,\n" +
			"SUCCESS, SKIP, ERROR or FAILURE, when it then powers off. Another kernel\n" +
			"PASSes when it powers off and FAILs when it shuts down to reboot, for its\n" +
			"watchdog or another reason. CRASH is a kernel that crashed\n" +
			"(SHUTDOWN_crash), faulted, timed out or hit a pvsim error, or an XTF test\n" +
			"that powered off without a result.\n" +
			"stdout gets a table in the order given: name, verdict, seconds and a\n" +
			"detail, the test's last reason (\"Fail: ...\") or pvsim's error; then\n" +
			"the count of each verdict. stderr gets a line as each test finishes.\n" +
			"--json prints instead a JSON array of one object a kernel: name, kernel,\n" +
			"config, kind (xtf or pvsim), verdict, seconds, detail, reason and\n" +
			"exit_status (as 'pvsim run --json' would give them) and error.\n" +
			"--junit also writes JUnit XML: FAILURE and FAIL fail, ERROR and CRASH\n" +
			"are errors, SKIP is skipped; each test case holds the last 64 KiB of its\n" +
			"console output.\n" +
			"Exit status: 0 when every verdict is SUCCESS, SKIP or PASS, 1 when one\n" +
			"is not or a kernel or configuration file cannot be read, 2 for a bad\n" +
			"command line.",
	},
	{
		name:    "compare",
		args:    "[--duration D | --trials N] [--vcpus N] [--window W] [--audit] [--audit-every D]\n[--json] [--out DIR]",
		summary: "run the race under every strategy: verdicts, oracles and costs in one table",
		detail: "Runs the race under every strategy, D each (default 15s) or N fork+exit\n" +
			"pairs each, and prints one table: its verdict (every defect an oracle\n" +
			"saw, worst first), each oracle, and the cost of a young clear and of\n" +
			"fork+exit. --out also writes results.json, a chart (SVG, PNG), and for\n" +
			"the first oops of strategy none a timeline and race.txt, the\n" +
			"interleaving that led to it.",
	},
	{
		name: "race",
		args: "--strategy S [--vcpus N] [--duration D | --trials N] [--window W]\n" +
			"[--pages P] [--pressure] [--lowmem] [--audit] [--audit-every D] [--marks]\n" +
			"[--ptwr-reps N] [--console] [--json]",
		summary: "run the fork/exit pinning against page reclaim race under fix strategy S",
		detail: "Runs the race, rebooting after each oops, and counts what each oracle\n" +
			"saw: oopses, lost Dirty bits, ineffective young-clears, use-after-free,\n" +
			"pages reclaim could not free for a mapping hidden from the reverse map,\n" +
			"forks that failed for memory.",
	},
	{
		name: "explore",
		args: "[KERNEL] [--strategy S | --all-strategies] [--algo dfs|pct] [--bound K] [--depth D]\n" +
			"[--budget N | --duration T] [--seed X] [--workers N] [--vcpus N]\n" +
			"[--shard i/N] [--oracle O] [--all] [--prune=false] [--console] [--json] [-- name=value... [flags]]",
		summary: "search a kernel's schedules for a race: an oops, a crash or a broken oracle",
		detail: "Runs KERNEL (default: the race kernel, whose fix strategy --strategy\n" +
			"or strategy= names; none, the 2.6.23 code, when neither does)\n" +
			"deterministically and searches its schedules: every\n" +
			"schedule within K preemptions (dfs), or random priority schedules (pct);\n" +
			"each starts from a snapshot the kernel takes after its set-up. DFS names\n" +
			"the domain's state at each scheduling point and does not search again\n" +
			"from a state it searched with as many preemptions left (--prune=false\n" +
			"runs every schedule); it reports the states next to the schedules. The words\n" +
			"after \"--\" are the kernel's name=value arguments (variant=, and the\n" +
			"model's size: iters=2 pages=4 for the race); flags may follow them.\n" +
			"A kernel other than the race follows the scenario protocol: a global\n" +
			"struct scenario_oracles with unsigned long members magic, completed and\n" +
			"one per oracle (package scenario). A violation comes with the schedule\n" +
			"that replays it: pvsim run KERNEL --schedule S -- <its arguments>.\n" +
			"Join the results of shards with 'pvsim explore merge'.",
	},
	{
		name:    "explore merge",
		args:    "[--json] RESULT.json...",
		summary: "join the --json results of the shards of one search",
	},
	{
		name:    "scenarios",
		args:    "[NAME...] [--bound N] [--workers N] [--budget N] [--stress D] [--json]",
		summary: "survey the scenario kernels and their variants: stress runs, dfs and pct in one table",
		detail: "Surveys each row of the catalogue of scenario kernels (each NAME's rows,\n" +
			"or every kernel's): a kernel and its arguments, a broken variant or its\n" +
			"fix. A kernel this build does not embed is skipped, saying so on stderr.\n" +
			"Columns, one line for each violation a row shows:\n" +
			"  scenario      the kernel\n" +
			"  variant/args  its arguments\n" +
			"  violation     the oracle that fired, or a failure (crash, hang, fault,\n" +
			"                audit, shutdown, no_progress; error: a run pvsim could\n" +
			"                not judge); none when nothing fired\n" +
			"  stress        hits/runs: of the runs booted afresh for D on 2 vCPUs\n" +
			"                without the deterministic scheduler, those it fired in\n" +
			"  min bound     the fewest preemptions of a schedule dfs found it with,\n" +
			"                searching every schedule within --bound\n" +
			"  found after   the schedules dfs had run when it first found it\n" +
			"  PCT hits      of 10 pct searches (seeds 1 to 10, at most --budget\n" +
			"                schedules each, asked for this violation alone), those\n" +
			"                that found it\n" +
			"  schedule      a schedule with the fewest preemptions that shows it;\n" +
			"                when dfs did not find it, \"none within bound N\" and\n" +
			"                the schedules it ran; for a row where nothing fired,\n" +
			"                the bound dfs exhausted and the schedules that took\n" +
			"Each schedule replays with: pvsim run KERNEL --schedule S -- ARGS.\n" +
			"Below the table, what the first run of each failure saw.",
	},
	{
		name:    "list",
		summary: "name the embedded kernels",
	},
	{
		name:    "bench hypercall",
		args:    "[--iters N] [--rounds R] [--load] [--baseline-src FILE] [--json]",
		summary: "time the null hypercall against the raw-KVM baseline's CPL3 MMIO exit",
	},
	{
		name:    "bench pin",
		args:    "[--reps N] [--max L1S] [--json]",
		summary: "time pin+unpin of growing pagetables against one executor write",
	},
	{
		name:    "bench ptwr",
		args:    "[--reps N] [--rounds R] [--load] [--baseline-src FILE] [--json]",
		summary: "time an emulated pagetable write against the baseline's #PF round trip",
	},
	{
		name: "bench reset",
		args: "[--resets N] [--workers W] [--strategy S] [--rounds R]\n" +
			"[--load] [--baseline-src FILE] [--json]",
		summary: "time a reset to the explorer's snapshot against the baseline's VM boot",
	},
	{
		name:    "help",
		args:    "[COMMAND]",
		summary: "print this text, or with COMMAND that command's usage",
	},
}

// lookupCommand finds the command called name.
func lookupCommand(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// synopsis is the command's usage line, continuation lines indented by
// indent and aligned after the command's name.
func (c command) synopsis(indent string) string {
	head := "pvsim " + c.name
	if c.args == "" {
		return head
	}
	pad := "\n" + indent + strings.Repeat(" ", len(head)+1)
	return head + " " + strings.ReplaceAll(c.args, "\n", pad)
}

// writeCommands lists the commands whose names begin with prefix: the
// synopsis of each, and its summary below it.
func writeCommands(w io.Writer, prefix string) {
	for _, c := range commands {
		if strings.HasPrefix(c.name, prefix) {
			fmt.Fprintf(w, "  %s\n        %s\n", c.synopsis("  "), c.summary)
		}
	}
}
