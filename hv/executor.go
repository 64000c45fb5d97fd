package hv

import (
	"github.com/pvsim/pvsim/executor"
	"github.com/pvsim/pvsim/hvimage"
	"github.com/pvsim/pvsim/internal/kvm"
	"github.com/pvsim/pvsim/mmu"
)

// newExecutor makes v's executor (package executor) over its command
// block.
func newExecutor(v *vcpu) *executor.Executor {
	w := mmu.Translate(v.d.mem, v.d.boot.L4<<mmu.PageShift, hvimage.CPUCmdBlockVA(v.id), mmu.AccessWrite)
	// A flush another vCPU asked for rides in the final batch, which runs
	// before the guest does: a vCPU whose every exit ends in a final batch
	// never comes back to the loop able to serve it otherwise.
	beforeFinal := func(x *executor.Executor) {
		if gen, ok := v.flush.Pending(); ok {
			x.FlushTLB()
			v.stats.RemoteFlushes++
			v.flush.Served(gen)
			for _, u := range v.d.vcpus {
				u.flush.Wake()
			}
		}
	}
	return executor.New(v.run, v.d.mem.Bytes(w.PA, mmu.PageSize), v.traps.stack[hvimage.CPUStackPages-1], &v.stats, v.runNested, beforeFinal)
}

// runNested runs the vCPU inside a hypercall until the executor reports.
// It returns false if the domain ended, or failed, meanwhile.
func (v *vcpu) runNested() bool {
	r := v.run
	for {
		r.ClearImmediateExit()
		if v.d.stopping.Load() {
			return false
		}
		interrupted, err := v.kvm.Enter()
		if err != nil {
			v.d.end(Result{}, err)
			return false
		}
		if interrupted {
			v.stats.Interrupted++
			continue
		}
		v.countExit()
		if r.ExitReason == kvm.ExitIO && r.IO().Port == hvimage.ExecPort {
			return true
		}
		v.exit() // a fault in the executor: it ends the domain
		return false
	}
}
