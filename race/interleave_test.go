package race

import (
	"bytes"
	"debug/elf"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/guest"
	"github.com/pvsim/pvsim/guestsym"
	"github.com/pvsim/pvsim/trace"
	"github.com/pvsim/pvsim/xen"
)

// A recorded event stream, as the trace rings of a `none` run hold it:
// vCPU 0 forks and pins; vCPU 1's young clear faults between the phases.
func raceEvents(t *testing.T) []trace.Event {
	const pte = 0x206070
	base, err := kernelBase()
	require.NoError(t, err)
	us := func(n int) time.Duration { return time.Duration(n) * time.Microsecond }
	mark := func(cpu, at int, label string, arg uint64) trace.Event {
		return trace.Event{VCPU: cpu, Kind: trace.Hypercall, Nr: xen.HypercallPVSimOp,
			Outcome: trace.OutcomeMark, Label: label, Result: arg, Start: us(at), End: us(at + 1)}
	}
	call := func(cpu, at int, nr uint16) trace.Event {
		return trace.Event{VCPU: cpu, Kind: trace.Hypercall, Nr: nr, Start: us(at), End: us(at + 5)}
	}
	return []trace.Event{
		mark(0, 10, "exit_mmap", 1), // an earlier exit, not this window
		mark(1, 15, "page_referenced_one", 0x1000),
		mark(0, 100, "dup_mmap", 7),
		mark(0, 110, "anon_vma_link", 7),
		mark(1, 115, "page_referenced_one", 0x5000), // another pte
		mark(0, 120, "arch_dup_mmap", 7),
		// The pin's multicall: each entry an event of its own.
		call(0, 125, xen.HypercallMulticall),
		call(0, 130, xen.HypercallUpdateVAMapping), // phase 1: read-only
		call(0, 140, xen.HypercallUpdateVAMapping),
		mark(0, 150, "xen_pgd_pin phase 1", 0x300),
		mark(1, 155, "page_referenced_one", pte),
		{VCPU: 1, Kind: trace.Trap, Nr: 14, Outcome: trace.OutcomeBounce, RIP: 0x1234,
			Arg: base + pte, Start: us(160), End: us(161)},
		call(0, 170, xen.HypercallMMUExtOp), // phase 2: the pin
		mark(0, 180, "xen_pgd_pin phase 2", 0x300),
		mark(0, 190, "exit_mmap", 3), // the next window: not drawn
	}
}

func TestReconstruct(t *testing.T) {
	rec := &Recording{Events: raceEvents(t), VCPU: 1,
		Oops: &guestsym.Oops{NotEmulated: "not emulated: frame 0x206 is not an L1 pagetable in use (none, type count 0)"}}
	in, err := Reconstruct(rec)
	require.NoError(t, err)
	assert.Equal(t, []int{0, 1}, in.CPUs)
	var b strings.Builder
	require.NoError(t, in.Render(&b))
	assert.Equal(t, `CPU 0                                   CPU 1
dup_mmap()
  anon_vma_link()  child visible in rmap
arch_dup_mmap()
  xen_pgd_pin() phase 1: pagetable RO
                                        page_referenced_one()
                                          ?()
                                          -> write fault on RO frame, not pinned
                                          -> oops
  xen_pgd_pin() phase 2: MMUEXT_PIN_L4_TABLE
`, b.String())
}

func TestReconstructNeedsMarks(t *testing.T) {
	ev := raceEvents(t)
	var noMarks []trace.Event
	for _, e := range ev {
		if e.Outcome != trace.OutcomeMark {
			noMarks = append(noMarks, e)
		}
	}
	_, err := Reconstruct(&Recording{Events: noMarks, VCPU: 1})
	assert.ErrorContains(t, err, "marks=1")

	_, err = Reconstruct(&Recording{Events: ev, VCPU: 0})
	assert.ErrorContains(t, err, "no page fault bounced")
}

// The race kernel's virtual base comes from its Xen VIRT_BASE note: where
// it loads its first segment, physical address 0.
func TestKernelVirtBase(t *testing.T) {
	base, err := kernelBase()
	require.NoError(t, err)
	assert.Equal(t, uint64(0xffffffff80000000), base)

	k, ok := guest.Lookup(KernelName)
	require.True(t, ok)
	f, err := elf.NewFile(bytes.NewReader(k.ELF))
	require.NoError(t, err)
	var load *elf.Prog
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && (load == nil || p.Paddr < load.Paddr) {
			load = p
		}
	}
	require.NotNil(t, load)
	assert.Equal(t, base, load.Vaddr-load.Paddr)
}

func TestVirtBaseErrors(t *testing.T) {
	_, err := virtBase([]byte("junk"))
	assert.ErrorContains(t, err, "not an ELF file")

	self, err := os.Executable()
	require.NoError(t, err)
	b, err := os.ReadFile(self)
	require.NoError(t, err)
	_, err = virtBase(b)
	assert.EqualError(t, err, "no Xen VIRT_BASE note")
}
