package hv

import (
	"github.com/pvsim/pvsim/internal/kvm"
	"github.com/pvsim/pvsim/ptops"
	"github.com/pvsim/pvsim/trace"
	"github.com/pvsim/pvsim/xen"
)

// The path of one hypercall: the guest calls its stub in the hypercall
// page (hvimage.FillHypercallPage), which stores the hypercall number to
// the doorbell; the store exits as MMIO (vcpu.exit), and hypercall below
// dispatches it by number to the handler in the file named after the Xen
// public header that defines it (hypercall_<header>.go). A handler that
// changes pagetables takes the MMU lock (mmulock.go) and has ptops check
// the change against the frame table (package mmu); ptops hands the
// writes to the vCPU's executor (executor.go), and the executor's final
// batch, which carries the result in RAX, runs as the vCPU returns to the
// guest.

// hypercallState is what the hypercall in progress uses.
type hypercallState struct {
	// buf is scratch space for copying guest buffers, so that hypercalls
	// do not allocate.
	buf  [4096]byte
	args hypercallArgs
	// active is set while a hypercall runs.
	active bool
	// snapshotting is set by pvsim_op snapshot_point: the snapshot is
	// taken once the hypercall has returned.
	snapshotting bool
	// pendingPFNs is scratch space for pvsim_op pagetable_pending.
	pendingPFNs [xen.PVSimMaxPending]uint64
	// labels are the trace and scheduling-point labels read so far, by
	// guest address.
	labels map[uint64]string
}

// hypercallArgs are a hypercall's arguments: rdi, rsi, rdx, r10, r8, r9,
// or a multicall entry's args.
type hypercallArgs [6]uint64

// hypercallFn handles one hypercall on v and returns the value for rax.
type hypercallFn func(v *vcpu, a *hypercallArgs) uint64

// hypercalls is the dispatch table, indexed by Xen hypercall number.
var hypercalls [xen.NrHypercalls]hypercallFn

func init() {
	hypercalls[xen.HypercallConsoleIO] = (*vcpu).consoleIO
	hypercalls[xen.HypercallSchedOp] = (*vcpu).schedOp
	hypercalls[xen.HypercallXenVersion] = (*vcpu).xenVersion
	hypercalls[xen.HypercallVCPUOp] = (*vcpu).vcpuOp
	hypercalls[xen.HypercallSetSegmentBase] = (*vcpu).setSegmentBase
	hypercalls[xen.HypercallMMUUpdate] = (*vcpu).mmuUpdate
	hypercalls[xen.HypercallUpdateVAMapping] = (*vcpu).updateVAMapping
	hypercalls[xen.HypercallMMUExtOp] = (*vcpu).mmuextOp
	hypercalls[xen.HypercallMulticall] = (*vcpu).multicall
	hypercalls[xen.HypercallSetTrapTable] = (*vcpu).setTrapTable
	hypercalls[xen.HypercallStackSwitch] = (*vcpu).stackSwitch
	hypercalls[xen.HypercallIret] = (*vcpu).iret
	hypercalls[xen.HypercallPVSimOp] = (*vcpu).pvsimOp
}

// hypercall dispatches hypercall nr with the arguments in the vCPU's
// registers and puts its result in rax. It allocates nothing.
func (v *vcpu) hypercall(nr uint32) outcome {
	r := &v.run.Regs
	v.hc.args = hypercallArgs{r.RDI, r.RSI, r.RDX, r.R10, r.R8, r.R9}
	caller := r.RIP
	if nr != xen.HypercallIret {
		// The stub was called: name the caller, not the hypercall page.
		if ret, err := v.readGuest64(r.RSP); err == nil {
			caller = ret
		}
	}
	v.trace.Begin(trace.Hypercall, uint16(nr), caller, r.RDI)
	v.hc.active = true
	ret := v.call(uint64(nr), &v.hc.args)
	v.hc.active = false
	v.trace.End()
	if v.d.stopping.Load() {
		return stop
	}
	if !v.exec.Finish(ret) {
		r.RAX = ret
		v.run.DirtyRegs |= kvm.SyncRegs
	}
	if v.hc.snapshotting {
		v.takeSnapshot()
		return stop
	}
	return resume
}

// call runs hypercall nr.
func (v *vcpu) call(nr uint64, a *hypercallArgs) uint64 {
	if nr >= xen.NrHypercalls {
		return xen.ENOSYS.Ret()
	}
	v.stats.Hypercalls[nr]++
	fn := hypercalls[nr]
	if fn == nil {
		return xen.ENOSYS.Ret()
	}
	return fn(v, a)
}

func errRet(err error) uint64 { return ptops.Errno(err).Ret() }

// writeGuestString writes s, NUL-padded to size bytes, to the guest.
func (v *vcpu) writeGuestString(va uint64, s string, size int) uint64 {
	b := v.hc.buf[:size]
	clear(b)
	copy(b, s)
	return v.writeGuestRet(va, b)
}

func (v *vcpu) writeGuestRet(va uint64, b []byte) uint64 {
	if err := v.writeGuest(va, b); err != nil {
		return errRet(err)
	}
	return 0
}
