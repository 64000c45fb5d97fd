package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/guest"
	"github.com/pvsim/pvsim/hv"
	"github.com/pvsim/pvsim/junit"
	"github.com/pvsim/pvsim/xen"
	"github.com/pvsim/pvsim/xtf"
)

// writeCfg writes an xl configuration file into dir.
func writeCfg(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

func TestTestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeCfg(t, dir, "bad.cfg", "name=\"x\"\nmemory=64M\n")
	hvm := writeCfg(t, dir, "hvm.cfg", "type=\"hvm\"\nkernel=\"hello\"\n")
	nokernel := writeCfg(t, dir, "nokernel.cfg", "name=\"x\"\n")
	missing := writeCfg(t, dir, "missing.cfg", "kernel=\"no-such-image\"\n")
	big := writeCfg(t, dir, "big.cfg", "kernel=\"hello\"\nvcpus=9\n")
	for _, tt := range []struct {
		args   []string
		status int
		want   string
	}{
		{[]string{"test"}, exitUsage, "test takes one or more KERNELs"},
		{[]string{"test", "hello", "--", "x=1"}, exitUsage, "test takes no guest command line"},
		{[]string{"test", "-j", "-1", "hello"}, exitUsage, "-j -1: want a number of domains, or 0"},
		{[]string{"test", "--timeout", "-1s", "hello"}, exitUsage, "--timeout cannot be negative"},
		{[]string{"test", "--vcpus", "9", "hello"}, exitUsage, "9 vCPUs: pvsim supports 1 to 8"},
		{[]string{"test", "--mem", "1K", "hello"}, exitUsage, "memory of 1024 bytes"},
		{[]string{"test", "--no-such-flag"}, exitUsage, "flag provided but not defined: -no-such-flag (see 'pvsim test -h')"},
		{[]string{"test", "hello", "no-such-kernel"}, exitError, `kernel "no-such-kernel": no embedded kernel has that name`},
		{[]string{"test", bad}, exitError, bad + `:2: "64M" is not a number`},
		{[]string{"test", hvm}, exitError, hvm + `: type="hvm": pvsim runs PV guests only`},
		{[]string{"test", nokernel}, exitError, nokernel + ": no kernel= to run"},
		{[]string{"test", missing}, exitError, missing + `: kernel="no-such-image": open `},
		{[]string{"test", big}, exitError, big + ": 9 vCPUs: pvsim supports 1 to 8"},
		{[]string{"test", filepath.Join(dir, "absent.cfg")}, exitError, "configuration open "},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			status, stdout, stderr := pvsim(tt.args...)
			assert.Equal(t, tt.status, status, stderr)
			assert.Empty(t, stdout, "nothing runs")
			assert.Contains(t, stderr, tt.want)
			assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
		})
	}
}

// pvsim test -h, and pvsim help, show every flag of test.
func TestTestHelp(t *testing.T) {
	status, usage, stderr := pvsim("test", "-h")
	require.Equal(t, exitOK, status, stderr)
	assert.True(t, strings.HasPrefix(usage, "Usage: pvsim test KERNEL..."), usage)
	var flags []string
	for _, m := range flagName.FindAllStringSubmatch(usage, -1) {
		flags = append(flags, m[1])
	}
	assert.Equal(t, []string{"audit", "j", "json", "junit", "mem", "timeout", "vcpus"}, flags)
	for _, v := range verdicts {
		assert.Contains(t, usage, string(v))
	}

	_, help, _ := pvsim("help")
	at := strings.Index(help, "\n  pvsim test ")
	require.GreaterOrEqual(t, at, 0, help)
	section, _, _ := strings.Cut(help[at+1:], "\n  pvsim ")
	for _, f := range flags {
		assert.Regexp(t, `[ \[]--?`+f+`[ \]]`, section)
	}
	assert.Contains(t, help, "Exit status of test:")
}

