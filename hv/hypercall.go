package hv

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/pvsim/pvsim/guestsym"
	"github.com/pvsim/pvsim/hvimage"
	"github.com/pvsim/pvsim/internal/kvm"
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/ptops"
	"github.com/pvsim/pvsim/trace"
	"github.com/pvsim/pvsim/x86"
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
	// bySyscall says the hypercall came by `syscall` (the syscall
	// transport), not through the hypercall page.
	bySyscall bool
	// caller is where the hypercall was made from, for reports.
	caller uint64
	// r11 is the guest's R11 as the hypercall was made: the RFLAGS a
	// syscall saved, for the syscall transport.
	r11 uint64
	// preempted is set by a handler that stopped after a slice of work;
	// cont are the arguments it is to be called again with (Xen's
	// hypercall_create_continuation).
	preempted bool
	cont      hypercallArgs
	// snapshotting is set by pvsim_op snapshot_point: the snapshot is
	// taken once the hypercall has returned.
	snapshotting bool
	// pendingPFNs is scratch space for pvsim_op pagetable_pending.
	pendingPFNs [xen.PVSimMaxPending]uint64
	// labels are the trace and scheduling-point labels read so far.
	labels trace.Labels
	// notOffered are the last hypercalls answered ENOSYS, one per
	// hypercall and command, the latest first: for the report of a guest
	// that stops after them.
	notOffered [maxNotOffered]notOffered
}

// maxNotOffered bounds the not-offered hypercalls a vCPU remembers.
const maxNotOffered = 4

// notOffered is a hypercall pvsim answered ENOSYS: its number, its
// first argument (the command of a multiplexed one), where it was made,
// and the quadwords on the guest's stack then, among which the caller's
// return address may be.
type notOffered struct {
	valid bool
	nr    uint32
	cmd   uint64
	site  uint64
	stack [4]uint64
}

// noteNotOffered records hypercall nr, answered ENOSYS, as the vCPU's
// latest. Only that answer costs the stack read.
func (v *vcpu) noteNotOffered(nr uint32) {
	l := &v.hc.notOffered
	n := notOffered{valid: true, nr: nr, cmd: v.hc.args[0], site: v.hc.caller}
	if noCommand(nr) {
		n.cmd = 0
	}
	var b [8 * len(n.stack)]byte
	if v.readGuest(b[:], v.run.Regs.RSP) == nil {
		for i := range n.stack {
			n.stack[i] = binary.LittleEndian.Uint64(b[8*i:])
		}
	}
	k := len(l) - 1 // the oldest goes, or the same call made before
	for i := range l {
		if l[i].valid && l[i].nr == n.nr && l[i].cmd == n.cmd {
			k = i
			break
		}
	}
	copy(l[1:k+1], l[:k])
	l[0] = n
}

// noCommand reports whether hypercall nr's first argument is no command.
func noCommand(nr uint32) bool {
	return nr == xen.HypercallSetTimerOp || nr == xen.HypercallStackSwitch || nr == xen.HypercallSetDebugreg ||
		nr == xen.HypercallGetDebugreg || nr == xen.HypercallFPUTaskswitch
}

// NotOffered describes a hypercall pvsim does not offer (answered
// ENOSYS) that a vCPU made: the guest may have stopped for want of it.
type NotOffered struct {
	// Hypercall is its name and first argument, as "vcpu_op(10)".
	Hypercall string
	// Where is the hypercall site, symbolized; Caller, when one of the
	// first quadwords of the stack is a return address into another
	// function of the kernel, that function.
	Where, Caller string
}

func (n NotOffered) String() string {
	s := n.Hypercall + " at " + n.Where
	if n.Caller != "" {
		s += " from " + n.Caller
	}
	return s
}

// NotOfferedList is the hypercalls pvsim does not offer that a vCPU made
// last, one per hypercall and command, the latest first.
type NotOfferedList []NotOffered

func (l NotOfferedList) String() string {
	s := make([]string, len(l))
	for i, n := range l {
		s[i] = n.String()
	}
	return "hypercalls pvsim does not offer (ENOSYS), the last first: " + strings.Join(s, "; ")
}

