package hv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pvsim/pvsim/fingerprint"
	"github.com/pvsim/pvsim/guest"
	"github.com/pvsim/pvsim/internal/kvm"
	"github.com/pvsim/pvsim/ptops"
	"github.com/pvsim/pvsim/sched"
	"github.com/pvsim/pvsim/traps"
	"github.com/pvsim/pvsim/x86"
)

// TestPlainTypes digests a value of each type digestState hands to
// fingerprint.Plain, which panics on a type holding a pointer, whose bytes
// would differ between equal states. It runs without KVM, where the test
// of the whole digest does not.
func TestPlainTypes(t *testing.T) {
	h := fingerprint.NewHash()
	fingerprint.Plain(h, &kvm.Regs{})
	fingerprint.Plain(h, &kvm.Sregs{})
	fingerprint.Plain(h, &kvm.Events{})
	fingerprint.Plain(h, &kvm.FPU{})
	fingerprint.Plain(h, &hypercallArgs{})
	var hc hypercallState
	fingerprint.Plain(h, &hc.pendingPFNs)
	fingerprint.Plain(h, &hc.notOffered)
	fingerprint.Plain(h, &casState{})
	fingerprint.Plain(h, &modeState{})
	fingerprint.Plain(h, &ldtState{})
	fingerprint.Plain(h, &privRegs{})
	fingerprint.Plain(h, &traps.Table{})
	fingerprint.Plain(h, &traps.Callbacks{})
	fingerprint.Plain(h, &traps.Bounce{})
	fingerprint.Plain(h, &traps.Context{})
	fingerprint.Plain(h, &x86.Exception{})
	fingerprint.Plain(h, &ptops.GDT{})
	fingerprint.Plain(h, &ptops.LDT{})
}

// switcher hands the CPU to the other vCPU at every k-th point from the
// snapshot on: schedules that interleave the vCPUs finely.
type switcher struct {
	k, n int
}

func (s *switcher) Next(p *sched.Point) int {
	s.n++
	if s.n%s.k == 0 {
		for v := range 64 {
			if u := (p.VCPU + 1 + v) % 64; p.Runnable&(1<<u) != 0 {
				return u
			}
		}
	}
	return sched.DefaultNext(p)
}

// TestFingerprintTracksEveryWrite runs the race kernel and a scenario
// kernel from their snapshots on several interleavings with fingerprints
// on. On the first run of each it recomputes the digests of memory and of
// the frame table from scratch at every scheduling point: they must equal
// the ones kept from KVM's dirty log, the host's accesses and the frame
// table's touched records. Then it replays each schedule again and again:
// every replay must pass the same states (padding, a stray TSC, a vCPU
// setting itself up out of turn or kvm_pvm's stale interrupt bitmap would
// not). And it checks that the check can fail.
func TestFingerprintTracksEveryWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("boots two kernels and replays 160 schedules (-short)")
	}
	needKVM(t)
	ctx := context.Background()
	for _, kc := range []struct{ kernel, cmdline string }{
		{"race", "strategy=none"},
		{"dax-pmd-pte", "variant=4.11 race=1"},
	} {
		t.Run(kc.kernel, func(t *testing.T) {
			snap := bootSnapshot(t, kc.kernel, kc.cmdline)

			// The check catches what tracking misses: without the frames
			// the host writes through views it keeps (shared_info's clock
			// moves at every point), the kept digest falls behind.
			d, err := snap.Restore(Config{Scheduler: sched.Default{}, Timeout: 30 * time.Second, Fingerprint: true})
			if err != nil {
				t.Fatal(err)
			}
			d.digests.kept = nil
			d.digests.verify = d.verifyDigests
			_, err = d.Run(ctx)
			d.Close()
			if err == nil || !strings.Contains(err.Error(), "a write was not tracked") {
				t.Fatalf("with the kept views untracked: %v, want an untracked write found", err)
			}

			for _, k := range []int{1000, 7, 5, 3, 2} {
				var first []fingerprint.Digest
				for rep := range 16 {
					rec := &recorder{s: &switcher{k: k}}
					d, err := snap.Restore(Config{Scheduler: rec, Timeout: 30 * time.Second, Fingerprint: true, Audit: true})
					if err != nil {
						t.Fatal(err)
					}
					checked := 0
					if rep == 0 {
						d.digests.verify = func(mem, frames fingerprint.Digest) error {
							checked++
							return d.verifyDigests(mem, frames)
						}
					}
					_, err = d.Run(ctx)
					d.Close()
					if err != nil {
						var ge *GuestError
						if !errors.As(err, &ge) {
							t.Fatalf("switch every %d points: %v", k, err)
						}
					}
					if rep == 0 {
						if checked == 0 || len(rec.states) != checked {
							t.Fatalf("switch every %d points: %d points checked, %d states recorded", k, checked, len(rec.states))
						}
						if slices.Contains(rec.states, fingerprint.Digest{}) {
							t.Fatalf("switch every %d points: a point without a state", k)
						}
						first = rec.states
						continue
					}
					if !reflect.DeepEqual(first, rec.states) {
						t.Errorf("switch every %d points: replay %d of one schedule passed other states", k, rep)
					}
				}
				t.Logf("switch every %d points: %d points, each digest equal to its recomputation and on 15 replays", k, len(first))
			}
		})
	}
}

