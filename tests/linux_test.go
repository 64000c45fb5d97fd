package tests

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
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
	cmd := exec.Command("bash", "../scripts/linux.sh", "--init", init, "--fetch-only")
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