// describe symbolizes l, or is nil if it is empty.
func describe(l *[maxNotOffered]notOffered, syms *guestsym.Symbolizer) NotOfferedList {
	var r NotOfferedList
	for _, n := range l {
		if !n.valid {
			break
		}
		name := xen.HypercallName(int(n.nr))
		d := NotOffered{Hypercall: fmt.Sprintf("%s(%d)", name, int64(n.cmd)), Where: syms.Format(n.site)}
		if noCommand(n.nr) {
			d.Hypercall = name
		}
		site, _, siteOK := syms.Func(n.site)
		for _, w := range n.stack {
			if fn, _, ok := syms.Func(w); ok && (!siteOK || fn != site) {
				d.Caller = syms.Format(w)
				break
			}
		}
		r = append(r, d)
	}
	return r
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
	hypercalls[xen.HypercallCallbackOp] = (*vcpu).callbackOp
	hypercalls[xen.HypercallSetCallbacks] = (*vcpu).setCallbacks
	hypercalls[xen.HypercallSetGDT] = (*vcpu).setGDT
	hypercalls[xen.HypercallUpdateDescriptor] = (*vcpu).updateDescriptor
	hypercalls[xen.HypercallPhysdevOp] = (*vcpu).physdevOp
	hypercalls[xen.HypercallVMAssist] = (*vcpu).vmAssist
	hypercalls[xen.HypercallEventChannelOp] = (*vcpu).eventChannelOp
	hypercalls[xen.HypercallMemoryOp] = (*vcpu).memoryOp
	hypercalls[xen.HypercallFPUTaskswitch] = (*vcpu).fpuTaskswitch
	hypercalls[xen.HypercallGrantTableOp] = (*vcpu).grantTableOp
	hypercalls[xen.HypercallSysctl] = (*vcpu).sysctl
	hypercalls[xen.HypercallSetDebugreg] = (*vcpu).setDebugreg
	hypercalls[xen.HypercallGetDebugreg] = (*vcpu).getDebugreg
	hypercalls[xen.HypercallDomctl] = (*vcpu).domctl
	hypercalls[xen.HypercallSetTimerOp] = (*vcpu).setTimerOp
}

