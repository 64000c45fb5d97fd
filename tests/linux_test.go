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

// debianKernel fetches Debian's stock amd64 kernel with scripts/linux.sh
// (apt-get download, cached outside the repository) and returns its
// bzImage, or skips the test, saying why, when the package cannot be had.
func debianKernel(t *testing.T) []byte {
	t.Helper()
	if testing.Short() {
		t.Skip("SKIP: -short: not downloading Debian's kernel (70 MB)")
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = t.TempDir()
	}
	cmd := exec.Command("bash", "../scripts/linux.sh", "--fetch-only")
	cmd.Env = append(os.Environ(), "PVSIM_CACHE="+filepath.Join(cache, "pvsim", "debian"))
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		msg := err.Error()
		if errors.As(err, &ee) {
			msg = strings.TrimSpace(string(ee.Stderr))
		}
		t.Skipf("SKIP: Debian's kernel package cannot be had from the registry here: %s", msg)
	}
	image, err := os.ReadFile(strings.TrimSpace(string(out)))
	require.NoError(t, err)
	return image
}

// TestDebianKernel boots Debian's stock kernel (the one linux-image-amd64
// depends on today), a bzImage, with the pagetable audit on:
// the payload is unpacked, startup_xen's wrmsr of GS_BASE is emulated,
// hypercalls come by syscall (a Linux without a hypercall page),
// xen_start_kernel finds the features it requires, pins its L4
// (MMUEXT_PIN_L4_TABLE), prints the banner through the Xen early console,
// runs on the vcpuop clockevent with event upcalls, and talks to the
// xenstore (its balloon driver's watch).
// Without a root filesystem or an initramfs it stops there, where every
// Linux without one stops: "VFS: Unable to mount root fs", a panic, and
// pvsim's report names the hypercalls it did not offer on the way.
func TestDebianKernel(t *testing.T) {
	needKVM(t)
	image := debianKernel(t)
	require.True(t, bzimage.Is(image), "the package's vmlinuz is a bzImage")
	var console bytes.Buffer
	// The audit after an MMU hypercall at most every 10 ms: after every
	// one, the boot takes minutes.
	cfg := hv.Config{Name: "vmlinuz", Kernel: image, Memory: 512 << 20, Timeout: 5 * time.Minute, Audit: true,
		AuditInterval: 10 * time.Millisecond, CmdLine: "earlyprintk=xen console=hvc0", Console: &console}
	d, err := hv.New(cfg)
	require.NoError(t, err)
	defer d.Close()
	res, err := d.Run(context.Background())
	out := console.String()
	require.NoError(t, err, "console tail:\n%s", tail(out, 3000))
	assert.Contains(t, out, "Linux version ", "the banner")
	assert.Contains(t, out, "xen:balloon: Initialising balloon driver")
	assert.Contains(t, out, "clocksource: Switched to clocksource xen")
	assert.Contains(t, out, "VFS: Unable to mount root fs", "the kernel ran to where it wants a root")
	assert.Equal(t, xen.ShutdownCrash, res.Reason, "console tail:\n%s", tail(out, 3000))
	require.NotEmpty(t, res.NotOffered, "the report names the hypercalls pvsim did not offer")
	t.Logf("Debian's kernel stopped: %v; not offered: %v", res.Oops.Text, res.NotOffered)

	s := res.Exits
	require.Len(t, s, 1)
	assert.NotZero(t, s[0].Pins[3], "MMUEXT_PIN_L4_TABLE")
	assert.NotZero(t, s[0].Hypercalls[xen.HypercallXenVersion], "XENVER_get_features")
	assert.Greater(t, s[0].SyscallHypercalls, s[0].Hypercalls[xen.HypercallXenVersion], "hypercalls made by syscall")
	assert.NotZero(t, s[0].Emulations, "startup_xen's wrmsr of GS_BASE")
	assert.NotZero(t, s[0].Upcalls, "event upcalls delivered")
	assert.NotZero(t, s[0].Hypercalls[xen.HypercallVCPUOp], "the vcpuop clockevent")
}
