package tests

import (
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/xen"
)

// The random-hypercall guest's budget. The suite's default is short; the
// long mode is
//
//	go test ./tests -run TestRandomHypercalls -hcallfuzz.seeds=20 -hcallfuzz.calls=10000 -timeout 1h
var (
	fuzzSeeds = flag.Int("hcallfuzz.seeds", 3, "TestRandomHypercalls: number of seeds, from 1")
	fuzzCalls = flag.Int("hcallfuzz.calls", 1000, "TestRandomHypercalls: hypercalls per vCPU and seed")
	fuzzVCPUs = flag.Int("hcallfuzz.vcpus", 2, "TestRandomHypercalls: vCPUs, each with its own stream")
)

// TestRandomHypercalls runs the hcall-fuzz kernel: every vCPU makes random
// hypercalls with hostile arguments (its own pages, its pagetable,
// unmapped, hypervisor and non-canonical addresses, garbage; batches of
// up to 2^40 records), with the audit on after every MMU hypercall. The
// domain must live through all of them and power off: no Go panic, no
// hang, no audit failure, no hypervisor fault. The exit counts show that
// the calls reached the hypervisor, batches and continuations included.
//
// With -short (the race detector's run in CI), the default budget is
// halved.
func TestRandomHypercalls(t *testing.T) {
	seeds, calls := *fuzzSeeds, *fuzzCalls
	if testing.Short() && !flagSet("hcallfuzz.seeds") && !flagSet("hcallfuzz.calls") {
		seeds, calls = 2, 500
	}
	for seed := 1; seed <= seeds; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			cmdline := fmt.Sprintf("seed=%d calls=%d", seed, calls)
			out, res, err := boot(t, "hcall-fuzz", *fuzzVCPUs, 10*time.Minute, cmdline)
			require.NoError(t, err, "pvsim run --vcpus %d --audit hcall-fuzz -- %s\nconsole tail:\n%s", *fuzzVCPUs, cmdline, tail(out, 2000))
			assert.Equal(t, xen.ShutdownPoweroff, res.Reason)
			assert.Contains(t, out, "hcall-fuzz: ok\n")
			for id, s := range res.Exits {
				var n uint64
				for _, c := range s.Hypercalls {
					n += c
				}
				assert.GreaterOrEqual(t, n, uint64(calls), "vCPU %d made every call", id)
				for _, nr := range []int{xen.HypercallMMUUpdate, xen.HypercallMMUExtOp, xen.HypercallMulticall, xen.HypercallUpdateVAMapping, xen.HypercallPVSimOp,
					xen.HypercallSetGDT, xen.HypercallUpdateDescriptor, xen.HypercallCallbackOp, xen.HypercallEventChannelOp, xen.HypercallPhysdevOp, xen.HypercallVMAssist, xen.HypercallMemoryOp} {
					assert.NotZero(t, s.Hypercalls[nr], "vCPU %d: no %s", id, xen.HypercallName(nr))
				}
			}
		})
	}
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
