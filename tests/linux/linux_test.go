// Package linux holds the end-to-end tests that boot Debian's stock kernel
// on pvsim, from an initramfs of Debian's static BusyBox: its packages
// come from Debian's registry (scripts/linux.sh), and the tests skip,
// saying why, when they cannot be had. They are a package of their own
// so that their minutes count against a test binary of their own.
package linux

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/bzimage"
	"github.com/pvsim/pvsim/hv"
	"github.com/pvsim/pvsim/xen"
)

// debianLinux fetches Debian's stock amd64 kernel and busybox-static with
// scripts/linux.sh (apt-get download, cached outside the repository),
// which packs an initramfs whose /init is scripts/initramfs/INIT.init,
// and returns the kernel's bzImage and the initramfs; or skips the test,
// saying why, when the packages cannot be had.
func debianLinux(t *testing.T, init string) (kernel, initrd []byte) {
	t.Helper()
	if testing.Short() {
		t.Skip("SKIP: -short: not downloading Debian's kernel (70 MB)")
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = t.TempDir()
	}
	cmd := exec.Command("bash", "../../scripts/linux.sh", "--init", init, "--fetch-only")
	cmd.Env = append(os.Environ(), "PVSIM_CACHE="+filepath.Join(cache, "pvsim", "debian"))
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		msg := err.Error()
		if errors.As(err, &ee) {
			msg = strings.TrimSpace(string(ee.Stderr))
		}
		t.Skipf("SKIP: Debian's kernel or busybox-static cannot be had from the registry here: %s", msg)
	}
	paths := strings.Fields(string(out))
	require.Len(t, paths, 2, "linux.sh --fetch-only prints the kernel and the initramfs: %q", out)
	kernel, err = os.ReadFile(paths[0])
	require.NoError(t, err)
	initrd, err = os.ReadFile(paths[1])
	require.NoError(t, err)
	return kernel, initrd
}

// TestDebianKernel boots Debian's stock kernel (the one linux-image-amd64
// depends on today), a bzImage, on 2 vCPUs, with the pagetable audit on,
// to the BusyBox shell of scripts/linux.sh's initramfs, types commands
// into its console and powers it off from the shell: the payload is
// unpacked, hypercalls come by syscall (a Linux without a hypercall
// page), xen_start_kernel pins its L4, runs on the vcpuop clockevent with
// event upcalls, brings its second vCPU up with VCPUOP_initialise, talks
// to the xenstore, unpacks the initramfs, and runs init in user mode,
// whose shell reads hvc0.
func TestDebianKernel(t *testing.T) {
	needKVM(t)
	image, initrd := debianLinux(t, "shell")
	require.True(t, bzimage.Is(image), "the package's vmlinuz is a bzImage")
	var console bytes.Buffer
	in := strings.NewReader("echo typed; uname -m\npoweroff -f\n")
	// The audit after an MMU hypercall at most every 10 ms: after every
	// one, the boot takes minutes.
	cfg := hv.Config{Name: "vmlinuz", Kernel: image, Initrd: initrd, VCPUs: 2, Memory: 512 << 20, Timeout: 5 * time.Minute,
		Audit: true, AuditInterval: 10 * time.Millisecond, CmdLine: "console=hvc0", Console: &console, ConsoleIn: in}
	d, err := hv.New(cfg)
	require.NoError(t, err)
	defer d.Close()
	res, err := d.Run(context.Background())
	out := console.String()
	require.NoError(t, err, "console tail:\n%s", tail(out, 3000))
	assert.Equal(t, xen.ShutdownPoweroff, res.Reason, "console tail:\n%s", tail(out, 3000))
	for _, want := range []string{"Linux version ", "smp: Brought up 1 node, 2 CPUs", "clocksource: Switched to clocksource xen",
		"Checked W+X mappings: passed", "init: BusyBox on Linux", "/ # ", "typed\r\nx86_64\r\n"} {
		assert.Contains(t, out, want, "console tail:\n%s", tail(out, 3000))
	}

	s := res.Exits
	require.Len(t, s, 2)
	assert.NotZero(t, s[0].Pins[3], "MMUEXT_PIN_L4_TABLE")
	assert.NotZero(t, s[0].Hypercalls[xen.HypercallXenVersion], "XENVER_get_features")
	assert.Greater(t, s[0].SyscallHypercalls, s[0].Hypercalls[xen.HypercallXenVersion], "hypercalls made by syscall")
	assert.NotZero(t, s[0].Emulations, "startup_xen's wrmsr of GS_BASE")
	assert.NotZero(t, s[0].Upcalls, "event upcalls delivered")
	assert.NotZero(t, s[0].Hypercalls[xen.HypercallVCPUOp], "the vcpuop clockevent")
	assert.NotZero(t, s[1].Hypercalls[xen.HypercallIret], "vCPU 1 came up and ran")
	assert.NotZero(t, s[0].UserSyscalls+s[1].UserSyscalls, "user mode made syscalls")
}

