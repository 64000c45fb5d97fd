package tests

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/race"
)

// Short runs of the race, one per verdict of DESIGN.md §1, so that a
// regression in any of them fails `go test`. The pin window is widened
// and children map few pages, so that a few hundred fork+exit pairs reach
// the races a default run of a minute reaches by chance; the audit runs
// after every MMU operation (with -short, every millisecond). `pvsim race`
// measures the same things at full length.

// trials is n fork+exit pairs, a quarter of them with -short.
func trials(n uint64) uint64 {
	if testing.Short() {
		return n / 4
	}
	return n
}

// raceWindow widens the gap between the two phases of every pin and
// unpin; with it, strategy none oopses within a few fork+exit pairs.
const raceWindow = 100 * time.Microsecond

func runRace(t *testing.T, cfg race.Config) *race.Result {
	t.Helper()
	needKVM(t)
	cfg.Audit = true
	if testing.Short() {
		// CI's run under the race detector, where every exit costs many
		// times more: an audit every millisecond.
		cfg.AuditInterval = time.Millisecond
	}
	res, err := race.Run(context.Background(), cfg)
	require.NoError(t, err)
	t.Logf("%s: %d fork+exit, %d pin windows, %d boots: oopses %d, lost dirty %d, ineffective young %d, use after free %d, %d audits",
		cfg.Strategy, res.Trials, res.PinWindows, res.Boots, res.Oopses, res.LostDirty,
		res.IneffectiveYoung, res.UseAfterFree, res.Audits)
	assert.Zero(t, res.AuditViolations, "audit: %s", res.Audit)
	assert.NotZero(t, res.Audits, "the audit ran")
	// Reclaim frees no page a pte maps, whatever the strategy.
	assert.Zero(t, res.UseAfterFree, "use after free")
	if cfg.Oopses == 0 || res.Oopses < cfg.Oopses {
		assert.GreaterOrEqual(t, res.Trials, cfg.Trials)
	}
	return res
}

// TestRaceNoneOopses: the 2007 code oopses in ptep_test_and_clear_young
// on a pagetable frame that is read-only and not pinned.
func TestRaceNoneOopses(t *testing.T) {
	// Until the first oops, up to 600 pairs: the race is a matter of
	// chance on real SMP. Under the race detector (-short) reclaim is many
	// times slower against the guest's window; there one pair in 10 to 20
	// sees it on a quiet machine and fewer on a loaded one (a CI run once
	// saw none in 60), so the cap is far above the median and the run ends
	// at the first oops.
	res := runRace(t, race.Config{Strategy: "none", Window: raceWindow, Trials: 600, Oopses: 1})
	require.GreaterOrEqual(t, res.Oopses, 1)
	require.NotNil(t, res.Oops)
	assert.Equal(t, "ptep_test_and_clear_young", res.Oops.Function, "reclaim's young clear: %+v", res.Oops)
	assert.Contains(t, res.Oops.NotEmulated, "is not an L1 pagetable in use")
	assert.Contains(t, res.Oops.Fault, "lock btr")
}

// TestRaceFixesHold: with the same widened window, the three correct
// strategies see nothing, and each fix's mechanism was at work: reclaim
// waited on a pte lock a pin held (lock-pte-pages), the young clear was
// one hypercall (pvop-hypercall), writes to announced frames were
// emulated (hv-pin-aware).
func TestRaceFixesHold(t *testing.T) {
	for _, tt := range []struct {
		strategy string
		engaged  func(*race.Result) bool
	}{
		{"lock-pte-pages", func(r *race.Result) bool { return r.PinLockWaits > 0 }},
		{"pvop-hypercall", func(r *race.Result) bool { return r.YoungClears > 0 && r.ExitsPerYoung < 1.5 }},
		{"hv-pin-aware", func(r *race.Result) bool { return r.PendingWrites > 0 }},
	} {
		t.Run(tt.strategy, func(t *testing.T) {
			// Whether reclaim meets a pin in a given run is chance, and
			// rarer under the race detector's fewer pairs: up to four runs
			// until the mechanism is seen at work, each held to the same
			// verdict.
			var res *race.Result
			for run := 0; run < 4 && (res == nil || !tt.engaged(res)); run++ {
				res = runRace(t, race.Config{Strategy: tt.strategy, Window: raceWindow, Trials: trials(200)})
				assert.Zero(t, res.Oopses, "oops: %+v", res.Oops)
				assert.Zero(t, res.Crashes, "crashes: %+v", res.CrashReasons)
				assert.Zero(t, res.LostDirty)
				assert.Zero(t, res.IneffectiveYoung)
				assert.Zero(t, res.ReclaimHidden)
				assert.Zero(t, res.ForkNoMem)
				assert.NotZero(t, res.YoungClears, "reclaim cleared young ptes")
			}
			assert.True(t, tt.engaged(res), "the fix's mechanism: %d pte lock waits, %d pending writes, %.2f exits per young clear",
				res.PinLockWaits, res.PendingWrites, res.ExitsPerYoung)
		})
	}
}