// hypercall dispatches hypercall nr with the arguments in the vCPU's
// registers and puts its result in rax. It allocates nothing.
func (v *vcpu) hypercall(nr uint32) outcome {
	r := &v.run.Regs
	if v.guestMode.user {
		if !v.hc.bySyscall {
			// The hypercall page called from user mode. Xen's page makes
			// the hypercall with syscall, which from user mode enters the
			// guest kernel's syscall callback, RAX the hypercall number;
			// pvsim's stub stores to the doorbell instead, and the store
			// is taken as that syscall, returning after it.
			ret := r.RIP
			if store, ok := v.doorbellStore(r.RIP); ok {
				ret = store + hvimage.DoorbellInsnLen
			}
			r.RCX, r.R11 = ret, r.RFLAGS
		}
		return v.userSyscall()
	}
	v.hc.args = hypercallArgs{r.RDI, r.RSI, r.RDX, r.R10, r.R8, r.R9}
	v.hc.r11 = r.R11
	caller := r.RIP
	switch {
	case v.hc.bySyscall:
		caller = r.RCX - 2 // the syscall instruction
		v.stats.SyscallHypercalls++
	case nr != xen.HypercallIret:
		// The stub was called: name the caller, not the hypercall page.
		if ret, err := v.readGuest64(r.RSP); err == nil {
			caller = ret
		}
	}
	v.hc.caller = caller
	v.trace.Begin(trace.Hypercall, uint16(nr), caller, r.RDI)
	v.hc.active = true
	ret := v.call(uint64(nr), &v.hc.args)
	v.hc.active = false
	if ret == xen.ENOSYS.Ret() {
		v.noteNotOffered(nr)
	}
	preempted := v.hc.preempted
	if preempted {
		v.hc.preempted = false
		switch {
		case v.hc.bySyscall:
			v.restartSyscall(&v.hc.cont)
			ret = uint64(nr) // the syscall takes it in RAX
		case !v.restart(&v.hc.cont):
			return v.fatal(DomainCrash, r.RIP, fmt.Sprintf("%s preempted, but the guest did not call it through the hypercall page", xen.HypercallName(int(nr))))
		default:
			ret = 0 // the stub loads the number again
		}
	} else if nr != xen.HypercallIret && !v.hc.bySyscall && v.singleStep() == stop {
		return stop
	} else if nr != xen.HypercallIret && v.hc.bySyscall && v.syscallReturn() == stop {
		return stop
	}
	if v.traps.callbacks.Event != 0 && v.upcallAfterHypercall(nr, preempted) == stop {
		return stop
	}
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

// hypercallSlice is how many records (mmu_update, mmuext_op) or entries
// (multicall) one hypercall handles before it returns to the guest as a
// continuation: the bound on how long a stop, a timeout or another vCPU's
// turn waits for a hypercall.
const hypercallSlice = 256

// continueWith makes the hypercall in progress stop here and be called
// again with args a, as Xen's hypercall_create_continuation: the guest
// re-executes its hypercall stub with the new arguments, or, inside a
// multicall, the multicall continues at the entry with them.
func (v *vcpu) continueWith(a ...uint64) uint64 {
	v.hc.preempted = true
	v.hc.cont = hypercallArgs{}
	copy(v.hc.cont[:], a)
	return 0
}

// restart points the guest back at the start of the hypercall stub it
// called (`mov $nr, %eax`, just before the doorbell store), with the
// arguments a in its registers. It reports false if the exit was not at a
// stub's doorbell store.
func (v *vcpu) restart(a *hypercallArgs) bool {
	r := &v.run.Regs
	store, ok := v.doorbellStore(v.exec.GuestRIP())
	var mov [hvimage.StubMovLen]byte
	if !ok || v.readGuest(mov[:], store-hvimage.StubMovLen) != nil || !hvimage.IsStubMov(mov[:]) {
		return false
	}
	v.exec.Redirect(store-hvimage.StubMovLen, a[0], a[1], a[2])
	r.R10, r.R8 = a[3], a[4] // the executor leaves these alone
	v.run.DirtyRegs |= kvm.SyncRegs
	return true
}

// syscallReturn raises #GP(0) at the return address of a hypercall made
// by syscall when that address is not canonical, as Xen returns from such
// a hypercall through iret, which faults in the guest's context (XSA-7):
// a sysret there would fault at CPL0 instead.
func (v *vcpu) syscallReturn() outcome {
	_, rsp, rflags, rcx := v.exec.Guest()
	if mmu.Canonical(rcx) {
		return resume
	}
	x := &v.traps.exc
	*x = x86.Exception{Vector: x86.VectorGP, RIP: rcx, CS: xen.FlatRing3CS64, RFLAGS: rflags, RSP: rsp, SS: xen.FlatRing3SS64}
	b := v.deliver(x, rcx)
	if b == nil {
		return stop
	}
	v.exec.ResumeAt(b.RIP, b.SP, b.RFLAGS)
	return resume
}

// restartSyscall sends the guest back to the syscall instruction that
// made the hypercall, with the arguments a and, through the executor's
// result, the number in RAX: Xen's continuation for this transport, which
// backs RIP up over the syscall.
func (v *vcpu) restartSyscall(a *hypercallArgs) {
	r := &v.run.Regs
	_, _, _, rcx := v.exec.Guest() // the executor may hold the vCPU's registers
	v.exec.Redirect(rcx-2, a[0], a[1], a[2])
	r.R10, r.R8 = a[3], a[4] // the executor leaves these alone
	v.run.DirtyRegs |= kvm.SyncRegs
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

// errRet is a handler's return value for err: 0, or Xen's error code.
func errRet(err error) uint64 {
	if err == nil {
		return 0
	}
	return ptops.Errno(err).Ret()
}

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