// bootSnapshot boots an embedded kernel on two vCPUs, deterministically,
// to its snapshot point, and closes the snapshot when the test ends.
func bootSnapshot(t testing.TB, kernel, cmdline string) *Snapshot {
	t.Helper()
	k, ok := guest.Lookup(kernel)
	if !ok {
		t.Fatalf("no embedded kernel %s", kernel)
	}
	boot, err := New(Config{Name: k.Name, Kernel: k.ELF, VCPUs: 2, CmdLine: cmdline, Timeout: 30 * time.Second,
		Scheduler: sched.Default{}, Snapshot: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := boot.Run(context.Background())
	boot.Close()
	if err != nil || res.Snapshot == nil {
		t.Fatalf("booting %s to its snapshot point: %v, %+v", kernel, err, res)
	}
	t.Cleanup(res.Snapshot.Close)
	return res.Snapshot
}

// BenchmarkStateDigest runs the race kernel from its snapshot, switching
// vCPUs every third point, with and without fingerprints: the difference
// of the two per point is what a state digest costs. It reports the
// points of a run and, with fingerprints, the frames rehashed a point.
//
//	go test ./hv -run XXX -bench StateDigest -benchtime 50x
func BenchmarkStateDigest(b *testing.B) {
	if _, err := os.Stat("/dev/kvm"); err != nil {
		b.Skipf("SKIP: needs /dev/kvm: %v", err)
	}
	snap := bootSnapshot(b, "race", "strategy=hv-pin-aware")
	for _, on := range []bool{false, true} {
		name := map[bool]string{false: "off", true: "on"}[on]
		b.Run(name, func(b *testing.B) {
			var points, frames uint64
			for range b.N {
				rec := &recorder{s: &switcher{k: 3}}
				if err := snap.PrepareFingerprints(); err != nil {
					b.Fatal(err)
				}
				d, err := snap.Restore(Config{Scheduler: rec, Timeout: 30 * time.Second, Fingerprint: on, Audit: true})
				if err != nil {
					b.Fatal(err)
				}
				res, err := d.Run(context.Background())
				if d.digests != nil {
					frames += d.digests.rehashed
				}
				d.Close()
				if err != nil {
					b.Fatal(err)
				}
				points += res.Steps - snap.Steps()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(points), "µs/point")
			b.ReportMetric(float64(points)/float64(b.N), "points/run")
			if on {
				b.ReportMetric(float64(frames)/float64(points), "frames/point")
			}
		})
	}
}

// recorder records the states of the points it passes.
type recorder struct {
	s      sched.Scheduler
	states []fingerprint.Digest
}

func (r *recorder) Next(p *sched.Point) int {
	r.states = append(r.states, p.State)
	return r.s.Next(p)
}

// verifyDigests compares the kept digests with ones made from scratch.
func (d *Domain) verifyDigests(mem, frames fingerprint.Digest) error {
	m := fingerprint.NewBase(d.mem.Frames(), d.mem.FrameDigest).NewSet().Sum()
	if m != mem {
		return fmt.Errorf("memory digest %x kept, %x recomputed: a write was not tracked", mem, m)
	}
	ft := fingerprint.NewBase(d.ft.NrFrames(), d.ft.RecordDigest).NewSet().Sum()
	if ft != frames {
		return fmt.Errorf("frame-table digest %x kept, %x recomputed: a change was not tracked", frames, ft)
	}
	return nil
}

// needKVM skips a KVM-backed test, loudly, where /dev/kvm is absent, as
// the other packages' tests do: any other failure to use KVM fails.
func needKVM(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/dev/kvm"); err != nil {
		t.Skipf("SKIP: KVM-backed test needs /dev/kvm: %v", err)
	}
}

// TestDigestCoversEveryField keeps the digest honest as the hypervisor
// grows: every field of the per-vCPU state is either digested
// (digestState) or left out for a reason given here. A new field fails
// this test until it is put in one or the other.
func TestDigestCoversEveryField(t *testing.T) {
	const digested = "digested"
	for _, tt := range []struct {
		v      any
		fields map[string]string
	}{
		{vcpu{}, map[string]string{
			"start": digested, "state": digested, "entered": digested, "exits": digested, "hc": digested,
			"traps": digested, "guestMode": digested, "ldt": digested, "mm": digested, "gdt": digested,
			"runstate": digested, "infoAddr": digested, "priv": digested, "restored": digested, "timers": digested,
			"run":   "digested: exit, registers and events (KVM_GET_FPU for the rest)",
			"exec":  "digested: whether it is parked, and the guest registers it holds then",
			"flush": "digested: the newest flush requested and whether it is served",
			"d":     "the domain", "id": "the vCPU's number, its place in the digest",
			"kvm": "a handle", "startMu": "a lock", "upCh": "closed by VCPUOP_up: state says so",
			"tid": "a host thread", "lastRIP": "for reports", "stats": "history", "trace": "history",
			"kickFn": "a method value", "serveFn": "a method value", "wake": "a host channel",
			"polling": "SCHEDOP_poll yields at once in a deterministic domain",
		}},
		{trapState{}, map[string]string{
			"table": digested, "callbacks": digested, "upcall": digested, "upcallCtx": digested,
			"kernelSS": digested, "kernelSP": digested, "active": digested, "exc": digested, "frame": digested,
			"bounce": digested, "cas": digested, "lastNotEmulated": digested, "lastBounce": digested,
			"lastBounceWhy": digested, "bounced": digested,
			"next": "scratch for set_trap_table", "ptwRegs": "scratch for the write emulator",
			"insns": "a cache of decoded instructions", "stack": "views of memory, which is digested",
		}},
		{hypercallState{}, map[string]string{
			"args": digested, "cont": digested, "pendingPFNs": digested, "active": digested, "bySyscall": digested,
			"preempted": digested, "snapshotting": digested, "caller": digested, "r11": digested, "notOffered": digested,
			"buf":    "scratch for arguments copied in",
			"labels": "a cache of label strings read from guest memory; a label is digested as its point's",
		}},
		{mmuState{}, map[string]string{
			"remote": digested, "inMulticall": digested, "locked": digested, "exchange": digested, "exchangePA": digested,
			"ctx":         "the pagetable operations' context: pointers to state digested elsewhere",
			"readGuestFn": "a method value", "flushFn": "a method value", "settleFn": "a method value",
			"lastOp": "for audit reports", "audit": "the audit's scratch copy", "cr3s": "the audit's scratch",
		}},
		{startContext{}, map[string]string{
			"regs": digested, "cr3": digested, "userBase": digested, "fsBase": digested, "gsBase": digested,
			"gsBaseUser": digested, "ldt": digested, "cs": digested, "ss": digested, "table": digested,
			"kernelSS": digested, "kernelSP": digested, "callbacks": digested, "iopl": digested,
		}},
		{vcpuTimers{}, map[string]string{
			"singleshot": digested, "period": digested, "periodic": digested, "poll": digested,
			"mu": "a lock", "host": "a host timer, idle in a deterministic domain", "stopped": "set as the domain ends",
			"tscOffset": "the host TSC's offset, unused in a deterministic domain",
		}},
	} {
		typ := reflect.TypeOf(tt.v)
		seen := map[string]bool{}
		for i := range typ.NumField() {
			name := typ.Field(i).Name
			seen[name] = true
			if _, ok := tt.fields[name]; !ok {
				t.Errorf("%v.%s is neither digested nor left out for a reason (hv/fingerprint.go)", typ, name)
			}
		}
		for name := range tt.fields {
			if !seen[name] {
				t.Errorf("%v has no field %s any more", typ, name)
			}
		}
	}
}
