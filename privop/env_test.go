package privop

import (
	"github.com/pvsim/pvsim/cpuid"
	"github.com/pvsim/pvsim/x86"
)

// fakeEnv is an Env with plain state, that refuses what Xen refuses in
// the simplest cases and records what it was asked.
type fakeEnv struct {
	cr       [5]uint64
	dr       [8]uint64
	msr      map[uint32]uint64 // a missing MSR is #GP
	roMSR    map[uint32]bool   // writes refused
	iopl     int
	archIOPL bool
	bitmap   map[uint16]bool // ports the I/O bitmap grants
	inValue  uint32
	outs     []portWrite
	ins      []portWrite
	dpl      [256]int
	refuseDR bool
	calls    int
}

type portWrite struct {
	port  uint16
	size  int
	value uint32
}

func newFakeEnv() *fakeEnv {
	return &fakeEnv{
		cr: [5]uint64{
			CR0: x86.CR0PE | x86.CR0MP | x86.CR0ET | x86.CR0NE | x86.CR0WP | x86.CR0AM | x86.CR0PG | cr0TS,
			CR2: 0xffff8000deadb000,
			CR3: 0x1234000,
			CR4: x86.CR4PAE | x86.CR4OSFXSR | x86.CR4OSXMMEXCPT,
		},
		dr: [8]uint64{0: 0x1000, 1: 0x2000, 2: 0x3000, 3: 0x4000, 6: 0xffff0ff0, 7: 0x400},
		msr: map[uint32]uint64{
			x86.MSREFER:   x86.EFERSCE | x86.EFERLME | x86.EFERLMA | x86.EFERNXE,
			x86.MSRPAT:    0x0000050100070406,
			x86.MSRTSC:    0x1122334455667788,
			x86.MSRTSCAux: 0xffffffff00000007,
		},
		roMSR:   map[uint32]bool{x86.MSREFER: true},
		iopl:    1,
		inValue: 0xa1b2c3d4,
	}
}

func (e *fakeEnv) CPUID(leaf, subleaf uint32) cpuid.Leaf {
	e.calls++
	return cpuid.Leaf{EAX: leaf ^ 0x11111111, EBX: subleaf ^ 0x22222222, ECX: 0xcccccccc, EDX: 0xdddddddd}
}

func (e *fakeEnv) ReadCR(n int) (uint64, bool) {
	e.calls++
	if n < 0 || n >= len(e.cr) || n == 1 {
		return 0, false
	}
	return e.cr[n], true
}

func (e *fakeEnv) WriteCR(n int, v uint64) bool {
	e.calls++
	switch n {
	case CR0:
		if (v^e.cr[0])&^cr0TS != 0 {
			return false
		}
	case CR2, CR3, CR4:
	default:
		return false
	}
	e.cr[n] = v
	return true
}

func (e *fakeEnv) ReadDR(n int) (uint64, bool) {
	e.calls++
	if n < 0 || n > 7 || n == 4 || n == 5 {
		panic("ReadDR of a register privop should have mapped")
	}
	return e.dr[n], true
}

func (e *fakeEnv) WriteDR(n int, v uint64) bool {
	e.calls++
	if n < 0 || n > 7 || n == 4 || n == 5 {
		panic("WriteDR of a register privop should have mapped")
	}
	if e.refuseDR || (n >= 6 && v>>32 != 0) {
		return false
	}
	e.dr[n] = v
	return true
}

func (e *fakeEnv) ReadMSR(index uint32) (uint64, bool) {
	e.calls++
	v, ok := e.msr[index]
	return v, ok
}

func (e *fakeEnv) WriteMSR(index uint32, v uint64) bool {
	e.calls++
	if e.roMSR[index] {
		return e.msr[index] == v // as Xen's write of EFER: only the current value
	}
	if _, ok := e.msr[index]; !ok {
		return false
	}
	e.msr[index] = v
	return true
}

func (e *fakeEnv) IOPL() (int, bool) { e.calls++; return e.iopl, e.archIOPL }

func (e *fakeEnv) IOBitmap(port uint16, size int) bool {
	e.calls++
	for i := 0; i < size; i++ {
		if !e.bitmap[port+uint16(i)] {
			return false
		}
	}
	return true
}

func (e *fakeEnv) In(port uint16, size int) uint32 {
	e.calls++
	e.ins = append(e.ins, portWrite{port, size, 0})
	return e.inValue
}

func (e *fakeEnv) Out(port uint16, size int, v uint32) {
	e.calls++
	e.outs = append(e.outs, portWrite{port, size, v})
}

func (e *fakeEnv) TrapGateDPL(vector uint8) int { e.calls++; return e.dpl[vector] }
