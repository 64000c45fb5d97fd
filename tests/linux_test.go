package tests

import (
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
// depends on today), a bzImage, as far as pvsim's ABI carries it: the
// payload is unpacked, startup_xen's wrmsr of GS_BASE is emulated, the
// first hypercall (XENVER_get_features) comes by syscall, as a Linux
// without a hypercall page makes it, and the kernel stops with a guest
// error, the audit intact. The 6.1 kernel of 2026-11 stops in
// xen_start_kernel, which requires XENFEAT_gnttab_map_avail_bits (grant
// tables, which pvsim does not offer yet): its panic path runs a native
// cli before its IRQ operations are Xen's, and pvsim's error says why
// that cli was not emulated.
func TestDebianKernel(t *testing.T) {
	needKVM(t)
	image := debianKernel(t)
	require.True(t, bzimage.Is(image), "the package's vmlinuz is a bzImage")
	cfg := hv.Config{Name: "vmlinuz", Kernel: image, Memory: 512 << 20, Timeout: time.Minute, Audit: true,
		CmdLine: "earlyprintk=xen console=hvc0"}
	d, err := hv.New(cfg)
	require.NoError(t, err)
	defer d.Close()
	res, err := d.Run(context.Background())
	var ge *hv.GuestError
	require.ErrorAs(t, err, &ge, "the kernel stops where the ABI ends, with a guest error (update this test as it grows)")
	t.Logf("Debian's kernel stopped: %v", ge)
	assert.NotEqual(t, hv.AuditFailure, ge.Kind, "the pagetable audit holds")
	assert.NotEqual(t, hv.HypervisorFault, ge.Kind)
	if strings.Contains(ge.Detail, "on `cli`") {
		// The 6.1 kernel of 2026-11: xen_start_kernel's panic path.
		assert.Contains(t, ge.Detail, "not emulated: the virtual IOPL does not allow cli and sti")
	}
	s := res.Exits
	require.Len(t, s, 1)
	assert.NotZero(t, s[0].Hypercalls[xen.HypercallXenVersion], "XENVER_get_features")
	assert.Equal(t, s[0].Hypercalls[xen.HypercallXenVersion], s[0].SyscallHypercalls, "made by syscall")
	assert.NotZero(t, s[0].Emulations, "startup_xen's wrmsr of GS_BASE")
}