// A .cfg's kernel= is found beside it when the tree it names was built
// elsewhere; the .cfg beside an image configures it; its settings win
// over the flags, which fill in what it does not set.
func TestResolveTest(t *testing.T) {
	dir := t.TempDir()
	hello, ok := guest.Lookup("hello")
	require.True(t, ok)
	image := filepath.Join(dir, "test-pv64-widget")
	require.NoError(t, os.WriteFile(image, hello.ELF, 0o755))
	writeCfg(t, dir, "test-pv64-widget.cfg", "name=\"test-pv64-widget\"\nvcpus=2\nmemory=32\nkernel=\"/elsewhere/tests/widget/test-pv64-widget\"\n")
	variation := writeCfg(t, dir, "test-pv64-widget~fast.cfg", "name=\"test-pv64-widget~fast\"\nkernel=\"/elsewhere/tests/widget/test-pv64-widget\"\ncmdline=\"fast\"\nextra=\"slow\"\n")
	relative := writeCfg(t, dir, "relative.cfg", "kernel=\"test-pv64-widget\"\nextra=\"a=1\"\n")
	embedded := writeCfg(t, dir, "embedded.cfg", "kernel=\"shutdown\"\nextra=\"reason=reboot\"\n")
	// An image elsewhere: the one of the same name beside the .cfg
	// comes first; another name is taken from where kernel= says.
	elsewhere := t.TempDir()
	for _, name := range []string{"test-pv64-widget", "other"} {
		require.NoError(t, os.WriteFile(filepath.Join(elsewhere, name), hello.ELF, 0o755))
	}
	moved := writeCfg(t, dir, "moved.cfg", "kernel=\""+filepath.Join(elsewhere, "test-pv64-widget")+"\"\n")
	other := writeCfg(t, dir, "other.cfg", "kernel=\""+filepath.Join(elsewhere, "other")+"\"\n")

	f := &testFlags{vcpus: 3, mem: 8 << 20, timeout: time.Second, audit: true}
	for _, tt := range []struct {
		arg, name, config, kernel, cmdline string
		vcpus                              int
		mem                                uint64
	}{
		{"hello", "hello", "", "hello", "", 3, 8 << 20},
		{image, "test-pv64-widget", image + ".cfg", image, "", 2, 32 << 20},
		{variation, "test-pv64-widget~fast", variation, image, "fast", 3, 8 << 20},
		{relative, relative, relative, image, "a=1", 3, 8 << 20},
		{embedded, embedded, embedded, "shutdown", "reason=reboot", 3, 8 << 20},
		{moved, moved, moved, image, "", 3, 8 << 20},
		{other, other, other, filepath.Join(elsewhere, "other"), "", 3, 8 << 20},
	} {
		t.Run(tt.arg, func(t *testing.T) {
			s, err := resolveTest(tt.arg, f)
			require.NoError(t, err)
			assert.Equal(t, tt.name, s.name)
			assert.Equal(t, tt.config, s.config)
			assert.Equal(t, tt.kernel, s.cfg.Name)
			assert.NotEmpty(t, s.cfg.Kernel)
			assert.Equal(t, tt.cmdline, s.cfg.CmdLine)
			assert.Equal(t, tt.vcpus, s.cfg.VCPUs)
			assert.Equal(t, tt.mem, s.cfg.Memory)
			assert.Equal(t, time.Second, s.cfg.Timeout)
			assert.True(t, s.cfg.Audit)
			assert.False(t, s.xtf, "hello's guest-OS note is not XTF's")
		})
	}
}

