package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/hv"
	"github.com/pvsim/pvsim/race"
)

// needKVM skips a KVM-backed test, loudly, where /dev/kvm is absent.
func needKVM(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/dev/kvm"); err != nil {
		t.Skipf("SKIP: KVM-backed test needs /dev/kvm: %v", err)
	}
}

func pvsim(args ...string) (status int, stdout, stderr string) {
	var out, errb bytes.Buffer
	status = runMain(args, &out, &errb)
	return status, out.String(), errb.String()
}

func TestUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "Usage:"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"run"}, "run takes one KERNEL"},
		{[]string{"run", "hello", "hang"}, "run takes one KERNEL"},
		{[]string{"run", "hello", "--vcpus", "x"}, "invalid value"},
		{[]string{"run", "--mem", "lots", "hello"}, `"lots" is not a size`},
		{[]string{"list", "extra"}, "list takes no arguments"},
		{[]string{"bench"}, "bench needs a benchmark name"},
		{[]string{"bench", "nope"}, `unknown benchmark "nope"`},
		{[]string{"race"}, "race needs --strategy"},
		{[]string{"race", "--strategy", "bogus"}, `unknown strategy "bogus"`},
		{[]string{"race", "--strategy", "none", "--vcpus", "1"}, "the race needs 2"},
		{[]string{"race", "--strategy", "none", "--pages", "100"}, "100 pages"},
		{[]string{"race", "--strategy", "none", "extra"}, "race takes flags only"},
		{[]string{"compare", "extra"}, "compare takes flags only"},
		{[]string{"compare", "--duration", "0s"}, "--duration must be positive"},
		{[]string{"compare", "--vcpus", "1"}, "the race needs 2"},
		{[]string{"explore", "--strategy", "bogus2"}, `"bogus2": one of none`},
		{[]string{"explore", "race", "a", "b"}, "explore takes one KERNEL"},
		{[]string{"explore", "race", "--", "strategy=none", "iters"}, `kernel argument "iters": want name=value`},
		{[]string{"explore", "race", "--", "strategy=none", "--bound", "2", "x"}, "only flags may follow them"},
		{[]string{"explore", "hello", "--", "variant=x"}, "hello follows no scenario protocol"},
		{[]string{"explore", "--strategy", "bogus"}, `"bogus": one of`},
		{[]string{"explore", "--strategy", "none", "--algo", "bfs"}, `unknown algorithm "bfs"`},
		{[]string{"explore", "--strategy", "none", "--shard", "2/2"}, "want i/N"},
		{[]string{"explore", "--strategy", "none", "--bound", "-1"}, "cannot be negative"},
		{[]string{"explore", "--strategy", "none", "extra"}, "--strategy is the race kernel's"},
		{[]string{"explore", "merge"}, "explore merge takes"},
		{[]string{"scenarios", "nosuchkernel"}, `unknown scenario "nosuchkernel": the scenarios are hugetlb-truncate, `},
		{[]string{"scenarios", "--bound", "-1"}, "--bound and --stress must be at least 0"},
		{[]string{"scenarios", "hugetlb-truncate", "--", "variant=kravetz"}, "each row's arguments are the catalogue's"},
		{[]string{"run", "hello", "--schedule", "18:1"}, "--schedule: schedule"},
		{[]string{"run", "race", "--vcpus", "3", "--schedule", "cpus=2"}, "the schedule is for 2 vCPUs"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			status, _, stderr := pvsim(tt.args...)
			assert.Equal(t, exitUsage, status)
			assert.Contains(t, stderr, tt.want)
		})
	}
}

func TestBadKernel(t *testing.T) {
	status, _, stderr := pvsim("run", "no-such-kernel")
	assert.Equal(t, exitError, status)
	assert.Contains(t, stderr, "no embedded kernel has that name")

	path := t.TempDir() + "/junk.elf"
	assert.NoError(t, os.WriteFile(path, []byte("junk"), 0o644))
	status, _, stderr = pvsim("run", path)
	assert.Equal(t, exitError, status)
	assert.Equal(t, "pvsim: kernel "+path+": not an ELF file (no ELF magic in its first bytes)\n", stderr)
}

