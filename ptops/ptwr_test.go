package ptops

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/biglock"
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/mmu/mmutest"
	"github.com/pvsim/pvsim/x86"
	"github.com/pvsim/pvsim/xen"
)

// GPR indexes used by the tests.
const (
	rax = 0
	rcx = 1
	rsi = 6
	rdi = 7
)

// The entry the tests write: the boot L1's entry for data frame 100, seen
// through the read-only linear-map alias of the L1.
const (
	dataPFN = 100
	entryVA = base + bootL1<<mmu.PageShift + dataPFN*8
)

const (
	pteA   = mmu.PTEAccessed
	pteD   = mmu.PTEDirty
	avl    = mmu.PTE(7 << 9) // software bits
	start  = rw | pteD       // the entry before each case: P, W, U, A, D
	ripAt  = 0x1000
	flagsZ = x86.FlagZF
)

func TestEmulatePTWrite(t *testing.T) {
	dataRO := mmu.MakePTE(dataPFN, start&^mmu.PTEWritable)
	other := mmu.MakePTE(101, rw)
	tests := []struct {
		name string
		code []byte
		// regs set before; the rest are zero. RDI is entryVA+rdiOff and
		// the fault is at entryVA+cr2Off.
		rsi, rax, rcx  uint64
		rdiOff, cr2Off uint64
		flags          uint64
		// ripRel: the operand is [rip-0x1007]; RIP is set to reach entryVA.
		ripRel bool
		// want
		entry   mmu.PTE
		regs    map[int]uint64
		setFl   uint64 // flags that must be set
		clearFl uint64 // flags that must be clear
	}{
		{name: "lock btr $5 (ptep_test_and_clear_young)", code: []byte{0xf0, 0x48, 0x0f, 0xba, 0x37, 0x05},
			entry: mmu.MakePTE(dataPFN, start&^pteA), setFl: x86.FlagCF},
		{name: "lock bts $6", code: []byte{0xf0, 0x48, 0x0f, 0xba, 0x2f, 0x06},
			entry: mmu.MakePTE(dataPFN, start), setFl: x86.FlagCF},
		{name: "lock btr %rsi, old bit clear", code: []byte{0xf0, 0x48, 0x0f, 0xb3, 0x37}, rsi: 9, flags: x86.FlagCF,
			entry: mmu.MakePTE(dataPFN, start), clearFl: x86.FlagCF},
		{name: "lock bts %rsi, 9", code: []byte{0xf0, 0x48, 0x0f, 0xab, 0x37}, rsi: 9,
			entry: mmu.MakePTE(dataPFN, start|1<<9), clearFl: x86.FlagCF},
		{name: "lock btsl $31, 4(%rdi): NX through the upper half", code: []byte{0xf0, 0x0f, 0xba, 0x6f, 0x04, 0x1f}, cr2Off: 4,
			entry: mmu.MakePTE(dataPFN, start|mmu.PTENX), clearFl: x86.FlagCF},
		{name: "lock btrq %rsi, bit offset 64+63 reaches the next entry", code: []byte{0xf0, 0x48, 0x0f, 0xb3, 0x37}, rsi: ^uint64(0), rdiOff: 8, // bit -1: bit 63 of the entry before
			entry: mmu.MakePTE(dataPFN, start), clearFl: x86.FlagCF},
		{name: "btr without lock", code: []byte{0x48, 0x0f, 0xba, 0x37, 0x05},
			entry: mmu.MakePTE(dataPFN, start&^pteA), setFl: x86.FlagCF},
		{name: "lock andq $imm sign-extended", code: []byte{0xf0, 0x48, 0x83, 0x27, 0xbf}, // and $-0x41: clear D
			entry: mmu.MakePTE(dataPFN, start&^pteD), clearFl: x86.FlagZF | x86.FlagCF | x86.FlagOF, setFl: 0},
		{name: "lock orq $0xe00 sets the software bits", code: []byte{0xf0, 0x48, 0x81, 0x0f, 0x00, 0x0e, 0x00, 0x00},
			entry: mmu.MakePTE(dataPFN, start|avl), clearFl: x86.FlagZF | x86.FlagSF | x86.FlagCF},
		{name: "lock xorq %rsi", code: []byte{0xf0, 0x48, 0x31, 0x37}, rsi: uint64(pteD | 1<<10),
			entry: mmu.MakePTE(dataPFN, start&^pteD|1<<10)},
		{name: "lock andq %rsi to zero sets ZF and PF", code: []byte{0xf0, 0x48, 0x21, 0x37}, rsi: 0,
			entry: 0, setFl: x86.FlagZF | x86.FlagPF, clearFl: x86.FlagSF},
		{name: "lock orl $imm on the low half", code: []byte{0xf0, 0x83, 0x0f, 0x40}, // or $0x40 (D, already set)
			entry: mmu.MakePTE(dataPFN, start), clearFl: x86.FlagZF},
		{name: "lock xorl on the upper half flips NX, SF set", code: []byte{0xf0, 0x81, 0x77, 0x04, 0x00, 0x00, 0x00, 0x80}, cr2Off: 4,
			entry: mmu.MakePTE(dataPFN, start|mmu.PTENX), setFl: x86.FlagSF},
		{name: "lock andb $0xfd (clear_bit(_PAGE_BIT_RW): ptep_set_wrprotect)", code: []byte{0x3e, 0xf0, 0x80, 0x27, 0xfd},
			entry: mmu.MakePTE(dataPFN, start&^mmu.PTEWritable), clearFl: x86.FlagZF},
		{name: "lock orb $0x20 on the low byte", code: []byte{0xf0, 0x80, 0x0f, 0x20},
			entry: mmu.MakePTE(dataPFN, start|pteA)},
		{name: "lock andb $0x7f, 7(%rdi): NX cleared through the top byte", code: []byte{0xf0, 0x80, 0x67, 0x07, 0x7f}, cr2Off: 7,
			entry: mmu.MakePTE(dataPFN, start&^mmu.PTENX), setFl: x86.FlagZF},
		{name: "movw %si, 2(%rdi): bits 16..31", code: []byte{0x66, 0x89, 0x77, 0x02}, rsi: 0xffff0000 | uint64(mmu.MakePTE(dataPFN, start))>>16&0xffff, cr2Off: 2,
			entry: mmu.MakePTE(dataPFN, start)},
		{name: "xchgb %sil leaves the rest of RSI", code: []byte{0x40, 0x86, 0x37}, rsi: 0xabcd00 | uint64(start&0xff),
			entry: mmu.MakePTE(dataPFN, start), regs: map[int]uint64{rsi: 0xabcd00 | uint64(start&0xff)}},
		{name: "movq %rsi", code: []byte{0x48, 0x89, 0x37}, rsi: uint64(other),
			entry: other},
		{name: "movq $imm32 sign-extended: not present", code: []byte{0x48, 0xc7, 0x07, 0x00, 0x00, 0x00, 0x80},
			entry: 0xffffffff80000000},
		{name: "movl %esi to the low half", code: []byte{0x89, 0x37}, rsi: 0xffffffff00000000 | uint64(mmu.MakePTE(101, rw)),
			entry: mmu.MakePTE(101, rw)},
		{name: "movq %rsi, the same value", code: []byte{0x48, 0x89, 0x37}, rsi: uint64(mmu.MakePTE(dataPFN, start)),
			entry: mmu.MakePTE(dataPFN, start)},
		{name: "xchgq returns the old entry", code: []byte{0x48, 0x87, 0x37}, rsi: uint64(dataRO),
			entry: dataRO, regs: map[int]uint64{rsi: uint64(mmu.MakePTE(dataPFN, start))}},
		{name: "xchgl zero-extends", code: []byte{0x87, 0x37}, rsi: 0xdead000000000000 | uint64(dataRO),
			entry: dataRO, regs: map[int]uint64{rsi: uint64(mmu.MakePTE(dataPFN, start))}},
		{name: "lock cmpxchgq succeeds", code: []byte{0xf0, 0x48, 0x0f, 0xb1, 0x37}, rax: uint64(mmu.MakePTE(dataPFN, start)), rsi: uint64(other),
			entry: other, setFl: x86.FlagZF, regs: map[int]uint64{rax: uint64(mmu.MakePTE(dataPFN, start))}},
		{name: "lock cmpxchgq fails: RAX gets the entry", code: []byte{0xf0, 0x48, 0x0f, 0xb1, 0x37}, rax: uint64(mmu.MakePTE(dataPFN, rw)), rsi: uint64(other), flags: x86.FlagZF,
			entry: mmu.MakePTE(dataPFN, start), setFl: x86.FlagCF, clearFl: x86.FlagZF, regs: map[int]uint64{rax: uint64(mmu.MakePTE(dataPFN, start))}},
		{name: "lock cmpxchgl on the low half", code: []byte{0xf0, 0x0f, 0xb1, 0x37}, rax: uint64(mmu.MakePTE(dataPFN, start)), rsi: uint64(dataRO),
			entry: dataRO, setFl: x86.FlagZF},
		{name: "an FS-based operand", code: []byte{0x64, 0x48, 0x89, 0x34, 0x25, 0x00, 0x00, 0x00, 0x00}, rsi: uint64(other),
			entry: other},
		{name: "movabs %rax to a 64-bit address", code: append([]byte{0x48, 0xa3}, le64(entryVA)...), rax: uint64(other),
			entry: other},
		{name: "a negative disp32", code: []byte{0x48, 0x89, 0xb7, 0x00, 0xf0, 0xff, 0xff}, rsi: uint64(other), rdiOff: 0x1000,
			entry: other},
		{name: "a RIP-relative operand", code: []byte{0x48, 0x89, 0x35, 0xf9, 0xef, 0xff, 0xff}, rsi: uint64(other), ripRel: true,
			entry: other},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.put(bootL1, dataPFN, mmu.MakePTE(dataPFN, start))
			f.put(bootL1, dataPFN+1, mmu.MakePTE(dataPFN+1, start))
			regs := Regs{RIP: ripAt, RFLAGS: 0x202 | tt.flags}
			regs.GPR[rdi], regs.GPR[rsi], regs.GPR[rax], regs.GPR[rcx] = entryVA+tt.rdiOff, tt.rsi, tt.rax, tt.rcx
			regs.FSBase = entryVA // for [fs:0]
			if tt.ripRel {
				regs.RIP = entryVA - len64(tt.code) + 0x1007 // disp32 is -0x1007
			}
			rip := regs.RIP
			cr2 := entryVA + tt.cr2Off
			w, err := EmulatePTWrite(f.c, &regs, cr2, x86.PFPresent|x86.PFWrite|x86.PFUser, tt.code)
			require.NoError(t, err)
			assert.Equal(t, adjusted(tt.entry), f.entry(bootL1, dataPFN), "entry: %v", f.entry(bootL1, dataPFN))
			assert.Equal(t, w.New, f.entry(bootL1, dataPFN))
			assert.Equal(t, rip+len64(tt.code), regs.RIP, "rip after the instruction")
			assert.Equal(t, tt.setFl, regs.RFLAGS&tt.setFl, "flags set: %#x", regs.RFLAGS)
			assert.Zero(t, regs.RFLAGS&tt.clearFl, "flags clear: %#x", regs.RFLAGS)
			for i, v := range tt.regs {
				assert.Equal(t, v, regs.GPR[i], "register %d", i)
			}
			f.audit(t)
		})
	}
}

