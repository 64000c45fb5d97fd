package fingerprint

import (
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
)

func TestBitmapMarkTake(t *testing.T) {
	for _, tt := range []struct {
		n      uint64
		marks  [][2]uint64
		expect []uint64
	}{
		{n: 10, marks: [][2]uint64{{3, 3}}, expect: []uint64{3}},
		{n: 200, marks: [][2]uint64{{62, 66}}, expect: []uint64{62, 63, 64, 65, 66}},
		{n: 200, marks: [][2]uint64{{0, 0}, {199, 199}, {0, 0}}, expect: []uint64{0, 199}},
		{n: 200, marks: [][2]uint64{{127, 128}, {120, 130}}, expect: []uint64{120, 121, 122, 123, 124, 125, 126, 127, 128, 129, 130}},
		{n: 64, marks: [][2]uint64{{0, 63}}, expect: func() []uint64 {
			var all []uint64
			for i := range uint64(64) {
				all = append(all, i)
			}
			return all
		}()},
		{n: 100, expect: nil},
	} {
		b := NewBitmap(tt.n)
		for _, m := range tt.marks {
			b.Mark(m[0], m[1])
		}
		var got []uint64
		b.Take(func(i uint64) { got = append(got, i) })
		if !slices.Equal(got, tt.expect) {
			t.Errorf("n %d, marks %v: took %v, want %v", tt.n, tt.marks, got, tt.expect)
		}
		b.Take(func(i uint64) { t.Errorf("n %d: %d taken twice", tt.n, i) })
	}
}

// A Set kept up to date element by element has the digest of a Base made
// afresh of the same elements, whatever the order of the updates, and
// only equal collections share a digest.
func TestSetFollowsItsElements(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 300
	elems := make([][]byte, n)
	for i := range elems {
		elems[i] = []byte{byte(i % 7), 0, 0, 0}
	}
	digest := func(i uint64) Digest { return Bytes(elems[i]).At(i) }
	base := NewBase(n, digest)
	s := base.NewSet()
	seen := map[Digest]string{s.Sum(): string(slices.Concat(elems...))}
	for round := range 2000 {
		i := rng.Uint64N(n)
		elems[i][1+round%3]++
		s.Update(i, digest(i))
		if round%100 == 0 {
			if fresh := NewBase(n, digest).NewSet().Sum(); fresh != s.Sum() {
				t.Fatalf("round %d: kept digest %x, afresh %x", round, s.Sum(), fresh)
			}
		}
		state := string(slices.Concat(elems...))
		if other, ok := seen[s.Sum()]; ok && other != state {
			t.Fatalf("round %d: two collections share digest %x", round, s.Sum())
		}
		seen[s.Sum()] = state
	}
	if base.NewSet().Sum() == s.Sum() {
		t.Error("the base changed with the set")
	}
}

func TestAtMixesTheIndex(t *testing.T) {
	d := Bytes([]byte("frame"))
	if d.At(1) == d.At(2) || d.At(0) == d {
		t.Error("the index is not mixed in")
	}
	// Two elements swapping contents change the collection's digest.
	a, b := Bytes([]byte("a")), Bytes([]byte("b"))
	if a.At(0).xor(b.At(1)) == b.At(0).xor(a.At(1)) {
		t.Error("swapped contents digest alike")
	}
}

func TestHashAndPlain(t *testing.T) {
	type rec struct {
		A uint64
		B [3]uint32
	}
	sum := func(r rec, tail []uint16) Digest {
		h := NewHash()
		Plain(h, &r)
		PlainSlice(h, tail)
		return h.Sum()
	}
	x := sum(rec{A: 1, B: [3]uint32{2, 3, 4}}, []uint16{5})
	if x != sum(rec{A: 1, B: [3]uint32{2, 3, 4}}, []uint16{5}) {
		t.Error("equal values digest differently")
	}
	for _, y := range []Digest{
		sum(rec{A: 1, B: [3]uint32{2, 3, 5}}, []uint16{5}),
		sum(rec{A: 1, B: [3]uint32{2, 3, 4}}, []uint16{5, 0}),
		sum(rec{A: 1, B: [3]uint32{2, 3, 4}}, nil),
	} {
		if y == x {
			t.Error("different values digest alike")
		}
	}
	h := NewHash()
	h.Uint64(7)
	first := h.Sum()
	h.Reset()
	h.Uint64(7)
	if h.Sum() != first {
		t.Error("Reset does not start afresh")
	}
}

func BenchmarkFrameDigest(b *testing.B) {
	page := make([]byte, 4096)
	b.SetBytes(int64(len(page)))
	for i := range b.N {
		_ = Bytes(page).At(uint64(i))
	}
}

// Padding is not part of a value: Go does not keep it zero.
func TestPlainSkipsPadding(t *testing.T) {
	type padded struct {
		A byte
		B uint64
		C [2]struct {
			D uint16
			E uint32
		}
	}
	a := padded{A: 1, B: 2}
	a.C[1].E = 3
	b := a
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&b)), unsafe.Sizeof(b))
	raw[1], raw[7], raw[18] = 0xaa, 0xbb, 0xcc // padding after A, and after C[0].D
	sum := func(p *padded) Digest {
		h := NewHash()
		Plain(h, p)
		return h.Sum()
	}
	if sum(&a) != sum(&b) {
		t.Error("padding changed the digest")
	}
	b.C[0].D = 9
	if sum(&a) == sum(&b) {
		t.Error("a field's change left the digest alike")
	}
	hs, ht := NewHash(), NewHash()
	PlainSlice(hs, []padded{a, a})
	PlainSlice(ht, []padded{a, a})
	if hs.Sum() != ht.Sum() {
		t.Error("equal slices digest differently")
	}
	defer func() {
		if recover() == nil {
			t.Error("a value holding a pointer was taken as plain")
		}
	}()
	type withPointer struct{ P *int }
	Plain(NewHash(), &withPointer{})
}
