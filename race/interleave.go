package race

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pvsim/pvsim/builder"
	"github.com/pvsim/pvsim/guest"
	"github.com/pvsim/pvsim/trace"
	"github.com/pvsim/pvsim/xen"
)

// An Interleaving is what each vCPU did from the start of the fork or
// exit whose pinning window an oops fell into, up to the oops: the race,
// drawn as the kernel mailing lists draw one, a column per CPU. Every row
// comes from a recorded event: a guest trace mark, a hypercall or a trap.
type Interleaving struct {
	CPUs []int // the columns, left to right
	Rows []InterleavingRow
}

// InterleavingRow is one line of one column.
type InterleavingRow struct {
	CPU  int
	At   time.Duration // since the domain started
	Text string
}

// markText is how a guest mark reads in an interleaving: nested calls
// are indented under their caller.
var markText = map[string]string{
	"dup_mmap":              "dup_mmap()",
	"anon_vma_link":         "  anon_vma_link()  child visible in rmap",
	"arch_dup_mmap":         "arch_dup_mmap()",
	"xen_pgd_pin phase 1":   "  xen_pgd_pin() phase 1: pagetable RO",
	"xen_pgd_pin phase 2":   "  xen_pgd_pin() phase 2: MMUEXT_PIN_L4_TABLE",
	"exit_mmap":             "exit_mmap()",
	"xen_pgd_unpin phase 1": "  xen_pgd_unpin() phase 1: MMUEXT_UNPIN_TABLE",
	"xen_pgd_unpin phase 2": "  xen_pgd_unpin() phase 2: pagetable RW",
	"page_referenced_one":   "page_referenced_one()",
	"page_mkclean_one":      "page_mkclean_one()",
	"try_to_unmap_one":      "try_to_unmap_one()",
}

// reclaimMarks are the reclaim calls that write a pte of another mm; their
// number is the pte's machine address.
var reclaimMarks = map[string]bool{"page_referenced_one": true, "page_mkclean_one": true, "try_to_unmap_one": true}

// A fork or an exit begins with one of these marks.
var windowStarts = map[string]bool{"dup_mmap": true, "exit_mmap": true}

// kernelBase is where the race kernel maps frame 0, the virtual base of
// its Xen VIRT_BASE note: a pte's machine address in a
// page_referenced_one mark is its CR2 less this.
var kernelBase = sync.OnceValues(func() (uint64, error) {
	k, ok := guest.Lookup(KernelName)
	if !ok {
		return 0, fmt.Errorf("no embedded kernel %q", KernelName)
	}
	base, err := virtBase(k.ELF)
	if err != nil {
		return 0, fmt.Errorf("kernel %s: %w", KernelName, err)
	}
	return base, nil
})

// virtBase reads the Xen VIRT_BASE note of the ELF image, as the domain
// builder does.
func virtBase(image []byte) (uint64, error) {
	f, err := elf.NewFile(bytes.NewReader(image))
	if err != nil {
		return 0, fmt.Errorf("not an ELF file: %w", err)
	}
	n, err := builder.ParseXenNotes(f)
	if err != nil {
		return 0, err
	}
	if !n.HasVirtBase {
		return 0, errors.New("no Xen VIRT_BASE note")
	}
	return n.VirtBase, nil
}

// Reconstruct draws the interleaving that led to the oops in rec: the
// vCPU that oopsed took a page fault that the hypervisor bounced; another
// vCPU was between the marks of a fork or an exit. It needs the kernel's
// trace marks (marks=1).
func Reconstruct(rec *Recording) (*Interleaving, error) {
	base, err := kernelBase()
	if err != nil {
		return nil, fmt.Errorf("the race kernel's virtual base: %w", err)
	}
	ev := rec.Events
	fault := -1
	for i, e := range ev {
		if e.VCPU == rec.VCPU && e.Kind == trace.Trap && e.Nr == 14 && e.Outcome == trace.OutcomeBounce {
			fault = i
		}
	}
	if fault < 0 {
		return nil, fmt.Errorf("the trace of vCPU %d holds no page fault bounced to the guest", rec.VCPU)
	}
	f := ev[fault]

	// The fork or exit in progress on another vCPU when the fault came.
	start, forker := -1, -1
	for i := fault - 1; i >= 0 && start < 0; i-- {
		if e := ev[i]; e.VCPU != rec.VCPU && isMark(e) && windowStarts[e.Label] {
			start, forker = i, e.VCPU
		}
	}
	if start < 0 {
		return nil, errors.New("no fork or exit mark precedes the fault: was the kernel run with marks=1?")
	}

	in := &Interleaving{CPUs: []int{forker, rec.VCPU}}
	if rec.VCPU < forker {
		in.CPUs = []int{rec.VCPU, forker}
	}
	add := func(e trace.Event, text string) {
		in.Rows = append(in.Rows, InterleavingRow{CPU: e.VCPU, At: e.Start, Text: text})
	}
	// The reclaim call that faulted: the last reclaim mark on the faulting
	// vCPU, if it names the pte that faulted.
	var reclaim *trace.Event
	for i := fault - 1; i >= 0; i-- {
		if e := ev[i]; e.VCPU == rec.VCPU && isMark(e) && reclaimMarks[e.Label] {
			if e.Result == f.Arg-base {
				reclaim = &ev[i]
			}
			break
		}
	}
	// The forking vCPU's marks from the start of its fork or exit to the
	// start of the next one.
	for i := start; i < len(ev); i++ {
		e := ev[i]
		if e.VCPU != forker || !isMark(e) || markText[e.Label] == "" {
			continue
		}
		if i > start && windowStarts[e.Label] && i > fault {
			break
		}
		add(e, markText[e.Label])
	}
	if reclaim != nil {
		add(*reclaim, markText[reclaim.Label])
	}
	fn := "?"
	if rec.Symbols != nil {
		if name, _, ok := rec.Symbols.Lookup(f.RIP); ok {
			fn = name
		}
	}
	add(f, "  "+fn+"()")
	why := "-> write fault"
	if rec.Oops != nil && strings.Contains(rec.Oops.NotEmulated, "not an L1 pagetable in use") {
		why = "-> write fault on RO frame, not pinned"
	}
	add(f, "  "+why) // rows at the same time keep their order
	add(f, "  -> oops")

	sort.SliceStable(in.Rows, func(i, j int) bool { return in.Rows[i].At < in.Rows[j].At })
	return in, nil
}

func isMark(e trace.Event) bool {
	return e.Kind == trace.Hypercall && e.Nr == xen.HypercallPVSimOp && e.Outcome == trace.OutcomeMark
}

// columnWidth is the width of each column but the last.
const columnWidth = 40

// Render writes the interleaving in columns, one row per line.
func (in *Interleaving) Render(w io.Writer) error {
	var b strings.Builder
	line := func(text func(cpu int) string) {
		var l strings.Builder
		for _, cpu := range in.CPUs {
			s := text(cpu)
			l.WriteString(s)
			l.WriteString(strings.Repeat(" ", max(columnWidth-len(s), 1)))
		}
		b.WriteString(strings.TrimRight(l.String(), " "))
		b.WriteString("\n")
	}
	line(func(cpu int) string { return fmt.Sprintf("CPU %d", cpu) })
	for _, r := range in.Rows {
		line(func(cpu int) string {
			if cpu == r.CPU {
				return r.Text
			}
			return ""
		})
	}
	_, err := io.WriteString(w, b.String())
	return err
}
