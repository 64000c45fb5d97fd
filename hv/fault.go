package hv

import (
	"fmt"
	"runtime/debug"
	"time"
)

// FaultKind classifies how a domain ended when it did not shut down.
type FaultKind int

const (
	// TripleFault: the guest raised an exception it could not take, and
	// could not take the double fault that follows either.
	TripleFault FaultKind = iota
	// HypervisorFault: an exception in the hypervisor's own CPL0 code.
	HypervisorFault
	// HardwareFault: KVM refused to run the vCPU or stopped it (failed
	// entry, internal error, a triple fault of the real CPU).
	HardwareFault
	// Timeout: the guest did not shut down in time.
	Timeout
	// AuditFailure: the pagetable audit found a broken invariant.
	AuditFailure
	// DomainCrash: the guest handed the hypervisor a state it cannot run
	// (Xen's domain_crash), e.g. an iret frame it cannot read.
	DomainCrash
	// AllVCPUsDown: the guest took every vCPU down (VCPUOP_down) without
	// shutting down.
	AllVCPUsDown
)

var faultKindNames = [...]string{
	TripleFault: "triple fault", HypervisorFault: "exception in the hypervisor", HardwareFault: "hardware fault",
	Timeout: "timeout", AuditFailure: "audit failure", DomainCrash: "domain crash", AllVCPUsDown: "every vCPU down",
}

func (k FaultKind) String() string {
	if k >= 0 && int(k) < len(faultKindNames) {
		return faultKindNames[k]
	}
	return fmt.Sprintf("fault kind %d", int(k))
}

// GuestError is how a domain ends when the guest, not pvsim, is at fault.
type GuestError struct {
	Kind FaultKind
	VCPU int
	RIP  uint64
	// Where is RIP symbolized.
	Where string
	// Detail says what happened, in one line.
	Detail string
	// After is set for timeouts.
	After time.Duration
	// NotOffered is the last hypercalls the vCPU made that pvsim does not
	// offer, if it made any: the guest may have stopped for want of one.
	NotOffered NotOfferedList
}

func (e *GuestError) Error() string {
	var s string
	if e.Kind == Timeout {
		s = fmt.Sprintf("timeout after %v: the guest did not shut down; %s", e.After, e.Detail)
	} else {
		s = fmt.Sprintf("vCPU %d: %s at %s (rip %#x): %s", e.VCPU, e.Kind, e.Where, e.RIP, e.Detail)
	}
	if len(e.NotOffered) > 0 {
		s += "; " + e.NotOffered.String()
	}
	return s
}

// PanicError is a Go panic in pvsim itself, caught on a vCPU thread: a
// defect of the hypervisor, not of the guest. It ends the domain like any
// other error, so a caller reports it rather than losing the process.
type PanicError struct {
	VCPU  int
	Value any
	// Stack is the panicking goroutine's stack.
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("vCPU %d: internal error in pvsim (a bug, please report it): panic: %v", e.VCPU, e.Value)
}

// recoverPanic turns a panic on v's thread into the domain's end with a
// PanicError. Deferred by the vCPU loop.
func (v *vcpu) recoverPanic() {
	if r := recover(); r != nil {
		v.d.end(Result{}, &PanicError{VCPU: v.id, Value: r, Stack: debug.Stack()})
	}
}