func TestList(t *testing.T) {
	status, stdout, _ := pvsim("list")
	assert.Equal(t, exitOK, status)
	for _, k := range []string{"hello", "triple-fault", "hang", "bench-hypercall"} {
		assert.Regexp(t, "(?m)^"+k+" +[a-z]", stdout)
	}
}

func TestSizeFlag(t *testing.T) {
	for in, want := range map[string]uint64{"64M": 64 << 20, "64MiB": 64 << 20, "1G": 1 << 30, "4096": 4096, "512k": 512 << 10} {
		var s sizeFlag
		assert.NoError(t, s.Set(in), in)
		assert.Equal(t, want, uint64(s), in)
	}
	for _, in := range []string{"", "M", "-1M", "12X", "99999999999999999999G"} {
		var s sizeFlag
		assert.Error(t, s.Set(in), in)
	}
}

// TestRunExitStatus boots kernels through the command line and checks the
// status each outcome maps to.
func TestRunExitStatus(t *testing.T) {
	needKVM(t)
	for _, tt := range []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"run", "hello", "--vcpus", "4"}, exitOK, ""},
		{[]string{"run", "shutdown", "--", "reason=crash"}, exitCrash, "the guest crashed"},
		{[]string{"run", "shutdown", "--", "reason=reboot"}, exitReboot, "reboot"},
		{[]string{"run", "shutdown", "--", "reason=watchdog"}, exitWatchdog, "watchdog"},
		{[]string{"run", "triple-fault"}, exitFault, "vCPU 0: triple fault at do_null_write+"},
		{[]string{"run", "ptwr-oops"}, exitCrash, "oops at ptep_test_and_clear_young+"},
		{[]string{"run", "--timeout", "500ms", "hang"}, exitTimeout, "timeout after 500ms"},
		{[]string{"run", "hello", "--vcpus", "9"}, exitUsage, "pvsim supports 1 to 8"},
		{[]string{"run", "hello", "--vcpus", "-1"}, exitUsage, "-1 vCPUs: pvsim supports 1 to 8"},
		{[]string{"run", "hello", "--mem", "1K"}, exitUsage, "memory of 1024 bytes: want a multiple of 2 MiB"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			status, stdout, stderr := pvsim(tt.args...)
			assert.Equal(t, tt.status, status, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
			if tt.stderr == "" {
				assert.Empty(t, stderr)
			} else {
				assert.Contains(t, stderr, tt.stderr)
				assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
			}
		})
	}
	_, stdout, _ := pvsim("run", "hello", "--vcpus", "4")
	assert.Equal(t, 5, strings.Count(stdout, "\n"), stdout)
}

// --trace writes the exits as Chrome/Perfetto trace JSON: a list of
// events with ph, ts, pid and tid, hypercalls and traps named.
func TestRunTrace(t *testing.T) {
	needKVM(t)
	path := filepath.Join(t.TempDir(), "trace.json")
	status, _, stderr := pvsim("run", "ptwr-oops", "--trace", path)
	require.Equal(t, exitCrash, status, stderr)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var events []map[string]any
	require.NoError(t, json.Unmarshal(b, &events))
	names := map[string]bool{}
	for _, e := range events {
		for _, k := range []string{"name", "ph", "ts", "pid", "tid"} {
			require.Contains(t, e, k)
		}
		names[e["name"].(string)] = true
	}
	for _, n := range []string{"thread_name", "console_io", "set_trap_table", "#PF bounced", "sched_op"} {
		assert.True(t, names[n], "no %q event in %v", n, names)
	}

	status, _, stderr = pvsim("run", "hello", "--trace", filepath.Join(t.TempDir(), "no", "such", "dir.json"))
	assert.Equal(t, exitOK, status)
	assert.Contains(t, stderr, "--trace")
}

