package sched_test

import (
	"fmt"

	"github.com/pvsim/pvsim/sched"
)

// ExampleDefaultNext shows the schedule without decisions: the vCPU at a
// point runs on unless it yields, and then the next runnable vCPU after
// it, wrapping around, takes the CPU.
func ExampleDefaultNext() {
	for _, p := range []sched.Point{
		{Step: 1, VCPU: 1, Runnable: 0b111},              // a hypercall: vCPU 1 runs on
		{Step: 2, VCPU: 1, Runnable: 0b111, Yield: true}, // SCHEDOP_yield: vCPU 2 is next
		{Step: 3, VCPU: 2, Runnable: 0b101, Yield: true}, // vCPU 2 yields: round to vCPU 0
		{Step: 4, VCPU: 0, Runnable: 0b001, Yield: true}, // nobody else is up: vCPU 0 runs on
	} {
		fmt.Printf("step %d: vCPU %d yield=%v runnable=%03b -> vCPU %d\n",
			p.Step, p.VCPU, p.Yield, p.Runnable, sched.DefaultNext(&p))
	}
	// Output:
	// step 1: vCPU 1 yield=false runnable=111 -> vCPU 1
	// step 2: vCPU 1 yield=true runnable=111 -> vCPU 2
	// step 3: vCPU 2 yield=true runnable=101 -> vCPU 0
	// step 4: vCPU 0 yield=true runnable=001 -> vCPU 0
}