// racingExecutor stands in for the MMU: before the first compare-and-
// exchange it sets Dirty in the entry, as a write on another CPU would.
type racingExecutor struct {
	*mmutest.RecordingExecutor
	pa    uint64
	races int
}

func (x *racingExecutor) CmpXchg(pa uint64, old, new mmu.PTE) mmu.PTE {
	if x.races > 0 {
		x.races--
		e := x.load(pa)
		x.Mem[pa] = byte(e | pteD)
	}
	return x.RecordingExecutor.CmpXchg(pa, old, new)
}

func (x *racingExecutor) load(pa uint64) mmu.PTE {
	v, _ := x.Mem.Read64(pa)
	return mmu.PTE(v)
}

// A Dirty bit the MMU sets between the read and the compare-and-exchange
// is never lost: the RMW forms retry and keep it, XCHG returns it, and a
// guest CMPXCHG that expected the clean entry fails as it would natively.
func TestEmulatePTWriteConcurrentDirty(t *testing.T) {
	clean := mmu.MakePTE(dataPFN, rw)
	tests := []struct {
		name     string
		code     []byte
		rsi, rax uint64
		entry    mmu.PTE
		attempts int
		reg      int
		regWant  mmu.PTE
		zf       bool
	}{
		{name: "lock btr $5 retries and keeps D", code: []byte{0xf0, 0x48, 0x0f, 0xba, 0x37, 0x05},
			entry: clean&^pteA | pteD, attempts: 2, reg: -1},
		{name: "xchg retries and returns D", code: []byte{0x48, 0x87, 0x37}, rsi: uint64(mmu.MakePTE(dataPFN, rw&^mmu.PTEWritable)),
			entry: mmu.MakePTE(dataPFN, rw&^mmu.PTEWritable), attempts: 2, reg: rsi, regWant: clean | pteD},
		{name: "guest cmpxchg expecting the clean entry fails", code: []byte{0xf0, 0x48, 0x0f, 0xb1, 0x37},
			rax: uint64(clean), rsi: uint64(mmu.MakePTE(dataPFN, rw&^mmu.PTEWritable)),
			entry: clean | pteD, attempts: 2, reg: rax, regWant: clean | pteD, zf: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.put(bootL1, dataPFN, clean)
			x := &racingExecutor{RecordingExecutor: f.x, races: 1}
			f.c.X = x
			regs := Regs{RIP: ripAt, RFLAGS: 0x202}
			regs.GPR[rdi], regs.GPR[rsi], regs.GPR[rax] = entryVA, tt.rsi, tt.rax
			w, err := EmulatePTWrite(f.c, &regs, entryVA, PTWriteError, tt.code)
			require.NoError(t, err)
			assert.Equal(t, tt.attempts, w.Attempts)
			assert.Equal(t, adjusted(tt.entry), f.entry(bootL1, dataPFN))
			if tt.reg >= 0 {
				assert.Equal(t, uint64(tt.regWant), regs.GPR[tt.reg])
			}
			assert.Equal(t, tt.zf, regs.RFLAGS&x86.FlagZF != 0)
			f.audit(t)
		})
	}
}