// lostDirtyPages: with one page per child a child's last write pass is
// as short as it gets, and a Dirty bit lost in it is not set again before
// the exit: about half the fork+exit pairs lose one (80 of 150 without
// the race detector, 104 of 150 under it, 2026-12-01), where with 4 pages
// it was 2 of 150, and 1 of 150 under the race detector, too few for a
// test on a loaded machine (a CI run saw none).
const lostDirtyPages = 1

func lostDirtyTrials() uint64 {
	if testing.Short() {
		return 150
	}
	return 400
}

// TestRaceGenericSetPTELosesDirty: writing back a copy of the pte loses a
// Dirty bit the MMU set in between, but never oopses; -short runs 150
// pairs.
func TestRaceGenericSetPTELosesDirty(t *testing.T) {
	res := runRace(t, race.Config{Strategy: "generic-set-pte", Window: raceWindow, Pages: lostDirtyPages, Trials: lostDirtyTrials()})
	assert.Zero(t, res.Oopses, "oops: %+v", res.Oops)
	assert.NotZero(t, res.LostDirty)
}

// TestRacePreserveADNeverClearsYoung: PRESERVE_AD keeps the Accessed bit
// it was asked to clear. It keeps Dirty too on a pinned table, but not in
// a pin or unpin window, where Xen's mmu_update stores to a frame that is
// no pagetable as plainly as the guest would: explore finds that lost
// Dirty bit (TestExploreFindsEachDefect), stress only rarely.
func TestRacePreserveADNeverClearsYoung(t *testing.T) {
	res := runRace(t, race.Config{Strategy: "preserve-ad", Window: raceWindow, Pages: lostDirtyPages, Trials: trials(400)})
	assert.Zero(t, res.Oopses, "oops: %+v", res.Oops)
	assert.NotZero(t, res.IneffectiveYoung)
}

// TestRacePinBeforeVisibleHidesMappings: linking the child into the
// reverse map only after the pin (and out of it before the unpin) hides
// the child's mappings from reclaim, Hugh Dickins' objection: reclaim
// unmaps pages from the parent that it cannot free, since the child's
// hidden pte still maps them, and, short of memory at fork (lowmem), the
// child's last tables cannot be had by reclaiming the pages being copied,
// so the fork fails. Nothing is freed while mapped: no use after free,
// under kswapd's pressure either (where how often kswapd meets a fork's
// hidden window is left to chance, and only logged). A fix in the lowmem
// configuration forks every time, its tables coming from reclaim.
func TestRacePinBeforeVisibleHidesMappings(t *testing.T) {
	const any = -1 // not asserted
	for _, tt := range []struct {
		name          string
		cfg           race.Config
		hidden, nomem int // 1: > 0, 0: none, any
	}{
		{"pressure", race.Config{Strategy: "pin-before-visible", Pressure: true, Trials: trials(200)}, any, 0},
		{"lowmem", race.Config{Strategy: "pin-before-visible", LowMem: true, Trials: trials(100)}, 1, 1},
		{"lowmem-fix", race.Config{Strategy: "lock-pte-pages", LowMem: true, Trials: trials(100)}, 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := runRace(t, tt.cfg)
			t.Logf("%d pages reclaim could not free for hidden mappings, %d forks failed, %d pages reclaimed by allocations, %d freed",
				res.ReclaimHidden, res.ForkNoMem, res.DirectReclaimed, res.Freed)
			assert.Zero(t, res.Oopses, "oops: %+v", res.Oops)
			assert.Zero(t, res.Crashes, "crashes: %+v", res.CrashReasons)
			for _, c := range []struct {
				what string
				want int
				n    uint64
			}{{"reclaim_hidden", tt.hidden, res.ReclaimHidden}, {"fork_nomem", tt.nomem, res.ForkNoMem}} {
				if c.want != any {
					assert.Equal(t, c.want == 1, c.n > 0, "%s %d", c.what, c.n)
				}
			}
			if tt.cfg.LowMem {
				assert.NotZero(t, res.DirectReclaimed, "the child's tables came from reclaim")
				assert.NotZero(t, res.Freed, "reclaim freed pages")
			}
		})
	}
}