// TestCompareOut runs a short comparison and checks the files --out
// writes. The pin windows are widened, as in the race tests, so that none
// oopses within a few pairs (and race.txt is written) on a loaded machine
// too: with the default window a CI run once saw no oops in 300 pairs.
func TestCompareOut(t *testing.T) {
	needKVM(t)
	dir := t.TempDir()
	status, stdout, stderr := pvsim("compare", "--trials", "150", "--window", "100us", "--out", dir)
	require.Equal(t, exitOK, status, stderr)
	assert.Contains(t, stdout, "pin-before-visible")

	var res struct {
		Strategies []struct {
			Strategy string `json:"strategy"`
			Verdict  string `json:"verdict"`
		} `json:"strategies"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &res))
	require.Len(t, res.Strategies, 7)
	assert.Equal(t, "none", res.Strategies[0].Strategy)
	assert.True(t, race.Verdict(res.Strategies[0].Verdict).Has(race.VerdictRaces), res.Strategies[0].Verdict)
	for _, f := range []string{"chart.svg", "chart.png", "race.txt", "race-timeline.json"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err, f)
		assert.NotZero(t, fi.Size(), f)
	}
	txt, err := os.ReadFile(filepath.Join(dir, "race.txt"))
	require.NoError(t, err)
	assert.Contains(t, string(txt), "-> oops")
	assert.Contains(t, string(txt), "phase 1")
}

// explore finds the oops and prints a schedule that `run --schedule`
// replays with the same trace; shards of a search merge into the whole.
// explore KERNEL -- args: a larger race model with PCT, flags after the
// kernel's arguments, and a scenario kernel; each violation's replay
// command reproduces its trace.
func TestExploreKernelArgs(t *testing.T) {
	needKVM(t)
	for _, tt := range []struct {
		args   []string
		replay []string // pvsim run KERNEL --schedule S, then these
		status int      // of the replay
	}{
		{[]string{"explore", "race", "--", "strategy=none", "iters=2", "pages=4", "--algo", "pct", "--budget", "200", "--json"},
			[]string{"race", "--", "strategy=none", "iters=2", "pages=4"}, exitCrash},
		{[]string{"explore", "hugetlb-truncate", "--bound", "3", "--json", "--", "variant=punch-no-mutex"},
			[]string{"hugetlb-truncate", "--", "variant=punch-no-mutex"}, exitOK},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			status, stdout, stderr := pvsim(tt.args...)
			require.Equal(t, exitViolation, status, stderr)
			var r struct {
				Target     string
				Violations []struct {
					Schedule    string
					TraceSHA256 string `json:"trace_sha256"`
				}
			}
			require.NoError(t, json.Unmarshal([]byte(stdout), &r), stdout)
			require.NotEmpty(t, r.Violations)
			assert.Equal(t, strings.Join(append(tt.replay[:1:1], tt.replay[2:]...), " "), r.Target)
			v := r.Violations[0]
			run := append([]string{"run", tt.replay[0], "--schedule", v.Schedule}, tt.replay[1:]...)
			status, _, stderr = pvsim(run...)
			assert.Equal(t, tt.status, status, stderr)
			assert.Contains(t, stderr, "trace sha256 "+v.TraceSHA256)
		})
	}
}

func TestExploreReplayMerge(t *testing.T) {
	needKVM(t)
	status, stdout, stderr := pvsim("explore", "--strategy", "none", "--algo", "dfs", "--bound", "2", "--json")
	require.Equal(t, exitViolation, status, stderr)
	var r struct {
		Violations []struct {
			Schedule, Oracle, Detail string
			TraceSHA256              string `json:"trace_sha256"`
		}
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &r), stdout)
	require.Len(t, r.Violations, 1)
	v := r.Violations[0]
	assert.Equal(t, "oops", v.Oracle)

	status, _, stderr = pvsim("run", "race", "--schedule", v.Schedule, "--", "strategy=none")
	assert.Equal(t, exitCrash, status, stderr)
	assert.Contains(t, stderr, "oops at ptep_test_and_clear_young")
	assert.Contains(t, stderr, "trace sha256 "+v.TraceSHA256)

	status, stdout, _ = pvsim("explore", "--strategy", "none", "--algo", "dfs", "--bound", "2")
	assert.Equal(t, exitViolation, status)
	assert.Contains(t, stdout, "replay: pvsim run race --schedule "+v.Schedule+" -- strategy=none")
	assert.Contains(t, stdout, "CPU 0")

	dir := t.TempDir()
	var files []string
	for i := range 2 {
		status, stdout, stderr := pvsim("explore", "--strategy", "hv-pin-aware", "--bound", "1", "--shard", []string{"0/2", "1/2"}[i], "--json")
		require.Equal(t, exitOK, status, stderr)
		f := filepath.Join(dir, []string{"a.json", "b.json"}[i])
		require.NoError(t, os.WriteFile(f, []byte(stdout), 0o644))
		files = append(files, f)
	}
	status, stdout, stderr = pvsim(append([]string{"explore", "merge", "--json"}, files...)...)
	require.Equal(t, exitOK, status, stderr)
	var m struct {
		Exhausted bool
		Shards    []int
		Schedules int
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &m))
	assert.True(t, m.Exhausted)
	assert.Equal(t, []int{0, 1}, m.Shards)
	status, stdout, _ = pvsim("explore", "--strategy", "hv-pin-aware", "--bound", "1", "--json")
	require.Equal(t, exitOK, status)
	var whole struct{ Schedules int }
	require.NoError(t, json.Unmarshal([]byte(stdout), &whole))
	assert.Equal(t, whole.Schedules, m.Schedules)

	status, _, stderr = pvsim("explore", "merge", files[0])
	assert.Equal(t, exitOK, status, stderr)
	status, _, stderr = pvsim("explore", "merge", files[0], files[0])
	assert.Equal(t, exitError, status)
	assert.Contains(t, stderr, "more than one result")
}

// Each kind of error maps to its exit status; a panic caught in hv is an
// internal error wherever it is wrapped, and comes with its stack.
func TestExitStatus(t *testing.T) {
	panicked := &hv.PanicError{VCPU: 1, Value: "index out of range", Stack: []byte("goroutine 7 [running]:\nhv.(*vcpu).loop()\n")}
	for _, tt := range []struct {
		name   string
		err    error
		status int
		stderr string
	}{
		{"none", nil, exitOK, ""},
		{"plain", errors.New("no KVM"), exitError, "pvsim: no KVM\n"},
		{"usage", usageError{"bad flag"}, exitUsage, "pvsim: bad flag\n"},
		{"status", statusError{exitTimeout, errors.New("timeout")}, exitTimeout, "pvsim: timeout\n"},
		{"panic", panicked, exitInternal,
			"pvsim: vCPU 1: internal error in pvsim (a bug, please report it): panic: index out of range\n\ngoroutine 7 [running]:\nhv.(*vcpu).loop()\n"},
		{"wrapped panic", fmt.Errorf("schedule 3: %w", panicked), exitInternal, "\ngoroutine 7 [running]:\n"},
		{"panic with a status", statusError{exitFault, panicked}, exitInternal, "panic: index out of range\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.status, exitStatus(tt.err))
			if tt.err == nil {
				return
			}
			var b bytes.Buffer
			assert.Equal(t, tt.status, reportError(&b, tt.err))
			assert.Contains(t, b.String(), tt.stderr)
			if tt.status != exitInternal {
				assert.Equal(t, tt.stderr, b.String())
			}
		})
	}
}

// A panic on runMain's own goroutine, here from writing the usage to a
// nil stdout, is an internal error with its stack on stderr.
func TestPanicInRunMain(t *testing.T) {
	var errb bytes.Buffer
	status := runMain([]string{"help"}, nil, &errb)
	assert.Equal(t, exitInternal, status)
	assert.True(t, strings.HasPrefix(errb.String(), "pvsim: internal error in pvsim (a bug, please report it): panic: runtime error:"), errb.String())
	assert.Contains(t, errb.String(), "goroutine ")
	assert.Contains(t, errb.String(), "writeUsage")
}

// A --schedule that does not fit the run is a pvsim error that names the
// first decision that never applied and the points the run had.
func TestRunScheduleMisfit(t *testing.T) {
	needKVM(t)
	for _, tt := range []struct {
		args   []string
		status int
		stderr string // a regexp
	}{
		{[]string{"run", "race", "--schedule", "cpus=2", "--", "strategy=none"}, exitOK, `^pvsim: deterministic run: \d+ scheduling points, trace sha256 [0-9a-f]{64}\n$`},
		{[]string{"run", "race", "--schedule", "cpus=2,99999:1", "--", "strategy=none"}, exitError,
			`\npvsim: the schedule does not fit the run: its decision 99999:1 never applied: the run had only \d+ scheduling points; the run itself: the guest powered off\n$`},
		{[]string{"run", "shutdown", "--schedule", "cpus=2"}, exitError,
			`\npvsim: the schedule does not fit the run: it is for 2 vCPUs, but the run brought up 1 \(in \d+ scheduling points\); the run itself: the guest powered off\n$`},
		{[]string{"run", "ptwr-oops", "--schedule", "cpus=1,9999:0"}, exitError,
			`\npvsim: the schedule does not fit the run: its decision 9999:0 never applied: .*; the run itself: the guest crashed`},
		{[]string{"run", "hello", "--schedule", "cpus=4,3:3"}, exitError, `\npvsim: schedule: at step 3 it chose vCPU 3, which is not up`},
		{[]string{"run", "race", "--schedule", "cpus=2,5:1,3:0", "--", "strategy=none"}, exitUsage, `steps must increase \(3 after 5\)`},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			status, _, stderr := pvsim(tt.args...)
			assert.Equal(t, tt.status, status, stderr)
			assert.Regexp(t, tt.stderr, stderr)
		})
	}
}

// runOutput is what the tests read of `pvsim run --json`.
type runOutput struct {
	Kernel     string
	Reason     string
	ExitStatus *int `json:"exit_status"`
	VCPU       *int
	Error      string
	Oops       *struct {
		Function, Where, Source, Fault, Text string
		NotEmulated                          string `json:"not_emulated"`
	}
	NotOffered  []string `json:"not_offered"`
	Steps       uint64
	TraceSHA256 string `json:"trace_sha256"`
	Exits       []struct {
		VCPU                                  int
		Hypercalls, Traps, Pins               map[string]uint64
		Interrupted, PTWrites, Bounces, Total uint64
		ClearYoung                            uint64 `json:"ptep_test_and_clear_young"`
		Unpins, Audits                        uint64
		UserSyscalls                          uint64 `json:"user_syscalls"`
		ModeSwitches                          uint64 `json:"mode_switches"`
	}
}

// run --json prints one JSON object on stdout, the console going to
// stderr, for runs that power off and for runs that fail.
func TestRunJSON(t *testing.T) {
	needKVM(t)
	for _, tt := range []struct {
		args   []string
		kernel string
		status int
		reason string
		vcpus  int
		errMsg string // in "error"
		oops   string // the oops's function
		traps  string // a trap every vCPU took
	}{
		{[]string{"run", "hello", "--vcpus", "4", "--json"}, "hello", exitOK, "poweroff", 4, "", "", ""},
		{[]string{"run", "triple-fault", "--json"}, "triple-fault", exitFault, "fault", 1, "vCPU 0: triple fault at do_null_write+", "", "PF"},
		{[]string{"run", "ptwr-oops", "--json"}, "ptwr-oops", exitCrash, "crash", 1, "oops at ptep_test_and_clear_young+", "ptep_test_and_clear_young", "PF"},
		{[]string{"run", "--json", "--timeout", "300ms", "hang"}, "hang", exitTimeout, "timeout", 1, "timeout after 300ms", "", ""},
		{[]string{"run", "race", "--json", "--schedule", "cpus=2,99999:1", "--", "strategy=none"}, "race", exitError, "poweroff", 2,
			"its decision 99999:1 never applied", "", ""},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			status, stdout, stderr := pvsim(tt.args...)
			require.Equal(t, tt.status, status, stderr)
			var r runOutput
			dec := json.NewDecoder(strings.NewReader(stdout))
			dec.DisallowUnknownFields()
			require.NoError(t, dec.Decode(&r), "stdout:\n%s", stdout)
			assert.False(t, dec.More(), "one object on stdout:\n%s", stdout)

			assert.Equal(t, tt.kernel, r.Kernel)
			assert.Equal(t, tt.reason, r.Reason)
			require.NotNil(t, r.ExitStatus)
			assert.Equal(t, tt.status, *r.ExitStatus)
			require.NotNil(t, r.VCPU)
			assert.Equal(t, 0, *r.VCPU)
			if tt.errMsg == "" {
				assert.Empty(t, r.Error)
			} else {
				assert.Contains(t, r.Error, tt.errMsg)
				assert.Contains(t, stderr, "pvsim: "+r.Error+"\n")
			}
			if tt.oops == "" {
				assert.Nil(t, r.Oops)
			} else {
				require.NotNil(t, r.Oops)
				assert.Equal(t, tt.oops, r.Oops.Function)
				assert.Contains(t, r.Oops.Where, tt.oops+"+")
				assert.Contains(t, r.Oops.Fault, "#PF (page fault) writing")
				assert.Contains(t, r.Oops.NotEmulated, "not an L1 pagetable in use")
				assert.True(t, strings.HasPrefix(r.Oops.Text, "BUG: unable to handle page fault"), r.Oops.Text)
			}
			assert.Regexp(t, "^[0-9a-f]{64}$", r.TraceSHA256)
			if slices.Contains(tt.args, "--schedule") {
				assert.NotZero(t, r.Steps)
				assert.Contains(t, stderr, fmt.Sprintf("deterministic run: %d scheduling points, trace sha256 %s\n", r.Steps, r.TraceSHA256))
			} else {
				assert.Zero(t, r.Steps)
			}
			require.Len(t, r.Exits, tt.vcpus)
			for i, e := range r.Exits {
				assert.Equal(t, i, e.VCPU)
				var sum uint64
				for name, n := range e.Hypercalls {
					assert.NotZero(t, n, name)
					sum += n
				}
				for name, n := range e.Traps {
					assert.NotZero(t, n, name)
					sum += n
				}
				assert.NotZero(t, e.Hypercalls["set_trap_table"], "vCPU %d", i)
				for level, n := range e.Pins {
					assert.NotZero(t, n, level)
					assert.Contains(t, []string{"L1", "L2", "L3", "L4"}, level)
				}
				assert.GreaterOrEqual(t, e.Total, sum)
				if tt.traps != "" {
					assert.NotZero(t, e.Traps[tt.traps], "vCPU %d", i)
				}
			}
		})
	}
	// The console goes to stderr.
	_, stdout, stderr := pvsim("run", "hello", "--vcpus", "2", "--json")
	assert.Contains(t, stderr, "all 2 vCPUs checked in")
	assert.NotContains(t, stdout, "checked in")
}

// TestRaceRatio: with --ptwr-reps, one race command also times isolated
// emulated writes to a pinned L1 and reports the young clear's cost as a
// ratio to them, beside what reclaim waited for at the MMU lock.
func TestRaceRatio(t *testing.T) {
	needKVM(t)
	status, out, errOut := pvsim("race", "--strategy", "hv-pin-aware", "--trials", "30", "--ptwr-reps", "200", "--json")
	require.Equal(t, 0, status, errOut)
	var r struct {
		YoungClearUs    float64 `json:"young_clear_us"`
		PTWritePinnedUs float64 `json:"ptwr_pinned_us"`
		YoungClearRatio float64 `json:"young_clear_ratio"`
		MMULocks        uint64  `json:"mmu_locks"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &r), out)
	require.Positive(t, r.YoungClearUs, out)
	require.Positive(t, r.PTWritePinnedUs, out)
	assert.InDelta(t, r.YoungClearUs/r.PTWritePinnedUs, r.YoungClearRatio, 1e-9)
	assert.Positive(t, r.MMULocks, "reclaim's emulated writes take the MMU lock")
}