// The verdicts, from how a domain ended and what its console said.
func TestJudge(t *testing.T) {
	poweroff := hv.Result{Reason: xen.ShutdownPoweroff}
	crash := hv.Result{Reason: xen.ShutdownCrash}
	reboot := hv.Result{Reason: xen.ShutdownReboot}
	timeout := &hv.GuestError{Kind: hv.Timeout, After: time.Second, Detail: "vCPU 0 at spin"}
	long := "Fail: " + strings.Repeat("x", 200)
	for _, tt := range []struct {
		name    string
		isXTF   bool
		console string
		res     hv.Result
		runErr  error
		verdict verdict
		detail  string
		xtf     bool
	}{
		{"pass", false, "hello\n", poweroff, nil, verdictPass, "", false},
		{"fail", false, "", reboot, nil, verdictFail, "the guest asked to reboot (vCPU 0)", false},
		{"crash", false, "", crash, nil, verdictCrash, "the guest crashed (SHUTDOWN_crash from vCPU 0)", false},
		{"timeout", false, "", hv.Result{}, timeout, verdictCrash, "timeout after 1s: the guest did not shut down; vCPU 0 at spin", false},
		{"pvsim error", false, "", hv.Result{}, errors.New("kernel k: not an ELF file"), verdictCrash, "kernel k: not an ELF file", false},
		{"xtf success", true, "Test result: SUCCESS\n", poweroff, nil, verdictSuccess, "", true},
		{"xtf by its output", false, "Skip: no gadget\nTest result: SKIP\n", poweroff, nil, verdictSkip, "Skip: no gadget", true},
		{"xtf warnings", true, "Warning: wobbly\nTest result: SUCCESS with warnings\n", poweroff, nil, verdictSuccess, "with warnings: Warning: wobbly", true},
		{"xtf warnings without reason", true, "Test result: SUCCESS with warnings\n", poweroff, nil, verdictSuccess, "with warnings", true},
		{"xtf failure", true, "Fail: got 3\x1b[0m\nTest result: FAILURE\n", poweroff, nil, verdictFailure, "Fail: got 3?[0m", true},
		{"xtf long reason", true, long + "\nTest result: FAILURE\n", poweroff, nil, verdictFailure, long[:reasonWidth-3] + "...", true},
		{"xtf error", true, "Error: broken\nTest result: ERROR\n", poweroff, nil, verdictError, "Error: broken", true},
		{"xtf without result", true, "--- Xen Test Framework ---\n", poweroff, nil, verdictCrash, `powered off without a "Test result:" line`, true},
		{"xtf result then reboot", true, "Test result: SUCCESS\n", reboot, nil, verdictCrash, "the guest asked to reboot (vCPU 0)", true},
		{"xtf panic", true, "PANIC: the sky fell in\n", crash, nil, verdictCrash, "the guest crashed (SHUTDOWN_crash from vCPU 0); PANIC: the sky fell in", true},
		{"xtf timeout", true, "", hv.Result{}, timeout, verdictCrash, "timeout after 1s: the guest did not shut down; vCPU 0 at spin", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var r testResult
			judge(&r, tt.isXTF, xtf.ParseConsole([]byte(tt.console)), tt.res, tt.runErr)
			assert.Equal(t, tt.verdict, r.verdict)
			assert.Equal(t, tt.detail, r.detail)
			assert.Equal(t, tt.xtf, r.xtf)
			assert.Equal(t, tt.verdict == verdictPass || tt.verdict == verdictSuccess || tt.verdict == verdictSkip, r.verdict.passed())
		})
	}
}

// The console keeps its last bytes, and counts the others.
func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{limit: 8}
	b.Write([]byte("0123"))
	got, dropped := b.tail()
	assert.Equal(t, "0123", string(got))
	assert.Zero(t, dropped)
	for range 10 {
		b.Write([]byte("abcdef"))
	}
	got, dropped = b.tail()
	assert.Equal(t, "efabcdef", string(got))
	assert.Equal(t, int64(64-8), dropped)
}

// row matches a row of pvsim test's table: name, verdict, seconds, detail.
func row(name string, v verdict, detail string) string {
	return `(?m)^` + regexp.QuoteMeta(name) + ` +` + string(v) + ` +[0-9]+\.[0-9]{2}( +` + detail + `)?$`
}

