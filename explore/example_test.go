package explore_test

import (
	"fmt"

	"github.com/pvsim/pvsim/explore"
)

// ExampleParseSchedule reads a schedule's text form, as `pvsim run
// --schedule` takes it, and prints it back: the text form round-trips.
func ExampleParseSchedule() {
	s, err := explore.ParseSchedule("cpus=2, 7:1, 12:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.VCPUs, len(s.Decisions))
	for _, d := range s.Decisions {
		fmt.Printf("at step %d vCPU %d runs\n", d.Step, d.VCPU)
	}
	fmt.Println(s)

	// Steps must increase, and name a vCPU the schedule has.
	_, err = explore.ParseSchedule("cpus=2,7:1,5:0")
	fmt.Println(err)
	// Output:
	// 2 2
	// at step 7 vCPU 1 runs
	// at step 12 vCPU 0 runs
	// cpus=2,7:1,12:0
	// schedule "cpus=2,7:1,5:0": steps must increase (5 after 7)
}

// ExampleSchedule_String prints a schedule without decisions, which is
// sched.DefaultNext throughout, and one with a decision.
func ExampleSchedule_String() {
	fmt.Println(explore.Schedule{VCPUs: 3})
	fmt.Println(explore.Schedule{VCPUs: 2, Decisions: []explore.Decision{{Step: 4, VCPU: 1}}})
	// Output:
	// cpus=3
	// cpus=2,4:1
}

// ExampleMerge joins the results of the two shards of one DFS search,
// run apart: the merged search is exhausted only because both shards are
// there and each was.
func ExampleMerge() {
	shard := func(i, schedules int, violations ...explore.Violation) *explore.Result {
		return &explore.Result{
			Target: "race", Algo: explore.DFS, Bound: 2, ShardCount: 2, Shards: []int{i},
			Workers: 1, Schedules: schedules, Exhausted: true, Points: 40, Window: 100,
			Violations: violations, Seconds: float64(schedules) / 100,
		}
	}
	v := explore.Violation{Schedule: "cpus=2,103:1", Preemptions: 1, Oracle: "oops"}

	m, err := explore.Merge([]*explore.Result{shard(1, 300, v), shard(0, 250)})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("shards", m.Shards, "of", m.ShardCount)
	fmt.Println("schedules", m.Schedules, "workers", m.Workers, "seconds", m.Seconds)
	fmt.Println("exhausted", m.Exhausted)
	for _, v := range m.Violations {
		fmt.Println("violation", v.Schedule, v.Oracle)
	}

	// With a shard missing, the search is not exhausted, and Stopped says why.
	m, _ = explore.Merge([]*explore.Result{shard(0, 250)})
	fmt.Println("exhausted", m.Exhausted, "-", m.Stopped)

	// A shard twice is an error, and so is nothing at all.
	_, err = explore.Merge([]*explore.Result{shard(0, 250), shard(0, 250)})
	fmt.Println(err)
	_, err = explore.Merge(nil)
	fmt.Println(err)
	// Output:
	// shards [0 1] of 2
	// schedules 550 workers 2 seconds 3
	// exhausted true
	// violation cpus=2,103:1 oops
	// exhausted false - shards 1 of 2 missing
	// shard 0/2 is in more than one result
	// nothing to merge
}
