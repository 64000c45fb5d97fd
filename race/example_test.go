package race_test

import (
	"fmt"

	"github.com/pvsim/pvsim/race"
)

// ExampleJudge decides the verdicts of hand-made measurements from their
// counts: every oracle that fired, worst first; a run with too few pin
// windows and no defect proves nothing.
func ExampleJudge() {
	for _, r := range []race.Result{
		{Strategy: "clean", PinWindows: 5000},
		{Strategy: "short", PinWindows: 10},
		{Strategy: "dirty", PinWindows: 5000, LostDirty: 3},
		{Strategy: "oops", PinWindows: 5000, Oopses: 1, LostDirty: 3, IneffectiveYoung: 7},
		{Strategy: "audit", AuditViolations: 1, Oopses: 1},
	} {
		fmt.Printf("%s: %s\n", r.Strategy, race.Judge(&r))
	}
	// Output:
	// clean: correct
	// short: inconclusive
	// dirty: loses dirty bits
	// oops: races; loses dirty bits; never clears young
	// audit: audit violation; races
}
