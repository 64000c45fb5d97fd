// Package tests holds pvsim's end-to-end tests: they boot the embedded guest
// kernels on KVM and check what the guest printed and how the domain ended.
package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/builder"
	"github.com/pvsim/pvsim/guest"
	"github.com/pvsim/pvsim/hv"
	"github.com/pvsim/pvsim/xen"
)

// needKVM skips, loudly, when this machine has no /dev/kvm.
func needKVM(t testing.TB) {
	t.Helper()
	if _, err := os.Stat("/dev/kvm"); err != nil {
		t.Skipf("SKIP: KVM-backed test needs /dev/kvm: %v", err)
	}
}

// boot runs an embedded kernel, with the pagetable audit on, and returns
// its console output and outcome.
func boot(t *testing.T, name string, vcpus int, timeout time.Duration, cmdline string) (string, hv.Result, error) {
	t.Helper()
	needKVM(t)
	k, ok := guest.Lookup(name)
	require.True(t, ok, "kernel %s is not embedded", name)
	var out bytes.Buffer
	d, err := hv.New(hv.Config{Name: name, Kernel: k.ELF, VCPUs: vcpus, Console: &out, Timeout: timeout, CmdLine: cmdline, Audit: true})
	require.NoError(t, err)
	defer d.Close()
	res, err := d.Run(context.Background())
	return out.String(), res, err
}

func TestHello(t *testing.T) {
	for _, n := range []int{1, 2, 4, 8} {
		t.Run(fmt.Sprintf("%d vCPUs", n), func(t *testing.T) {
			out, res, err := boot(t, "hello", n, 20*time.Second, "")
			require.NoError(t, err, "console:\n%s", out)
			assert.Equal(t, xen.ShutdownPoweroff, res.Reason)
			assert.Equal(t, 0, res.VCPU)
			for id := 0; id < n; id++ {
				assert.Equal(t, 1, strings.Count(out, fmt.Sprintf("hello from vCPU %d of %d\n", id, n)), "vCPU %d, console:\n%s", id, out)
			}
			assert.Contains(t, out, fmt.Sprintf("all %d vCPUs checked in\n", n))
			assert.Equal(t, n+1, strings.Count(out, "\n"), "console:\n%s", out)
			// Every vCPU made hypercalls: it printed.
			for id, s := range res.Exits {
				assert.NotZero(t, s.Hypercalls[xen.HypercallConsoleIO], "vCPU %d", id)
			}
		})
	}
}

func TestShutdownReasons(t *testing.T) {
	for _, r := range []xen.ShutdownReason{xen.ShutdownPoweroff, xen.ShutdownReboot, xen.ShutdownCrash, xen.ShutdownWatchdog} {
		t.Run(r.String(), func(t *testing.T) {
			_, res, err := boot(t, "shutdown", 1, 10*time.Second, "reason="+r.String())
			require.NoError(t, err)
			assert.Equal(t, r, res.Reason)
		})
	}
}

// guestFault boots name and returns the GuestError it must end with.
func guestFault(t *testing.T, name string, timeout time.Duration) (string, *hv.GuestError) {
	t.Helper()
	out, _, err := boot(t, name, 1, timeout, "")
	var ge *hv.GuestError
	require.True(t, errors.As(err, &ge), "want a GuestError, got %v; console:\n%s", err, out)
	return out, ge
}

func TestTripleFault(t *testing.T) {
	out, ge := guestFault(t, "triple-fault", 10*time.Second)
	assert.Equal(t, hv.TripleFault, ge.Kind)
	assert.Equal(t, 0, ge.VCPU)
	assert.True(t, strings.HasPrefix(ge.Where, "do_null_write+"), ge.Where)
	msg := ge.Error()
	assert.True(t, strings.HasPrefix(msg, "vCPU 0: triple fault at do_null_write+"), msg)
	assert.Contains(t, msg, "#PF (page fault) writing 0x0: page not present")
	assert.NotContains(t, msg, "\n")
	assert.NotContains(t, out, "did not fault", "the faulting write must not complete")
}

func TestPrivilegedInstruction(t *testing.T) {
	_, ge := guestFault(t, "privop", 10*time.Second)
	assert.Equal(t, hv.TripleFault, ge.Kind)
	assert.True(t, strings.HasPrefix(ge.Where, "native_load_idt+"), ge.Where)
	assert.Contains(t, ge.Error(), "#GP (general protection fault)")
	assert.Contains(t, ge.Error(), "lidt")
	assert.Contains(t, ge.Error(), "CPL0-only instruction")
}

func TestTimeout(t *testing.T) {
	start := time.Now()
	out, ge := guestFault(t, "hang", time.Second)
	assert.Contains(t, out, "spinning")
	assert.Equal(t, hv.Timeout, ge.Kind)
	assert.Equal(t, 0, ge.VCPU)
	assert.True(t, strings.HasPrefix(ge.Where, "spin_forever+"), ge.Where)
	assert.Contains(t, ge.Error(), "timeout after 1s")
	assert.Less(t, time.Since(start), 30*time.Second, "a timed-out domain must stop")
}

func TestMalformedELF(t *testing.T) {
	hello, _ := guest.Lookup("hello")
	for _, tt := range []struct {
		name  string
		image []byte
		want  string
	}{
		{"garbage", []byte("this is not a kernel"), "not an ELF file"},
		{"truncated", hello.ELF[:100], "malformed ELF"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := hv.New(hv.Config{Name: tt.name, Kernel: tt.image})
			var ke *builder.KernelError
			require.True(t, errors.As(err, &ke), "want a KernelError, got %v", err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