// Faults pvsim does not emulate come back as NotEmulated, with nothing
// changed, so that the caller bounces them to the guest.
func TestEmulatePTWriteNotEmulated(t *testing.T) {
	lockBTR := []byte{0xf0, 0x48, 0x0f, 0xba, 0x37, 0x05}
	tests := []struct {
		name  string
		setup func(f *fixture)
		cr2   uint64
		code  []byte
		err   uint64
	}{
		{name: "a read fault", cr2: entryVA, code: lockBTR, err: x86.PFPresent},
		{name: "a not-present fault", cr2: entryVA, code: lockBTR, err: x86.PFWrite},
		{name: "a frame that is not a pagetable", cr2: base + dataPFN<<mmu.PageShift, code: lockBTR, err: PTWriteError,
			setup: func(f *fixture) {
				require.NoError(t, UpdateVAMapping(f.c, va(dataPFN), mmu.MakePTE(dataPFN, rw&^mmu.PTEWritable), 0))
			}},
		{name: "an L4, not an L1", cr2: base + bootL4<<mmu.PageShift, code: lockBTR, err: PTWriteError},
		{name: "a writable mapping", cr2: base + dataPFN<<mmu.PageShift, code: lockBTR, err: PTWriteError},
		{name: "a hypervisor address", cr2: xen.HypervisorVirtStart, code: lockBTR, err: PTWriteError},
		{name: "add is not emulated", cr2: entryVA, code: []byte{0x48, 0x01, 0x37}, err: PTWriteError},
		{name: "a misaligned 2-byte mov", cr2: entryVA + 1, code: []byte{0x66, 0x89, 0x77, 0x01}, err: PTWriteError},
		{name: "a high-byte register", cr2: entryVA, code: []byte{0x88, 0x27}, err: PTWriteError}, // mov %ah, (%rdi)
		{name: "a misaligned mov", cr2: entryVA + 1, code: []byte{0x48, 0x89, 0x77, 0x01}, err: PTWriteError},
		{name: "the instruction writes elsewhere than the fault", cr2: entryVA + 8, code: lockBTR, err: PTWriteError},
		{name: "rep movs", cr2: entryVA, code: []byte{0xf3, 0x48, 0xa5}, err: PTWriteError},
		{name: "undecodable", cr2: entryVA, code: []byte{0x0f, 0xff}, err: PTWriteError},
		{name: "32-bit addressing", cr2: entryVA, code: []byte{0x67, 0x48, 0x89, 0x37}, err: PTWriteError},
		{name: "a writable mapping of a pagetable", cr2: entryVA, code: []byte{0x48, 0x89, 0x37}, err: PTWriteError},
		{name: "a frame outside the domain", cr2: entryVA, code: []byte{0x48, 0x89, 0x0f}, err: PTWriteError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			regs := Regs{RIP: ripAt, RFLAGS: 0x202}
			regs.GPR[rdi] = entryVA
			regs.GPR[rsi] = uint64(mmu.MakePTE(bootL1, rw))  // maps the L1 itself writable
			regs.GPR[rcx] = uint64(mmu.MakePTE(hvFrame, rw)) // outside the domain
			before, regsBefore := f.snapshot(), regs
			_, err := EmulatePTWrite(f.c, &regs, tt.cr2, tt.err, tt.code)
			var ne *NotEmulated
			require.ErrorAs(t, err, &ne)
			assert.Equal(t, before, f.snapshot(), "state changed")
			assert.Equal(t, regsBefore, regs, "registers changed")
		})
	}
}