// TestTestKernels runs embedded kernels, one through a .cfg of its own,
// and checks the table, the progress lines and the JUnit XML.
func TestTestKernels(t *testing.T) {
	needKVM(t)
	dir := t.TempDir()
	reboot := writeCfg(t, dir, "reboot.cfg", "name=\"reboot\" # the test's name\nkernel=\"shutdown\"\nextra=\"reason=reboot\"\n")
	two := writeCfg(t, dir, "two.cfg", "name=\"hello-2\"\nkernel=\"hello\"\nvcpus=2\nmemory=32\n")
	xml := filepath.Join(dir, "junit.xml")
	status, stdout, stderr := pvsim("test", "-j", "2", "hello", "triple-fault", reboot, two, "--junit", xml)
	assert.Equal(t, exitError, status, "stdout:\n%s\nstderr:\n%s", stdout, stderr)

	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	require.Len(t, lines, 6, stdout)
	assert.Regexp(t, `^name +verdict +seconds +detail$`, lines[0])
	assert.Regexp(t, row("hello", verdictPass, ""), lines[1])
	assert.Regexp(t, row("triple-fault", verdictCrash, `vCPU 0: triple fault at do_null_write\+.*`), lines[2])
	assert.Regexp(t, row("reboot", verdictFail, regexp.QuoteMeta("the guest asked to reboot (vCPU 0)")), lines[3])
	assert.Regexp(t, row("hello-2", verdictPass, ""), lines[4])
	assert.Regexp(t, `^4 tests in [0-9.]+s: 2 PASS, 1 FAIL, 1 CRASH$`, lines[5])

	progress := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	require.Len(t, progress, 4, stderr)
	for _, l := range progress {
		assert.Regexp(t, `^\[[1-4]/4\] (PASS|FAIL|CRASH) +(hello|triple-fault|reboot|hello-2) \([0-9.]+s\)$`, l)
	}

	f, err := os.Open(xml)
	require.NoError(t, err)
	defer f.Close()
	doc, err := junit.Read(f)
	require.NoError(t, err)
	assert.Equal(t, []int{4, 1, 1, 0}, []int{doc.Tests, doc.Failures, doc.Errors, doc.Skipped})
	require.Len(t, doc.Suites, 1)
	s := doc.Suites[0]
	assert.Equal(t, "pvsim", s.Name)
	require.Len(t, s.Cases, 4)
	for i, name := range []string{"hello", "triple-fault", "reboot", "hello-2"} {
		c := s.Cases[i]
		assert.Equal(t, name, c.Name)
		assert.Equal(t, "pvsim", c.Classname)
		assert.Positive(t, c.Time)
	}
	assert.Nil(t, s.Cases[0].Failure)
	assert.Nil(t, s.Cases[0].Error)
	assert.Contains(t, s.Cases[0].SystemOut, "all 1 vCPUs checked in")
	require.NotNil(t, s.Cases[1].Error)
	assert.Equal(t, "CRASH", s.Cases[1].Error.Type)
	assert.Contains(t, s.Cases[1].Error.Message, "triple fault")
	require.NotNil(t, s.Cases[2].Failure)
	assert.Equal(t, "FAIL", s.Cases[2].Failure.Type)
	assert.Contains(t, s.Cases[2].SystemOut, "reboot")
	assert.Contains(t, s.Cases[3].SystemOut, "all 2 vCPUs checked in", "vcpus= from the .cfg")
}

// Every kernel passing is status 0; --json prints one array.
func TestTestJSON(t *testing.T) {
	needKVM(t)
	status, stdout, stderr := pvsim("test", "hello", "shutdown", "--json")
	require.Equal(t, exitOK, status, stderr)
	var got []testJSON
	require.NoError(t, json.Unmarshal([]byte(stdout), &got), stdout)
	require.Len(t, got, 2)
	for i, name := range []string{"hello", "shutdown"} {
		assert.Equal(t, name, got[i].Name)
		assert.Equal(t, name, got[i].Kernel)
		assert.Equal(t, "pvsim", got[i].Kind)
		assert.Equal(t, verdictPass, got[i].Verdict)
		assert.Equal(t, "poweroff", got[i].Reason)
		assert.Equal(t, exitOK, got[i].ExitStatus)
		assert.Empty(t, got[i].Error)
	}
	assert.Equal(t, 2, strings.Count(stderr, "\n"), stderr)

	status, stdout, stderr = pvsim("test", "--timeout", "300ms", "--json", "hang")
	require.Equal(t, exitError, status, stderr)
	require.NoError(t, json.Unmarshal([]byte(stdout), &got), stdout)
	require.Len(t, got, 1)
	assert.Equal(t, verdictCrash, got[0].Verdict)
	assert.Equal(t, "timeout", got[0].Reason)
	assert.Equal(t, exitTimeout, got[0].ExitStatus)
	assert.Contains(t, got[0].Detail, "timeout after 300ms")
}

// A file the domain builder refuses is a CRASH, not the end of the run.
func TestTestBadImage(t *testing.T) {
	needKVM(t)
	junk := filepath.Join(t.TempDir(), "junk.elf")
	require.NoError(t, os.WriteFile(junk, []byte("junk"), 0o644))
	status, stdout, stderr := pvsim("test", junk, "hello")
	assert.Equal(t, exitError, status, stderr)
	assert.Regexp(t, row(junk, verdictCrash, regexp.QuoteMeta("kernel "+junk+": not an ELF file")+".*"), stdout)
	assert.Regexp(t, row("hello", verdictPass, ""), stdout)
}
