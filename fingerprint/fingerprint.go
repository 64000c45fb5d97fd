// Package fingerprint owns the digests that name a domain's state at a
// scheduling point, so that a search can tell two runs that reached the
// same state apart from two that did not: 128-bit digests of byte strings
// (Digest, Hash), and digests of large indexed collections, guest frames
// and frame-table records, kept up to date one element at a time (Set).
//
// The digests are two 64-bit hash/maphash lanes keyed with seeds drawn
// once per process: equal states give equal digests within a process, and
// unequal ones collide as rarely as a good 128-bit hash would make them,
// which maphash promises only heuristically (it is not a cryptographic
// hash). They are not stable across processes and are never written out.
package fingerprint

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"reflect"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Digest is a 128-bit digest. The zero Digest names no state.
type Digest struct{ Lo, Hi uint64 }

// seeds key the two halves of every digest.
var seeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

// Bytes is the digest of b.
func Bytes(b []byte) Digest {
	return Digest{maphash.Bytes(seeds[0], b), maphash.Bytes(seeds[1], b)}
}

// At is d as the digest of element i of a collection: the element's index
// is mixed in, so that equal contents at two indices differ, and moving
// contents from one index to another changes a Set's sum.
func (d Digest) At(i uint64) Digest {
	return Digest{mix(d.Lo ^ i*0x9e3779b97f4a7c15), mix(d.Hi + i*0xc2b2ae3d27d4eb4f)}
}

// mix is a 64-bit finaliser (the murmur3 fmix64 constants).
func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// xor combines the digests of a Set's elements.
func (d Digest) xor(e Digest) Digest { return Digest{d.Lo ^ e.Lo, d.Hi ^ e.Hi} }

// Hash accumulates a digest of a sequence of values. The zero Hash is not
// ready: use NewHash, or Reset.
type Hash struct {
	h       [2]maphash.Hash
	buf     [8]byte
	scratch []byte // values with padding, gathered (Plain)
}

// NewHash returns a Hash ready to be written.
func NewHash() *Hash {
	h := &Hash{}
	h.Reset()
	return h
}

// Reset empties h.
func (h *Hash) Reset() {
	for i := range h.h {
		h.h[i].SetSeed(seeds[i])
	}
}

// Write adds b.
func (h *Hash) Write(b []byte) {
	h.h[0].Write(b)
	h.h[1].Write(b)
}

// Uint64 adds v.
func (h *Hash) Uint64(v uint64) {
	binary.LittleEndian.PutUint64(h.buf[:], v)
	h.Write(h.buf[:])
}

// String adds s and its length.
func (h *Hash) String(s string) {
	h.Uint64(uint64(len(s)))
	h.h[0].WriteString(s)
	h.h[1].WriteString(s)
}

// Bool adds b.
func (h *Hash) Bool(b bool) {
	v := uint64(0)
	if b {
		v = 1
	}
	h.Uint64(v)
}

// Digest adds d.
func (h *Hash) Digest(d Digest) {
	h.Uint64(d.Lo)
	h.Uint64(d.Hi)
}

// Sum is the digest of what was written since the last Reset.
func (h *Hash) Sum() Digest { return Digest{h.h[0].Sum64(), h.h[1].Sum64()} }

// Plain adds the value of *p: the bytes of its fields, not its padding,
// which Go does not keep zero (a value built on the stack and copied can
// carry anything there).
//
// Precondition: T holds no pointers, slices, maps, strings, channels,
// functions or interfaces: its fields' bytes are its value. Plain panics
// on such a T.
func Plain[T any](h *Hash, p *T) {
	h.plain(layoutOf(reflect.TypeFor[T]()), unsafe.Pointer(p), 1)
}

// PlainSlice adds the length of s and the value of each element, as
// Plain.
//
// Precondition: as Plain's, for T.
func PlainSlice[T any](h *Hash, s []T) {
	h.Uint64(uint64(len(s)))
	if len(s) > 0 {
		h.plain(layoutOf(reflect.TypeFor[T]()), unsafe.Pointer(&s[0]), len(s))
	}
}

// plain adds the fields of n values of layout l from p.
func (h *Hash) plain(l *layout, p unsafe.Pointer, n int) {
	if l.dense {
		h.Write(unsafe.Slice((*byte)(p), l.size*uintptr(n)))
		return
	}
	h.scratch = h.scratch[:0]
	for i := range uintptr(n) {
		base := unsafe.Add(p, i*l.size)
		for _, s := range l.spans {
			h.scratch = append(h.scratch, unsafe.Slice((*byte)(unsafe.Add(base, s.off)), s.len)...)
		}
	}
	h.Write(h.scratch)
}

