package privop

import (
	"testing"

	"github.com/pvsim/pvsim/x86"
)

// Fuzz modes: bits of FuzzEmulate's mode argument.
const (
	fuzzKernel = 1 << iota // guest kernel mode
	fuzzUD                 // EmulateUD, else EmulateGP
	fuzzIDT                // a #GP error code with the IDT bit
	fuzzTF                 // RFLAGS.TF set
	fuzzEXT                // a #GP error code with the EXT bit
)

// splitmix is a small deterministic generator for the fuzz inputs.
type splitmix uint64

func (s *splitmix) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func FuzzEmulate(f *testing.F) {
	for _, c := range []string{
		"0f 20 c0", "44 0f 22 c0", "f0 0f 20 c0", "0f 21 e8", "0f 23 f8", "0f 30", "0f 32",
		"0f 06", "0f 09", "0f 31", "0f 01 f9", "0f a2", "fa", "fb", "66 e5 70", "ec", "ef",
		"f4", "0f 0b 78 65 6e 0f a2", "0f 0b 78 65", "cd 80", "cc", "f1", "ce", "0f 20",
	} {
		for mode := uint8(0); mode < 32; mode += 3 {
			f.Add(code(c), uint64(len(c))*0x1234567, mode)
		}
	}
	f.Fuzz(func(t *testing.T, insn []byte, seed uint64, mode uint8) {
		rng := splitmix(seed)
		var r Regs
		for i := range r.GPR {
			r.GPR[i] = rng.next()
		}
		r.RIP = rng.next()
		r.RFLAGS = rng.next()&x86.FlagsDefined | x86.FlagRes1
		if mode&fuzzTF != 0 {
			r.RFLAGS |= x86.FlagTF
		} else {
			r.RFLAGS &^= x86.FlagTF
		}
		e := newFakeEnv()
		bits := rng.next()
		e.iopl, e.archIOPL, e.refuseDR = int(bits&3), bits&4 != 0, bits&8 != 0
		if bits&16 != 0 {
			e.cr[CR4] |= cr4DE
		}
		if bits&32 != 0 {
			e.cr[CR4] |= cr4TSD
		}
		e.bitmap = map[uint16]bool{uint16(bits >> 16): true, uint16(bits>>16) + 1: true, uint16(r.GPR[rdx]): bits&64 != 0}
		for v := range e.dpl {
			e.dpl[v] = int(rng.next() & 3)
		}
		kernelMode := mode&fuzzKernel != 0

		before := r
		var o Outcome
		if mode&fuzzUD != 0 {
			o = EmulateUD(insn, &r, kernelMode, e)
		} else {
			var ec uint64
			if mode&fuzzIDT != 0 {
				ec = uint64(bits>>8&0xff)<<3 | ecIDT
			}
			if mode&fuzzEXT != 0 {
				ec |= ecEXT
			}
			o = EmulateGP(insn, &r, ec, kernelMode, e)
		}

		switch o.Kind {
		case Bounce:
			if r != before {
				t.Fatalf("%v changed registers", o)
			}
			if o.Vector != x86.VectorGP && o.Vector != x86.VectorUD {
				t.Fatalf("%v: vector %d", o, o.Vector)
			}
		case Emulated, Trap:
			if o.Len < 1 || o.Len > maxInsnLen || o.Len > len(insn) {
				t.Fatalf("%v: length %d of %d bytes", o, o.Len, len(insn))
			}
			if r.RIP-before.RIP != uint64(o.Len) {
				t.Fatalf("%v: RIP moved by %d", o, r.RIP-before.RIP)
			}
			if o.Kind == Trap && (r.GPR != before.GPR || r.RFLAGS != before.RFLAGS) {
				t.Fatalf("%v changed registers", o)
			}
			if o.Kind == Emulated {
				if r.RFLAGS != before.RFLAGS&^x86.FlagRF {
					t.Fatalf("%v: RFLAGS %#x from %#x", o, r.RFLAGS, before.RFLAGS)
				}
				if o.SingleStep != (mode&fuzzTF != 0) {
					t.Fatalf("%v: single step %v", o, o.SingleStep)
				}
				changed := 0
				for i := range r.GPR {
					if r.GPR[i] != before.GPR[i] && i != rax && i != rbx && i != rcx && i != rdx {
						changed++
					}
				}
				if changed > 1 {
					t.Fatalf("%v changed %d registers besides RAX-RDX", o, changed)
				}
			}
		default:
			t.Fatalf("kind %v", o.Kind)
		}
	})
}