// TestLinuxStress is Linux's own fork and exit under pvsim's audit: the
// initramfs's /init (scripts/initramfs/stress.init) turns on swap on zram
// and runs a memory hog, so that the kernel reclaims (and its
// ptep_test_and_clear_young clears Accessed bits in pinned pagetables),
// while 1,000 processes fork, exec, touch memory and exit on 2 vCPUs,
// each fork pinning a new L4 with xen_pgd_pin and each exit unpinning
// it. The run is `pvsim run --audit --json`, and must power off (status
// 0), the audit never finding a violation, with the JSON counting the
// pins, unpins, emulated pagetable writes and young clears served.
func TestLinuxStress(t *testing.T) {
	needKVM(t)
	image, initrd := debianLinux(t, "stress")
	dir := t.TempDir()
	for name, b := range map[string][]byte{"vmlinuz": image, "initrd.img": initrd} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
	}
	bin := filepath.Join(dir, "pvsim")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/pvsim").CombinedOutput()
	require.NoError(t, err, "%s", out)

	cmd := exec.Command(bin, "run", filepath.Join(dir, "vmlinuz"), "--initrd", filepath.Join(dir, "initrd.img"),
		"--mem", "512M", "--vcpus", "2", "--audit", "--audit-every", "10ms", "--json", "--console-in", "", "--timeout", "12m",
		"--", "console=hvc0", "forks=1000")
	var stdout, console bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &console
	err = cmd.Run()
	con := console.String()
	require.NoError(t, err, "pvsim run exits 0; console tail:\n%s", tail(con, 3000))
	for _, want := range []string{"stress: 2 CPUs, 1000 processes", "stress: 1000 processes forked and exited", "stress: done"} {
		assert.Contains(t, con, want, "console tail:\n%s", tail(con, 3000))
	}
	assert.NotRegexp(t, `stress: process \d+ failed`, con, "every process exited 0")
	m := regexp.MustCompile(`stress: pswpout (\d+)`).FindStringSubmatch(con)
	require.NotNil(t, m, "the reclaim counters")
	swapped, _ := strconv.Atoi(m[1])
	assert.Positive(t, swapped, "the kernel reclaimed (pages swapped out)")

	var r struct {
		Reason     string `json:"reason"`
		ExitStatus int    `json:"exit_status"`
		Exits      []struct {
			Pins       map[string]uint64 `json:"pins"`
			Unpins     uint64            `json:"unpins"`
			PTWrites   uint64            `json:"ptwrites"`
			ClearYoung uint64            `json:"ptep_test_and_clear_young"`
			Audits     uint64            `json:"audits"`
			UserCalls  uint64            `json:"user_syscalls"`
		} `json:"exits"`
	}
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &r), "stdout:\n%s", stdout.String())
	assert.Equal(t, "poweroff", r.Reason)
	assert.Zero(t, r.ExitStatus)
	require.Len(t, r.Exits, 2)
	var pinsL4, unpins, ptwrites, young, audits, calls uint64
	for _, e := range r.Exits {
		pinsL4 += e.Pins["L4"]
		unpins, ptwrites, young, audits, calls = unpins+e.Unpins, ptwrites+e.PTWrites, young+e.ClearYoung, audits+e.Audits, calls+e.UserCalls
	}
	t.Logf("L4 pins %d, unpins %d, emulated pagetable writes %d, of them ptep_test_and_clear_young %d, audits %d, user syscalls %d",
		pinsL4, unpins, ptwrites, young, audits, calls)
	// Every process's fork and exec pins an L4 (the exec's new mm), every
	// exit and exec unpins one.
	assert.GreaterOrEqual(t, pinsL4, uint64(1000), "xen_pgd_pin, at least once a process")
	assert.GreaterOrEqual(t, unpins, uint64(1000), "xen_pgd_unpin")
	assert.Positive(t, young, "reclaim's ptep_test_and_clear_young on pinned pagetables, emulated")
	assert.Greater(t, ptwrites, young)
	assert.Positive(t, audits, "the audit ran")
	assert.GreaterOrEqual(t, calls, uint64(1000), "syscalls from user mode")
}

// needKVM skips, loudly, when this machine has no /dev/kvm.
func needKVM(t testing.TB) {
	t.Helper()
	if _, err := os.Stat("/dev/kvm"); err != nil {
		t.Skipf("SKIP: KVM-backed test needs /dev/kvm: %v", err)
	}
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