// pvsim scenarios KERNEL: a row for each of the kernel's variants in the
// catalogue, and each schedule it prints replays its violation with
// `pvsim run KERNEL --schedule S -- ARGS`, as its help says.
func TestScenariosReplay(t *testing.T) {
	needKVM(t)
	status, stdout, stderr := pvsim("scenarios", "hugetlb-truncate", "--bound", "2", "--budget", "20", "--stress", "100ms", "--json")
	require.Equal(t, exitOK, status, stderr)
	var found []struct {
		Kernel   string
		Args     []string
		Oracle   string
		DFS      bool
		Schedule string
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &found), stdout)
	rows := map[string]bool{}
	replayed := 0
	for _, f := range found {
		require.Equal(t, "hugetlb-truncate", f.Kernel)
		rows[strings.Join(f.Args, " ")] = true
		if !f.DFS {
			continue
		}
		replayed++
		run := append([]string{"run", f.Kernel, "--schedule", f.Schedule, "--"}, f.Args...)
		status, out, stderr := pvsim(run...)
		assert.Equal(t, exitOK, status, stderr)
		assert.Regexp(t, " "+f.Oracle+"=[1-9]", out, "%v", run)
	}
	assert.Len(t, rows, 5, "%v", rows)
	assert.Positive(t, replayed, "no row's violation was found within bound 2")
}