// The entry keeps changing under every attempt: the caller retries the
// instruction.
func TestEmulatePTWriteRetry(t *testing.T) {
	f := newFixture(t)
	f.put(bootL1, dataPFN, mmu.MakePTE(dataPFN, rw))
	x := &flippingExecutor{RecordingExecutor: f.x}
	f.c.X = x
	regs := Regs{RIP: ripAt}
	regs.GPR[rdi] = entryVA
	before := regs
	_, err := EmulatePTWrite(f.c, &regs, entryVA, PTWriteError, []byte{0xf0, 0x48, 0x0f, 0xba, 0x37, 0x05})
	require.ErrorIs(t, err, ErrRetry)
	assert.Equal(t, before, regs)
	assert.Equal(t, maxAttempts, x.n)
	x.Mem[bootL1<<mmu.PageShift+dataPFN*8] &^= byte(pteD)
	f.audit(t)
}

// flippingExecutor toggles Dirty before every compare-and-exchange.
type flippingExecutor struct {
	*mmutest.RecordingExecutor
	n int
}

func (x *flippingExecutor) CmpXchg(pa uint64, old, new mmu.PTE) mmu.PTE {
	x.n++
	x.Mem[pa] ^= byte(pteD)
	return x.RecordingExecutor.CmpXchg(pa, old, new)
}