// layout is where a type's fields lie: spans of bytes, padding left out.
type layout struct {
	size  uintptr
	spans []span
	dense bool // one span, the whole value: no padding
}

type span struct{ off, len uintptr }

var layouts sync.Map // reflect.Type → *layout

func layoutOf(t reflect.Type) *layout {
	if l, ok := layouts.Load(t); ok {
		return l.(*layout)
	}
	l := &layout{size: t.Size()}
	addSpans(&l.spans, t, 0)
	l.dense = len(l.spans) == 1 && l.spans[0] == span{0, t.Size()} || t.Size() == 0
	layouts.Store(t, l)
	return l
}

// addSpans appends the spans of t's fields at off, merging neighbours.
func addSpans(spans *[]span, t reflect.Type, off uintptr) {
	switch t.Kind() {
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			addSpans(spans, f.Type, off+f.Offset)
		}
		return
	case reflect.Array:
		for i := range uintptr(t.Len()) {
			addSpans(spans, t.Elem(), off+i*t.Elem().Size())
		}
		return
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.String, reflect.Chan, reflect.Func, reflect.Interface, reflect.UnsafePointer:
		panic("fingerprint: " + t.String() + " is not a plain value")
	}
	if t.Size() == 0 {
		return
	}
	if n := len(*spans); n > 0 && (*spans)[n-1].off+(*spans)[n-1].len == off {
		(*spans)[n-1].len += t.Size()
		return
	}
	*spans = append(*spans, span{off, t.Size()})
}

// Set is the digest of an indexed collection of n elements, kept as the
// exclusive or of its elements' digests (each Digest.At its index): an
// element changes in time independent of n. A Set starts from a base, the
// elements' digests at some moment, which it shares with other Sets and
// never writes; its own changes sit over it.
type Set struct {
	base []Digest
	over map[uint64]Digest
	sum  Digest
}

// Base is the shared starting point of Sets: every element's digest.
type Base struct {
	elems []Digest
	sum   Digest
}

// NewBase makes a Base of n elements, element i's digest digest(i)
// (already mixed with its index: Digest.At).
func NewBase(n uint64, digest func(i uint64) Digest) *Base {
	b := &Base{elems: make([]Digest, n)}
	for i := range n {
		d := digest(i)
		b.elems[i] = d
		b.sum = b.sum.xor(d)
	}
	return b
}

// NewSet starts a Set at b.
func (b *Base) NewSet() *Set {
	return &Set{base: b.elems, over: map[uint64]Digest{}, sum: b.sum}
}

// Update sets element i's digest to d (mixed with i: Digest.At).
//
// Precondition: i is below the Base's element count.
func (s *Set) Update(i uint64, d Digest) {
	old, ok := s.over[i]
	if !ok {
		old = s.base[i]
	}
	if old == d {
		return
	}
	s.sum = s.sum.xor(old).xor(d)
	s.over[i] = d
}

// Sum is the digest of the collection.
func (s *Set) Sum() Digest { return s.sum }

// Bitmap is a set of element indices, one bit each, that several threads
// may add to (Mark) while one takes them (Take). A mark made as an access
// begins is only sure to cover the access if Take runs once it has ended:
// the caller takes them with the accessors stopped (at a scheduling
// point, the other vCPUs parked).
type Bitmap []uint64

// NewBitmap makes a Bitmap for indices [0, n).
func NewBitmap(n uint64) Bitmap { return make(Bitmap, (n+63)/64) }

// Mark adds indices [first, last].
//
// Precondition: last < the Bitmap's n, first <= last.
func (b Bitmap) Mark(first, last uint64) {
	for w := first / 64; w <= last/64; w++ {
		lo, hi := uint64(0), uint64(63)
		if w == first/64 {
			lo = first % 64
		}
		if w == last/64 {
			hi = last % 64
		}
		m := (^uint64(0) >> (63 - hi)) &^ (1<<lo - 1)
		if atomic.LoadUint64(&b[w])&m != m {
			atomic.OrUint64(&b[w], m)
		}
	}
}

// Take calls fn for each index in b, in increasing order, and empties b.
func (b Bitmap) Take(fn func(i uint64)) {
	for w := range b {
		if atomic.LoadUint64(&b[w]) == 0 {
			continue
		}
		for m := atomic.SwapUint64(&b[w], 0); m != 0; m &= m - 1 {
			fn(uint64(w)*64 + uint64(bits.TrailingZeros64(m)))
		}
	}
}
