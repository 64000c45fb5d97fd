package trace

import (
	"time"

	"github.com/pvsim/pvsim/x86"
	"github.com/pvsim/pvsim/xen"
)

// ExitStats counts one vCPU's exits by kind.
type ExitStats struct {
	Hypercalls [xen.NrHypercalls]uint64
	Traps      [x86.NrExceptions]uint64
	// Interrupted counts KVM_RUN calls that returned early for a signal or
	// a kick.
	Interrupted uint64
	// ExecRounds counts executor round trips (inject or resume, run,
	// report) and ExecTime their wall time; final batches are not counted.
	ExecRounds uint64
	ExecTime   time.Duration
	// RemoteFlushes counts TLB flushes this vCPU did for another's request.
	RemoteFlushes uint64
	// PTWriteExits counts the exits those writes took: the fault's, the
	// round trips of their exchanges, and the one-exit path's reports of
	// a failed exchange, which ExchangeFailures counts (the write is
	// undone and made again).
	PTWriteExits, ExchangeFailures uint64
	// PTWrites counts writes to pagetables emulated (ptwr), and
	// PTWriteRetries the faults left to retry because the entry kept
	// changing.
	PTWrites, PTWriteRetries uint64
	// Audits counts the pagetable audits this vCPU ran (hv.Config.Audit).
	Audits uint64
	// SpuriousFaults counts write faults retried because the mapping
	// allowed the write by the time the hypervisor looked.
	SpuriousFaults uint64
	// ClearYoungWrites counts those of PTWrites that were a bit test and
	// reset clearing Accessed: Linux's ptep_test_and_clear_young on a
	// pinned pagetable.
	ClearYoungWrites uint64
	// PendingWrites counts those of PTWrites that went to frames announced
	// as becoming pagetables (pvsim_op pagetable_pending).
	PendingWrites uint64
	// Bounces counts exceptions delivered to the guest's handlers.
	Bounces uint64
	// Upcalls counts event upcalls delivered to the guest's event
	// callback, and Blocks the times it slept in SCHEDOP_block or
	// SCHEDOP_poll.
	Upcalls, Blocks uint64
	// Pins counts the pagetables this vCPU pinned with mmuext_op, by
	// level: Pins[0] MMUEXT_PIN_L1_TABLE ... Pins[3] MMUEXT_PIN_L4_TABLE.
	Pins [4]uint64
	// Unpins counts MMUEXT_UNPIN_TABLE.
	Unpins uint64
	// LDTFaults counts the LDT pages mapped on their first access.
	LDTFaults uint64
	// UserSyscalls counts syscalls from guest user mode bounced to the
	// guest kernel, and ModeSwitches the switches between guest kernel
	// and user mode (Xen's toggle_guest_mode).
	UserSyscalls, ModeSwitches uint64
	// SyscallHypercalls counts the hypercalls made with `syscall` (the
	// syscall transport) rather than through the hypercall page.
	SyscallHypercalls uint64
	// Emulations counts instructions the hypervisor completed for the
	// guest after they faulted, other than pagetable writes: privileged
	// and forced-emulation instructions, loads from the M2P.
	Emulations uint64
	// MMULocks counts the times this vCPU took the domain's MMU lock;
	// MMULockWait is the time it waited for the lock itself, and
	// MMUStoresWait the time it then waited for other vCPUs' queued
	// stores to reach memory.
	MMULocks                   uint64
	MMULockWait, MMUStoresWait time.Duration
	// SpuriousExecEntries counts entries into the executor with nothing
	// to run, left again without effect (executor.Executor.Spurious).
	SpuriousExecEntries uint64
}
