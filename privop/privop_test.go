package privop

import (
	"encoding/hex"
	"strings"
	"testing"

	"golang.org/x/arch/x86/x86asm"

	"github.com/pvsim/pvsim/x86"
)

func code(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

const (
	startRIP    = 0xffff800000101000
	startFlags  = x86.FlagRes1 | x86.FlagIF | x86.FlagRF | x86.FlagCF
	junkHigh    = 0xdeadbeef00000000
	kernel      = true
	user        = false
	noErrorCode = 0
)

// startRegs are distinct values in every register.
func startRegs() Regs {
	var r Regs
	for i := range r.GPR {
		r.GPR[i] = 0x0101010101010101 * uint64(i+1)
	}
	r.RIP, r.RFLAGS = startRIP, startFlags
	return r
}

// want is what a case expects: the outcome, and the registers that
// change (all others must not).
type want struct {
	kind      Kind
	vector    x86.Vector
	errorCode uint64
	len       int
	truncated bool
	gpr       map[int]uint64
}

func (w want) check(t *testing.T, name string, o Outcome, before, after Regs) {
	t.Helper()
	if o.Kind != w.kind || o.Vector != w.vector || o.ErrorCode != w.errorCode || o.Truncated != w.truncated {
		t.Errorf("%s: %v (kind %v, vector %d, error %#x, truncated %v), want %v vector %d error %#x truncated %v",
			name, o, o.Kind, o.Vector, o.ErrorCode, o.Truncated, w.kind, w.vector, w.errorCode, w.truncated)
	}
	if w.len != 0 && o.Len != w.len {
		t.Errorf("%s: length %d, want %d", name, o.Len, w.len)
	}
	exp := before
	for i, v := range w.gpr {
		exp.GPR[i] = v
	}
	switch o.Kind {
	case Emulated:
		exp.RIP += uint64(w.len)
		exp.RFLAGS &^= x86.FlagRF
	case Trap:
		exp.RIP += uint64(w.len)
	}
	if after != exp {
		for i := range after.GPR {
			if after.GPR[i] != exp.GPR[i] {
				t.Errorf("%s: GPR[%d] = %#x, want %#x", name, i, after.GPR[i], exp.GPR[i])
			}
		}
		if after.RIP != exp.RIP || after.RFLAGS != exp.RFLAGS {
			t.Errorf("%s: RIP %#x RFLAGS %#x, want %#x %#x", name, after.RIP, after.RFLAGS, exp.RIP, exp.RFLAGS)
		}
	}
}

func emulated(n int, gpr map[int]uint64) want { return want{kind: Emulated, len: n, gpr: gpr} }
func bounceGP(ec uint64) want                 { return want{kind: Bounce, vector: x86.VectorGP, errorCode: ec} }
func bounceUD() want                          { return want{kind: Bounce, vector: x86.VectorUD} }

type gpCase struct {
	name   string
	code   string
	kernel bool
	ec     uint64
	setup  func(e *fakeEnv, r *Regs)
	want   want
	env    func(t *testing.T, e *fakeEnv) // checks the Env afterwards
}

func runGP(t *testing.T, cases []gpCase) {
	t.Helper()
	for _, tc := range cases {
		e, r := newFakeEnv(), startRegs()
		if tc.setup != nil {
			tc.setup(e, &r)
		}
		before := r
		o := EmulateGP(code(tc.code), &r, tc.ec, tc.kernel, e)
		tc.want.check(t, tc.name, o, before, r)
		if tc.env != nil {
			tc.env(t, e)
		}
	}
}

func TestMovCR(t *testing.T) {
	e0 := newFakeEnv()
	cr0 := e0.cr[CR0]
	runGP(t, []gpCase{
		{name: "mov %cr0,%rax", code: "0f 20 c0", kernel: kernel, want: emulated(3, map[int]uint64{0: cr0})},
		{name: "mov %cr2,%rcx", code: "0f 20 d1", kernel: kernel, want: emulated(3, map[int]uint64{1: e0.cr[CR2]})},
		{name: "mov %cr3,%rdi", code: "0f 20 df", kernel: kernel, want: emulated(3, map[int]uint64{7: e0.cr[CR3]})},
		{name: "mov %cr4,%r8", code: "41 0f 20 e0", kernel: kernel, want: emulated(4, map[int]uint64{8: e0.cr[CR4]})},
		{name: "mov %cr0,%rax ignores 66", code: "66 0f 20 c0", kernel: kernel, want: emulated(4, map[int]uint64{0: cr0})},
		{name: "mov %cr0,%rax ignores REX.W", code: "48 0f 20 c0", kernel: kernel, want: emulated(4, map[int]uint64{0: cr0})},
		{name: "mov %cr0,%rax ignores REP", code: "f3 0f 20 c0", kernel: kernel, want: emulated(4, map[int]uint64{0: cr0})},
		{name: "mov %cr0 with ModRM.mod 0", code: "0f 20 00", kernel: kernel, want: emulated(3, map[int]uint64{0: cr0})},
		{name: "mov %cr3,%rax with ModRM.mod 1", code: "0f 20 58", kernel: kernel, want: emulated(3, map[int]uint64{0: e0.cr[CR3]})},
		{name: "mov %cr0,%r15 then bytes", code: "41 0f 20 c7 90 90", kernel: kernel, want: emulated(4, map[int]uint64{15: cr0})},
		{name: "mov %rax,%cr0 setting TS", code: "0f 22 c0", kernel: kernel,
			setup: func(e *fakeEnv, r *Regs) { r.GPR[0] = cr0 },
			want:  emulated(3, nil),
			env: func(t *testing.T, e *fakeEnv) {
				if e.cr[CR0] != cr0 {
					t.Errorf("CR0 %#x", e.cr[CR0])
				}
			}},
		{name: "mov %rax,%cr0 changing PG", code: "0f 22 c0", kernel: kernel,
			setup: func(e *fakeEnv, r *Regs) { r.GPR[0] = cr0 &^ x86.CR0PG },
			want:  bounceGP(0)},
		{name: "mov %rbx,%cr3", code: "0f 22 db", kernel: kernel, want: emulated(3, nil),
			env: func(t *testing.T, e *fakeEnv) {
				if e.cr[CR3] != startRegs().GPR[3] {
					t.Errorf("CR3 %#x", e.cr[CR3])
				}
			}},
		{name: "mov %r9,%cr4", code: "41 0f 22 e1", kernel: kernel, want: emulated(4, nil),
			env: func(t *testing.T, e *fakeEnv) {
				if e.cr[CR4] != startRegs().GPR[9] {
					t.Errorf("CR4 %#x", e.cr[CR4])
				}
			}},
		{name: "mov %rdx,%cr2", code: "0f 22 d2", kernel: kernel, want: emulated(3, nil),
			env: func(t *testing.T, e *fakeEnv) {
				if e.cr[CR2] != startRegs().GPR[2] {
					t.Errorf("CR2 %#x", e.cr[CR2])
				}
			}},
		{name: "mov %cr8,%rax (REX.R)", code: "44 0f 20 c0", kernel: kernel, want: bounceGP(0)},
		{name: "mov %rax,%cr8 (REX.R)", code: "44 0f 22 c0", kernel: kernel, want: bounceGP(0)},
		{name: "mov %cr12,%rax (REX.R)", code: "44 0f 20 e0", kernel: kernel, want: bounceGP(0)},
		{name: "lock mov %cr0 (AMD's CR8)", code: "f0 0f 20 c0", kernel: kernel, want: bounceUD()},
		{name: "lock mov %rax,%cr0", code: "f0 0f 22 c0", kernel: kernel, want: bounceUD()},
		{name: "mov %cr1,%rax", code: "0f 20 c8", kernel: kernel, want: bounceGP(0)},
		{name: "mov %rax,%cr5", code: "0f 22 e8", kernel: kernel, want: bounceGP(0)},
		{name: "mov %cr0,%rax in user mode", code: "0f 20 c0", kernel: user, want: bounceGP(0)},
		{name: "mov %rax,%cr3 in user mode", code: "0f 22 d8", kernel: user, want: bounceGP(0)},
		{name: "REX.B twice", code: "41 41 0f 20 c0", kernel: kernel, want: emulated(5, map[int]uint64{8: cr0})},
		{name: "REX before a prefix is ignored", code: "41 66 0f 20 c0", kernel: kernel, want: emulated(5, map[int]uint64{0: cr0})},
		{name: "REX.R before a prefix is ignored", code: "44 3e 0f 20 c0", kernel: kernel, want: emulated(5, map[int]uint64{0: cr0})},
		{name: "mov %tr6 (not 64-bit)", code: "0f 24 f0", kernel: kernel, want: bounceGP(0)},
	})
}

func TestMovDR(t *testing.T) {
	e0 := newFakeEnv()
	withDE := func(e *fakeEnv, r *Regs) { e.cr[CR4] |= cr4DE }
	runGP(t, []gpCase{
		{name: "mov %dr0,%rax", code: "0f 21 c0", kernel: kernel, want: emulated(3, map[int]uint64{0: e0.dr[0]})},
		{name: "mov %dr3,%rsi", code: "0f 21 de", kernel: kernel, want: emulated(3, map[int]uint64{6: e0.dr[3]})},
		{name: "mov %dr6,%r10", code: "41 0f 21 f2", kernel: kernel, want: emulated(4, map[int]uint64{10: e0.dr[6]})},
		{name: "mov %dr7,%rdx", code: "0f 21 fa", kernel: kernel, want: emulated(3, map[int]uint64{2: e0.dr[7]})},
		{name: "mov %dr4 is %dr6", code: "0f 21 e0", kernel: kernel, want: emulated(3, map[int]uint64{0: e0.dr[6]})},
		{name: "mov %dr5 is %dr7", code: "0f 21 e8", kernel: kernel, want: emulated(3, map[int]uint64{0: e0.dr[7]})},
		{name: "mov %dr4 with CR4.DE", code: "0f 21 e0", kernel: kernel, setup: withDE, want: bounceUD()},
		{name: "mov %rax,%dr5 with CR4.DE", code: "0f 23 e8", kernel: kernel, setup: withDE, want: bounceUD()},
		{name: "mov %dr8 (REX.R)", code: "44 0f 21 c0", kernel: kernel, want: bounceUD()},
		{name: "mov %rax,%dr15", code: "44 0f 23 f8", kernel: kernel, want: bounceUD()},
		{name: "mov %rax,%dr7", code: "0f 23 f8", kernel: kernel,
			setup: func(e *fakeEnv, r *Regs) { r.GPR[0] = 0x401 },
			want:  emulated(3, nil),
			env: func(t *testing.T, e *fakeEnv) {
				if e.dr[7] != 0x401 {
					t.Errorf("DR7 %#x", e.dr[7])
				}
			}},
		{name: "mov %rax,%dr4 writes DR6", code: "0f 23 e0", kernel: kernel,
			setup: func(e *fakeEnv, r *Regs) { r.GPR[0] = 0xffff4ff0 },
			want:  emulated(3, nil),
			env: func(t *testing.T, e *fakeEnv) {
				if e.dr[6] != 0xffff4ff0 {
					t.Errorf("DR6 %#x", e.dr[6])
				}
			}},
		{name: "mov %rax,%dr7 reserved bits", code: "0f 23 f8", kernel: kernel,
			setup: func(e *fakeEnv, r *Regs) { r.GPR[0] = 1 << 40 }, want: bounceGP(0)},
		{name: "mov %rbx,%dr0 refused", code: "0f 23 c3", kernel: kernel,
			setup: func(e *fakeEnv, r *Regs) { e.refuseDR = true }, want: bounceGP(0)},
		{name: "mov %dr7,%rax in user mode", code: "0f 21 f8", kernel: user, want: bounceGP(0)},
		{name: "lock mov %dr0", code: "f0 0f 21 c0", kernel: kernel, want: bounceUD()},
		{name: "mov %dr1,%rax with ModRM.mod 2", code: "0f 21 88", kernel: kernel, want: emulated(3, map[int]uint64{0: e0.dr[1]})},
	})
}

func TestMSR(t *testing.T) {
	e0 := newFakeEnv()
	efer := e0.msr[x86.MSREFER]
	ecx := func(i uint32) func(e *fakeEnv, r *Regs) {
		return func(e *fakeEnv, r *Regs) { r.GPR[1] = junkHigh | uint64(i) }
	}
	runGP(t, []gpCase{
		{name: "rdmsr EFER", code: "0f 32", kernel: kernel, setup: ecx(x86.MSREFER),
			want: emulated(2, map[int]uint64{0: efer & 0xffffffff, 2: efer >> 32})},
		{name: "rdmsr PAT", code: "0f 32", kernel: kernel, setup: ecx(x86.MSRPAT),
			want: emulated(2, map[int]uint64{0: 0x00070406, 2: 0x00000501})},
		{name: "rex.W rdmsr", code: "48 0f 32", kernel: kernel, setup: ecx(x86.MSRPAT),
			want: emulated(3, map[int]uint64{0: 0x00070406, 2: 0x00000501})},
		{name: "rdmsr unknown", code: "0f 32", kernel: kernel, setup: ecx(0x1234), want: bounceGP(0)},
		{name: "rdmsr in user mode", code: "0f 32", kernel: user, setup: ecx(x86.MSREFER), want: bounceGP(0)},
		{name: "wrmsr PAT", code: "0f 30", kernel: kernel,
			setup: func(e *fakeEnv, r *Regs) {
				r.GPR[1], r.GPR[0], r.GPR[2] = x86.MSRPAT, junkHigh|0x06060606, junkHigh|0x00000606
			},
			want: emulated(2, nil),
			env: func(t *testing.T, e *fakeEnv) {
				if v := e.msr[x86.MSRPAT]; v != 0x0000060606060606 {
					t.Errorf("PAT %#x", v)
				}
			}},
		{name: "wrmsr EFER unchanged", code: "0f 30", kernel: kernel,
			setup: func(e *fakeEnv, r *Regs) { r.GPR[1], r.GPR[0], r.GPR[2] = x86.MSREFER, efer, 0 },
			want:  emulated(2, nil)},
		{name: "wrmsr EFER changed", code: "0f 30", kernel: kernel,
			setup: func(e *fakeEnv, r *Regs) { r.GPR[1], r.GPR[0], r.GPR[2] = x86.MSREFER, 0, 0 },
			want:  bounceGP(0)},
		{name: "wrmsr in user mode", code: "0f 30", kernel: user, setup: ecx(x86.MSRPAT), want: bounceGP(0)},
		{name: "lock rdmsr", code: "f0 0f 32", kernel: kernel, setup: ecx(x86.MSREFER), want: bounceUD()},
	})
}

func TestMiscPrivileged(t *testing.T) {
	e0 := newFakeEnv()
	tsc := e0.msr[x86.MSRTSC]
	withTSD := func(e *fakeEnv, r *Regs) { e.cr[CR4] |= cr4TSD }
	runGP(t, []gpCase{
		{name: "clts", code: "0f 06", kernel: kernel, want: emulated(2, nil),
			env: func(t *testing.T, e *fakeEnv) {
				if e.cr[CR0] != e0.cr[CR0]&^cr0TS {
					t.Errorf("CR0 %#x", e.cr[CR0])
				}
			}},
		{name: "clts in user mode", code: "0f 06", kernel: user, want: bounceGP(0)},
		{name: "wbinvd", code: "0f 09", kernel: kernel, want: emulated(2, nil)},
		{name: "wbnoinvd", code: "f3 0f 09", kernel: kernel, want: emulated(3, nil)},
		{name: "wbinvd in user mode", code: "0f 09", kernel: user, want: bounceGP(0)},
		{name: "invd", code: "0f 08", kernel: kernel, want: bounceGP(0)},
		{name: "hlt", code: "f4", kernel: kernel, want: bounceGP(0)},
		{name: "rdpmc", code: "0f 33", kernel: kernel, want: bounceGP(0)},
		{name: "lgdt", code: "0f 01 10", kernel: kernel, want: bounceGP(0)},
		{name: "xsetbv", code: "0f 01 d1", kernel: kernel, want: bounceGP(0)},
		{name: "swapgs", code: "0f 01 f8", kernel: kernel, want: bounceGP(0)},
		{name: "invlpg", code: "0f 01 38", kernel: kernel, want: bounceGP(0)},
		{name: "a non-canonical load", code: "48 8b 18", kernel: kernel, want: bounceGP(0)},
		{name: "rdtsc", code: "0f 31", kernel: kernel,
			want: emulated(2, map[int]uint64{0: tsc & 0xffffffff, 2: tsc >> 32})},
		{name: "rdtsc in user mode", code: "0f 31", kernel: user,
			want: emulated(2, map[int]uint64{0: tsc & 0xffffffff, 2: tsc >> 32})},
		{name: "rdtsc in user mode with CR4.TSD", code: "0f 31", kernel: user, setup: withTSD, want: bounceGP(0)},
		{name: "rdtsc in kernel mode with CR4.TSD", code: "0f 31", kernel: kernel, setup: withTSD,
			want: emulated(2, map[int]uint64{0: tsc & 0xffffffff, 2: tsc >> 32})},
		{name: "rdtscp", code: "0f 01 f9", kernel: kernel,
			want: emulated(3, map[int]uint64{0: tsc & 0xffffffff, 2: tsc >> 32, 1: 7})},
		{name: "rdtscp without TSC_AUX", code: "0f 01 f9", kernel: kernel,
			setup: func(e *fakeEnv, r *Regs) { delete(e.msr, x86.MSRTSCAux) }, want: bounceGP(0)},
		{name: "rdtscp in user mode with CR4.TSD", code: "0f 01 f9", kernel: user, setup: withTSD, want: bounceGP(0)},
		{name: "cpuid", code: "0f a2", kernel: kernel,
			setup: func(e *fakeEnv, r *Regs) { r.GPR[0], r.GPR[1] = junkHigh|7, junkHigh|1 },
			want:  emulated(2, map[int]uint64{0: 7 ^ 0x11111111, 3: 1 ^ 0x22222222, 1: 0xcccccccc, 2: 0xdddddddd})},
		{name: "cpuid in user mode", code: "0f a2", kernel: user,
			setup: func(e *fakeEnv, r *Regs) { r.GPR[0], r.GPR[1] = 0, 0 },
			want:  emulated(2, map[int]uint64{0: 0x11111111, 3: 0x22222222, 1: 0xcccccccc, 2: 0xdddddddd})},
	})
}

func TestCliSti(t *testing.T) {
	iopl := func(level int, arch bool) func(e *fakeEnv, r *Regs) {
		return func(e *fakeEnv, r *Regs) { e.iopl, e.archIOPL = level, arch }
	}
	runGP(t, []gpCase{
		{name: "cli, IOPL 1", code: "fa", kernel: kernel, setup: iopl(1, false), want: emulated(1, nil)},
		{name: "sti, IOPL 1", code: "fb", kernel: kernel, setup: iopl(1, false), want: emulated(1, nil)},
		{name: "cli, IOPL 0", code: "fa", kernel: kernel, setup: iopl(0, false), want: bounceGP(0)},
		{name: "cli, IOPL 0, architectural IOPL", code: "fa", kernel: kernel, setup: iopl(0, true), want: emulated(1, nil)},
		{name: "sti in user mode, IOPL 1", code: "fb", kernel: user, setup: iopl(1, false), want: bounceGP(0)},
		{name: "sti in user mode, IOPL 3", code: "fb", kernel: user, setup: iopl(3, false), want: emulated(1, nil)},
		{name: "lock cli", code: "f0 fa", kernel: kernel, setup: iopl(3, false), want: bounceUD()},
	})
}

func TestPortIO(t *testing.T) {
	e0 := newFakeEnv()
	in := e0.inValue
	r0 := startRegs()
	al := r0.GPR[0]&^0xff | uint64(in&0xff)
	ax := r0.GPR[0]&^0xffff | uint64(in&0xffff)
	eax := uint64(in)
	deny := func(e *fakeEnv, r *Regs) { e.iopl = 0 }
	bitmap := func(ports ...uint16) func(e *fakeEnv, r *Regs) {
		return func(e *fakeEnv, r *Regs) {
			e.iopl, e.bitmap = 0, map[uint16]bool{}
			for _, p := range ports {
				e.bitmap[p] = true
			}
		}
	}
	dx := func(e *fakeEnv, r *Regs) { r.GPR[2] = junkHigh | 0x3f8 }
	access := func(port uint16, size int, out bool, value uint32) func(t *testing.T, e *fakeEnv) {
		return func(t *testing.T, e *fakeEnv) {
			got := e.ins
			if out {
				got = e.outs
			}
			if len(got) != 1 || got[0] != (portWrite{port, size, value}) || len(e.ins)+len(e.outs) != 1 {
				t.Errorf("port accesses: in %v out %v, want %v", e.ins, e.outs, portWrite{port, size, value})
			}
		}
	}
	none := func(t *testing.T, e *fakeEnv) {
		if len(e.ins)+len(e.outs) != 0 {
			t.Errorf("port accesses: in %v out %v", e.ins, e.outs)
		}
	}
	rax := uint32(r0.GPR[0])
	runGP(t, []gpCase{
		{name: "in $0x70,%al", code: "e4 70", kernel: kernel, want: emulated(2, map[int]uint64{0: al}), env: access(0x70, 1, false, 0)},
		{name: "in $0x71,%ax", code: "66 e5 71", kernel: kernel, want: emulated(3, map[int]uint64{0: ax}), env: access(0x71, 2, false, 0)},
		{name: "in $0x72,%eax", code: "e5 72", kernel: kernel, want: emulated(2, map[int]uint64{0: eax}), env: access(0x72, 4, false, 0)},
		{name: "rex.W in $0x72,%eax", code: "48 e5 72", kernel: kernel, want: emulated(3, map[int]uint64{0: eax}), env: access(0x72, 4, false, 0)},
		{name: "data16 rex.W in is dword", code: "66 48 e5 72", kernel: kernel, want: emulated(4, map[int]uint64{0: eax}), env: access(0x72, 4, false, 0)},
		{name: "rex.W data16 in is word", code: "48 66 e5 72", kernel: kernel, want: emulated(4, map[int]uint64{0: ax}), env: access(0x72, 2, false, 0)},
		{name: "in (%dx),%al", code: "ec", kernel: kernel, setup: dx, want: emulated(1, map[int]uint64{0: al}), env: access(0x3f8, 1, false, 0)},
		{name: "in (%dx),%ax", code: "66 ed", kernel: kernel, setup: dx, want: emulated(2, map[int]uint64{0: ax}), env: access(0x3f8, 2, false, 0)},
		{name: "in (%dx),%eax", code: "ed", kernel: kernel, setup: dx, want: emulated(1, map[int]uint64{0: eax}), env: access(0x3f8, 4, false, 0)},
		{name: "rep in ignores REP", code: "f3 ec", kernel: kernel, setup: dx, want: emulated(2, map[int]uint64{0: al}), env: access(0x3f8, 1, false, 0)},
		{name: "cs in ignores the segment", code: "2e e4 80", kernel: kernel, want: emulated(3, map[int]uint64{0: al}), env: access(0x80, 1, false, 0)},
		{name: "out %al,$0x80", code: "e6 80", kernel: kernel, want: emulated(2, nil), env: access(0x80, 1, true, rax&0xff)},
		{name: "out %ax,$0x80", code: "66 e7 80", kernel: kernel, want: emulated(3, nil), env: access(0x80, 2, true, rax&0xffff)},
		{name: "out %eax,$0x80", code: "e7 80", kernel: kernel, want: emulated(2, nil), env: access(0x80, 4, true, rax)},
		{name: "out %al,(%dx)", code: "ee", kernel: kernel, setup: dx, want: emulated(1, nil), env: access(0x3f8, 1, true, rax&0xff)},
		{name: "out %ax,(%dx)", code: "66 ef", kernel: kernel, setup: dx, want: emulated(2, nil), env: access(0x3f8, 2, true, rax&0xffff)},
		{name: "out %eax,(%dx)", code: "ef", kernel: kernel, setup: dx, want: emulated(1, nil), env: access(0x3f8, 4, true, rax)},
		{name: "in denied", code: "e4 70", kernel: kernel, setup: deny, want: bounceGP(0), env: none},
		{name: "out denied", code: "ee", kernel: kernel, setup: deny, want: bounceGP(0), env: none},
		{name: "in granted by the bitmap", code: "e4 70", kernel: kernel, setup: bitmap(0x70), want: emulated(2, map[int]uint64{0: al})},
		{name: "in word half granted", code: "66 e5 70", kernel: kernel, setup: bitmap(0x70), want: bounceGP(0), env: none},
		{name: "in in user mode, IOPL 1", code: "e4 70", kernel: user, want: bounceGP(0), env: none},
		{name: "in in user mode, bitmap", code: "e4 70", kernel: user, setup: bitmap(0x70), want: emulated(2, map[int]uint64{0: al})},
		{name: "out in user mode, IOPL 3", code: "e6 70", kernel: user, setup: func(e *fakeEnv, r *Regs) { e.iopl = 3 }, want: emulated(2, nil)},
		{name: "lock in", code: "f0 e4 70", kernel: kernel, want: bounceUD(), env: none},
		{name: "insb is not emulated", code: "6c", kernel: kernel, want: bounceGP(0), env: none},
		{name: "rep outsw is not emulated", code: "66 f3 6f", kernel: kernel, want: bounceGP(0), env: none},
	})
}

func TestGPErrorCodes(t *testing.T) {
	dpl := func(v uint8, d int) func(e *fakeEnv, r *Regs) {
		return func(e *fakeEnv, r *Regs) { e.dpl[v] = d }
	}
	trap := func(n int, v x86.Vector) want { return want{kind: Trap, vector: v, len: n} }
	runGP(t, []gpCase{
		{name: "external event", code: "0f 20 c0", kernel: kernel, ec: 0x21<<3 | 3, want: bounceGP(0x21<<3 | 3)},
		{name: "selector", code: "0f 20 c0", kernel: kernel, ec: 0x18, want: bounceGP(0x18)},
		{name: "int $0x80, DPL 3", code: "cd 80", kernel: user, ec: 0x80<<3 | 2, setup: dpl(0x80, 3), want: trap(2, 0x80)},
		{name: "int $0x80, DPL 1, kernel", code: "cd 80", kernel: kernel, ec: 0x80<<3 | 2, setup: dpl(0x80, 1), want: trap(2, 0x80)},
		{name: "int $0x80, DPL 1, user", code: "cd 80", kernel: user, ec: 0x80<<3 | 2, setup: dpl(0x80, 1), want: bounceGP(0x80<<3 | 2)},
		{name: "int $0x80, DPL 0, kernel", code: "cd 80", kernel: kernel, ec: 0x80<<3 | 2, want: bounceGP(0x80<<3 | 2)},
		{name: "int $0x80 with a prefix", code: "66 cd 80", kernel: user, ec: 0x80<<3 | 2, setup: dpl(0x80, 3), want: trap(3, 0x80)},
		{name: "IDT #GP on no int", code: "0f 0b", kernel: user, ec: 0x80<<3 | 2, setup: dpl(0x80, 3), want: bounceGP(0x80<<3 | 2)},
		{name: "IDT #GP, truncated", code: "cd", kernel: user, ec: 0x80<<3 | 2, setup: dpl(0x80, 3),
			want: want{kind: Bounce, vector: x86.VectorGP, errorCode: 0x80<<3 | 2, truncated: true}},
	})
}

func TestTruncated(t *testing.T) {
	trunc := want{kind: Bounce, vector: x86.VectorGP, truncated: true}
	runGP(t, []gpCase{
		{name: "nothing", code: "", kernel: kernel, want: trunc},
		{name: "0f", code: "0f", kernel: kernel, want: trunc},
		{name: "0f 20", code: "0f 20", kernel: kernel, want: trunc},
		{name: "44 0f 22", code: "44 0f 22", kernel: kernel, want: trunc},
		{name: "e4", code: "e4", kernel: kernel, want: trunc},
		{name: "66", code: "66", kernel: kernel, want: trunc},
		{name: "0f 01", code: "0f 01", kernel: kernel, want: trunc},
		{name: "f0", code: "f0", kernel: kernel, want: trunc},
		{name: "only prefixes", code: "66 66 66 66 66 66 66 66 66 66 66 66 66 66 66", kernel: kernel, want: bounceGP(0)},
		{name: "too long", code: "66 66 66 66 66 66 66 66 66 66 66 66 66 0f 20 c0", kernel: kernel, want: bounceGP(0)},
		{name: "15 bytes", code: "66 66 66 66 66 66 66 66 66 66 66 66 0f 20 c0", kernel: kernel,
			want: emulated(15, map[int]uint64{0: newFakeEnv().cr[CR0]})},
	})
}

func TestSingleStep(t *testing.T) {
	for _, tc := range []struct {
		name string
		tf   bool
	}{{"TF clear", false}, {"TF set", true}} {
		e, r := newFakeEnv(), startRegs()
		if tc.tf {
			r.RFLAGS |= x86.FlagTF
		}
		o := EmulateGP(code("0f 09"), &r, 0, kernel, e)
		if o.Kind != Emulated || o.SingleStep != tc.tf || r.RFLAGS&x86.FlagRF != 0 || r.RFLAGS&x86.FlagTF != boolFlag(tc.tf) {
			t.Errorf("%s: %v single-step %v RFLAGS %#x", tc.name, o, o.SingleStep, r.RFLAGS)
		}
		o = EmulateUD(code("0f 0b 78 65 6e 0f a2"), &r, kernel, e)
		if o.Kind != Emulated || o.SingleStep != tc.tf {
			t.Errorf("%s: FEP %v single-step %v", tc.name, o, o.SingleStep)
		}
		o = EmulateUD(code("cd 80"), &r, kernel, e)
		if o.SingleStep {
			t.Errorf("%s: int $0x80 owes a single step", tc.name)
		}
	}
}

func boolFlag(tf bool) uint64 {
	if tf {
		return x86.FlagTF
	}
	return 0
}

type udCase struct {
	name   string
	code   string
	kernel bool
	setup  func(e *fakeEnv, r *Regs)
	want   want
	sw     bool // a software interrupt
}

func TestEmulateUD(t *testing.T) {
	dpl := func(v uint8, d int) func(e *fakeEnv, r *Regs) {
		return func(e *fakeEnv, r *Regs) { e.dpl[v] = d }
	}
	trap := func(n int, v x86.Vector) want { return want{kind: Trap, vector: v, len: n} }
	leaf := func(e *fakeEnv, r *Regs) { r.GPR[0], r.GPR[1] = junkHigh|0x40000000, junkHigh|3 }
	fepOut := map[int]uint64{0: 0x40000000 ^ 0x11111111, 3: 3 ^ 0x22222222, 1: 0xcccccccc, 2: 0xdddddddd}
	truncUD := want{kind: Bounce, vector: x86.VectorUD, truncated: true}
	for _, tc := range []udCase{
		{name: "FEP cpuid", code: "0f 0b 78 65 6e 0f a2", kernel: kernel, setup: leaf, want: emulated(7, fepOut)},
		{name: "FEP cpuid and more", code: "0f 0b 78 65 6e 0f a2 90 90 90", kernel: kernel, setup: leaf, want: emulated(7, fepOut)},
		{name: "FEP cpuid in user mode", code: "0f 0b 78 65 6e 0f a2", kernel: user, setup: leaf, want: emulated(7, fepOut)},
		{name: "FEP rdmsr", code: "0f 0b 78 65 6e 0f 32", kernel: kernel, want: bounceUD()},
		{name: "FEP nop", code: "0f 0b 78 65 6e 90", kernel: kernel, want: bounceUD()},
		{name: "FEP prefixed cpuid", code: "0f 0b 78 65 6e 66 0f a2", kernel: kernel, want: bounceUD()},
		{name: "FEP, cpuid cut", code: "0f 0b 78 65 6e 0f", kernel: kernel, want: truncUD},
		{name: "FEP cut", code: "0f 0b 78 65 6e", kernel: kernel, want: truncUD},
		{name: "FEP cut short", code: "0f 0b 78 65", kernel: kernel, want: truncUD},
		{name: "ud2 at the end", code: "0f 0b", kernel: kernel, want: truncUD},
		{name: "ud2", code: "0f 0b 90 90 90", kernel: kernel, want: bounceUD()},
		{name: "ud2, then not xen", code: "0f 0b 78 65 6f 0f a2", kernel: kernel, want: bounceUD()},
		{name: "prefixed FEP", code: "66 0f 0b 78 65 6e 0f a2", kernel: kernel, want: bounceUD()},
		{name: "int $0x80, DPL 3, user", code: "cd 80", kernel: user, setup: dpl(0x80, 3), want: trap(2, 0x80), sw: true},
		{name: "int $0x80, DPL 1, kernel", code: "cd 80", kernel: kernel, setup: dpl(0x80, 1), want: trap(2, 0x80), sw: true},
		{name: "int $0x80, DPL 1, user", code: "cd 80", kernel: user, setup: dpl(0x80, 1), want: bounceGP(0x80<<3 | 2)},
		{name: "int $0x80, DPL 0, kernel", code: "cd 80", kernel: kernel, want: bounceGP(0x80<<3 | 2)},
		{name: "int $0x20, DPL 3", code: "cd 20", kernel: kernel, setup: dpl(0x20, 3), want: trap(2, 0x20), sw: true},
		{name: "int $0x0e, DPL 0", code: "cd 0e", kernel: kernel, want: bounceGP(0x0e<<3 | 2)},
		{name: "int $0xff, DPL 3", code: "cd ff", kernel: user, setup: dpl(0xff, 3), want: trap(2, 0xff), sw: true},
		{name: "data16 int $0x80", code: "66 cd 80", kernel: user, setup: dpl(0x80, 3), want: trap(3, 0x80), sw: true},
		{name: "int3", code: "cc", kernel: user, want: trap(1, x86.VectorBP)},
		{name: "int $3 ignores the DPL", code: "cd 03", kernel: user, want: trap(2, x86.VectorBP)},
		{name: "int $4 ignores the DPL", code: "cd 04", kernel: user, want: trap(2, x86.VectorOF)},
		{name: "icebp", code: "f1", kernel: user, want: trap(1, x86.VectorDB)},
		{name: "into", code: "ce", kernel: user, want: bounceUD()},
		{name: "lock int", code: "f0 cd 80", kernel: user, setup: dpl(0x80, 3), want: bounceUD()},
		{name: "int cut", code: "cd", kernel: user, want: truncUD},
		{name: "nothing", code: "", kernel: user, want: truncUD},
		{name: "an AVX instruction", code: "c5 fc 77", kernel: kernel, want: bounceUD()},
		{name: "rdmsr", code: "0f 32", kernel: kernel, want: bounceUD()},
	} {
		e, r := newFakeEnv(), startRegs()
		if tc.setup != nil {
			tc.setup(e, &r)
		}
		before := r
		o := EmulateUD(code(tc.code), &r, tc.kernel, e)
		tc.want.check(t, tc.name, o, before, r)
		if o.SoftwareInt != tc.sw {
			t.Errorf("%s: SoftwareInt %v", tc.name, o.SoftwareInt)
		}
		if o.Kind == Emulated && o.Op != x86asm.CPUID {
			t.Errorf("%s: op %v", tc.name, o.Op)
		}
	}
}

func TestSoftwareInterrupt(t *testing.T) {
	for _, tc := range []struct {
		vector  uint8
		dpl     int
		kernel  bool
		kind    Kind
		sw      bool
		errCode uint64
	}{
		{0x80, 3, false, Trap, true, 0},
		{0x80, 3, true, Trap, true, 0},
		{0x80, 2, false, Bounce, false, 0x402},
		{0x80, 1, true, Trap, true, 0},
		{0x80, 0, true, Bounce, false, 0x402},
		{0x82, 0, false, Bounce, false, 0x412},
		{3, 0, false, Trap, false, 0},
		{4, 0, false, Trap, false, 0},
		{1, 0, true, Bounce, false, 0xa},
		{14, 3, false, Trap, true, 0},
		{0, 0, false, Bounce, false, 2},
	} {
		o := SoftwareInterrupt(tc.vector, tc.dpl, tc.kernel)
		wantVector := x86.Vector(tc.vector)
		if tc.kind == Bounce {
			wantVector = x86.VectorGP
		}
		if o.Kind != tc.kind || o.SoftwareInt != tc.sw || o.ErrorCode != tc.errCode || o.Vector != wantVector {
			t.Errorf("SoftwareInterrupt(%#x, DPL %d, kernel %v) = %v (sw %v)", tc.vector, tc.dpl, tc.kernel, o, o.SoftwareInt)
		}
	}
}

// Every instruction the package comment says is emulated is, and reports
// its op.
func TestOps(t *testing.T) {
	for _, tc := range []struct {
		code string
		op   x86asm.Op
	}{
		{"0f 20 c0", x86asm.MOV}, {"0f 22 d8", x86asm.MOV}, {"0f 21 c0", x86asm.MOV}, {"0f 23 c0", x86asm.MOV},
		{"0f 30", x86asm.WRMSR}, {"0f 32", x86asm.RDMSR}, {"0f 06", x86asm.CLTS}, {"0f 09", x86asm.WBINVD},
		{"0f 31", x86asm.RDTSC}, {"0f 01 f9", x86asm.RDTSCP}, {"0f a2", x86asm.CPUID},
		{"fa", x86asm.CLI}, {"fb", x86asm.STI}, {"e4 01", x86asm.IN}, {"ee", x86asm.OUT},
	} {
		e, r := newFakeEnv(), startRegs()
		r.GPR[1] = x86.MSRPAT
		r.GPR[0], r.GPR[2] = 0x00070406, 0x00000501
		o := EmulateGP(code(tc.code), &r, 0, kernel, e)
		if o.Kind != Emulated || o.Op != tc.op {
			t.Errorf("%s: %v, op %v", tc.code, o, o.Op)
		}
		if s := o.String(); !strings.HasPrefix(s, "emulated") {
			t.Errorf("%s: String %q", tc.code, s)
		}
	}
	if s := (Outcome{Kind: Bounce, Vector: x86.VectorGP, Reason: "why"}).String(); s != "bounce #GP(0x0): why" {
		t.Errorf("String %q", s)
	}
}
