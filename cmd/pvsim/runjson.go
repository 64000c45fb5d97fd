package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pvsim/pvsim/hv"
	"github.com/pvsim/pvsim/x86"
	"github.com/pvsim/pvsim/xen"
)

// runJSON is the JSON of `pvsim run --json`: how the run ended and what
// each vCPU's exits were.
type runJSON struct {
	Kernel string `json:"kernel"`
	// Reason is the shutdown reason ("poweroff", "crash", ...), or
	// "timeout", "fault" or "error" when the guest did not shut down.
	Reason string `json:"reason"`
	// ExitStatus is the status pvsim exits with.
	ExitStatus int `json:"exit_status"`
	// VCPU is the vCPU that shut down or faulted; -1 if none did.
	VCPU int `json:"vcpu"`
	// Error is what pvsim reports on stderr, if anything.
	Error string    `json:"error,omitempty"`
	Oops  *oopsJSON `json:"oops,omitempty"`
	// NotOffered is, for a guest that crashed or stopped, the last
	// hypercalls its vCPU made that pvsim does not offer (ENOSYS), the
	// last first: "name(cmd) at site from caller".
	NotOffered []string `json:"not_offered,omitempty"`
	// Steps counts the scheduling points of a deterministic run (0 when
	// it was not).
	Steps uint64 `json:"steps"`
	// TraceSHA256 is trace.Digest of the exit trace.
	TraceSHA256 string      `json:"trace_sha256"`
	Exits       []exitsJSON `json:"exits"`
}

// oopsJSON is the report of a guest that crashed (guestsym.Oops).
type oopsJSON struct {
	// Function is the symbol the faulting RIP is in, Where symbol+offset,
	// Source file:line.
	Function string `json:"function,omitempty"`
	Where    string `json:"where,omitempty"`
	Source   string `json:"source,omitempty"`
	// Fault is the last exception delivered to the vCPU, and NotEmulated
	// why the hypervisor did not emulate it as a pagetable write.
	Fault       string `json:"fault,omitempty"`
	NotEmulated string `json:"not_emulated,omitempty"`
	// Text is the guest's report from its console.
	Text string `json:"text,omitempty"`
}

// exitsJSON counts one vCPU's exits (trace.ExitStats).
type exitsJSON struct {
	VCPU int `json:"vcpu"`
	// Hypercalls and Traps count the exits by hypercall name and by
	// vector mnemonic ("PF", "GP"); kinds that did not happen are left
	// out.
	Hypercalls map[string]uint64 `json:"hypercalls"`
	Traps      map[string]uint64 `json:"traps"`
	// Interrupted counts KVM_RUN calls a signal or a kick cut short.
	Interrupted uint64 `json:"interrupted"`
	// PTWrites counts emulated pagetable writes and Bounces exceptions
	// delivered to the guest; both are among Traps.
	PTWrites uint64 `json:"ptwrites"`
	Bounces  uint64 `json:"bounces"`
	// ClearYoung counts the emulated writes that were Linux's
	// ptep_test_and_clear_young (a bit test and reset clearing Accessed)
	// on a pinned pagetable; left out when zero.
	ClearYoung uint64 `json:"ptep_test_and_clear_young,omitempty"`
	// Unpins counts MMUEXT_UNPIN_TABLE; UserSyscalls syscalls from guest
	// user mode, and ModeSwitches switches between guest kernel and
	// user mode; left out when zero.
	Unpins uint64 `json:"unpins,omitempty"`
	// Audits counts the pagetable audits run (--audit); the run ends at
	// the first violation, so a run that powered off had none.
	Audits       uint64 `json:"audits,omitempty"`
	UserSyscalls uint64 `json:"user_syscalls,omitempty"`
	ModeSwitches uint64 `json:"mode_switches,omitempty"`
	// Upcalls counts event upcalls delivered to the guest's event
	// callback, and Blocks the times the vCPU slept in SCHEDOP_block or
	// SCHEDOP_poll; left out when zero.
	Upcalls uint64 `json:"upcalls,omitempty"`
	Blocks  uint64 `json:"blocks,omitempty"`
	// Pins counts the pagetables pinned with mmuext_op, by level ("L1"
	// for MMUEXT_PIN_L1_TABLE ... "L4"); levels never pinned are left
	// out.
	Pins map[string]uint64 `json:"pins,omitempty"`
	// SpuriousExecEntries counts entries into the executor with nothing
	// to run, which should never happen; left without effect.
	SpuriousExecEntries uint64 `json:"spurious_exec_entries,omitempty"`
	// Total is every exit: hypercalls, traps and interruptions.
	Total uint64 `json:"total"`
}

// newRunJSON describes a run of kernel name: res and runErr are what
// Domain.Run returned, status and err what pvsim reports, digest the
// trace's digest.
func newRunJSON(name string, res hv.Result, runErr error, status int, err error, digest string) runJSON {
	j := runJSON{Kernel: name, ExitStatus: status, VCPU: -1, Steps: res.Steps, TraceSHA256: digest, Exits: []exitsJSON{}}
	var ge *hv.GuestError
	var pe *hv.PanicError
	switch {
	case errors.As(runErr, &ge) && ge.Kind == hv.Timeout:
		j.Reason, j.VCPU = "timeout", ge.VCPU
	case errors.As(runErr, &ge):
		j.Reason, j.VCPU = "fault", ge.VCPU
	case errors.As(runErr, &pe):
		j.Reason, j.VCPU = "error", pe.VCPU
	case runErr != nil:
		j.Reason = "error"
	default:
		j.Reason, j.VCPU = res.Reason.String(), res.VCPU
	}
	if err != nil {
		j.Error = strings.TrimSpace(err.Error())
	}
	notOffered := res.NotOffered
	if ge != nil {
		notOffered = ge.NotOffered
	}
	for _, n := range notOffered {
		j.NotOffered = append(j.NotOffered, n.String())
	}
	if o := res.Oops; o != nil {
		oj := &oopsJSON{Where: o.Where, Source: o.Source, NotEmulated: o.NotEmulated, Text: o.Text}
		oj.Function, _, _ = strings.Cut(o.Where, "+")
		if o.Fault != nil {
			oj.Fault = o.Fault.Describe()
		}
		j.Oops = oj
	}
	for i, s := range res.Exits {
		e := exitsJSON{VCPU: i, Hypercalls: map[string]uint64{}, Traps: map[string]uint64{},
			Interrupted: s.Interrupted, PTWrites: s.PTWrites, Bounces: s.Bounces, Upcalls: s.Upcalls, Blocks: s.Blocks,
			ClearYoung: s.ClearYoungWrites, Unpins: s.Unpins, Audits: s.Audits, UserSyscalls: s.UserSyscalls, ModeSwitches: s.ModeSwitches,
			SpuriousExecEntries: s.SpuriousExecEntries, Total: s.Interrupted}
		for i, n := range s.Pins {
			if n != 0 {
				if e.Pins == nil {
					e.Pins = map[string]uint64{}
				}
				e.Pins[fmt.Sprintf("L%d", i+1)] = n
			}
		}
		for nr, n := range s.Hypercalls {
			if n != 0 {
				e.Hypercalls[xen.HypercallName(nr)] = n
				e.Total += n
			}
		}
		for v, n := range s.Traps {
			if n != 0 {
				e.Traps[x86.Vector(v).Mnemonic()] = n
				e.Total += n
			}
		}
		j.Exits = append(j.Exits, e)
	}
	return j
}