func len64(b []byte) uint64 { return uint64(len(b)) }

func le64(v uint64) []byte {
	b := make([]byte, 8)
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	return b
}

// With an instruction cache, emulating the same instruction again
// allocates nothing: the fault path stays free of garbage.
func TestEmulatePTWriteCachedAllocatesNothing(t *testing.T) {
	f := newFixture(t)
	f.put(bootL1, dataPFN, mmu.MakePTE(dataPFN, rw&^pteA))
	f.c.Insns = &InsnCache{}
	code := []byte{0xf0, 0x48, 0x0f, 0xba, 0x37, 0x05} // A already clear: nothing to store
	regs := Regs{}
	allocs := testing.AllocsPerRun(100, func() {
		regs.GPR[rdi], regs.RIP = entryVA, ripAt
		if _, err := EmulatePTWrite(f.c, &regs, entryVA, PTWriteError, code); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
	assert.Zero(t, regs.RFLAGS&x86.FlagCF)
}

// An emulated write that moves no reference (the young clear, a change of
// flags other than RW) settles only the entry it writes, so it waits only
// for other vCPUs' queued stores to that entry; one that maps another
// frame, changes RW or clears Present settles everything before it moves
// a reference (Context.Settle, biglock).
func TestEmulatePTWriteSettles(t *testing.T) {
	pa := uint64(bootL1<<mmu.PageShift + dataPFN*8)
	tests := []struct {
		name string
		code []byte
		rsi  uint64
		want []uint64
	}{
		{"lock btr $5 (ptep_test_and_clear_young)", []byte{0xf0, 0x48, 0x0f, 0xba, 0x37, 0x05}, 0, []uint64{pa}},
		{"lock btsl $31, NX", []byte{0xf0, 0x48, 0x0f, 0xba, 0x2f, 0x3f}, 0, []uint64{pa}},
		{"lock btr $1: read-only", []byte{0xf0, 0x48, 0x0f, 0xba, 0x37, 0x01}, 0, []uint64{biglock.Everything, pa}},
		{"lock btr $0: not present", []byte{0xf0, 0x48, 0x0f, 0xba, 0x37, 0x00}, 0, []uint64{biglock.Everything, pa}},
		{"movq: another frame", []byte{0x48, 0x89, 0x37}, uint64(mmu.MakePTE(101, rw)), []uint64{biglock.Everything, pa}},
		{"movq: the same value, as Xen keeps it", []byte{0x48, 0x89, 0x37}, uint64(adjusted(mmu.MakePTE(dataPFN, start))), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.put(bootL1, dataPFN, adjusted(mmu.MakePTE(dataPFN, start)))
			var got []uint64
			f.c.Settle = func(pa uint64) { got = append(got, pa) }
			regs := Regs{RIP: ripAt, RFLAGS: 0x202}
			regs.GPR[rdi], regs.GPR[rsi] = entryVA, tt.rsi
			_, err := EmulatePTWrite(f.c, &regs, entryVA, PTWriteError, tt.code)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			f.audit(t)
		})
	}
}

// With DeferExchange, a write that moves no reference (the same frame,
// writable as before) is left for the caller to exchange: nothing is
// written, the registers are as after the instruction, and PTWrite names
// the exchange; a write that moves one (the RW bit) is made here, as
// without it.
func TestEmulatePTWriteDeferred(t *testing.T) {
	entry := mmu.MakePTE(dataPFN, rw)
	for _, tt := range []struct {
		name     string
		code     []byte
		deferred bool
		want     mmu.PTE
		cf       bool
	}{
		{"lock btr $5: Accessed cleared, deferred", []byte{0xf0, 0x48, 0x0f, 0xba, 0x37, 0x05}, true, entry &^ pteA, true},
		{"lock andb $0xbf: Dirty cleared, deferred", []byte{0xf0, 0x80, 0x27, 0xbf}, true, entry &^ pteD, false},
		{"lock andb $0xfd: RW cleared, a reference moves, made here", []byte{0xf0, 0x80, 0x27, 0xfd}, false, entry &^ mmu.PTEWritable, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.put(bootL1, dataPFN, entry)
			f.c.DeferExchange = true
			regs := Regs{RIP: ripAt, RFLAGS: 0x202}
			regs.GPR[rdi] = entryVA
			w, err := EmulatePTWrite(f.c, &regs, entryVA, PTWriteError, tt.code)
			require.NoError(t, err)
			assert.Equal(t, tt.deferred, w.Deferred)
			assert.Equal(t, adjusted(tt.want), w.New)
			assert.Equal(t, entry, w.Old)
			if tt.deferred {
				assert.Equal(t, entry, f.entry(bootL1, dataPFN), "nothing written: the caller exchanges")
			} else {
				assert.Equal(t, adjusted(tt.want), f.entry(bootL1, dataPFN))
			}
			assert.Equal(t, ripAt+len64(tt.code), regs.RIP, "registers as after the instruction")
			assert.Equal(t, tt.cf, regs.RFLAGS&x86.FlagCF != 0)
			f.audit(t)
		})
	}
}
