package console

import (
	"encoding/binary"
	"sync/atomic"
	"unsafe"
)

// The PV console ring, struct xencons_interface (public/io/console.h):
// in[1024], out[2048], then in_cons, in_prod, out_cons, out_prod.
const (
	ringIn      = 0
	ringInSize  = 1024
	ringOut     = 1024
	ringOutSize = 2048
	ringInCons  = 3072
	ringInProd  = 3076
	ringOutCons = 3080
	ringOutProd = 3084
	// RingSize is the part of the page the ring uses.
	RingSize = 3096
)

// Ring is a guest's PV console ring (start_info's console.domU.mfn), as
// xenconsoled serves it: what the guest puts in out[] goes to the console
// when the guest notifies its event channel.
type Ring struct {
	page []byte
	buf  [ringOutSize]byte
}

// NewRing serves the ring in page, the host view of the guest's ring
// frame.
//
// Precondition: page is at least RingSize bytes, 4-byte aligned in host
// memory (a guest frame is), and stays mapped while the Ring is used.
func NewRing(page []byte) *Ring { return &Ring{page: page[:RingSize]} }

func (r *Ring) word(off int) *uint32 { return (*uint32)(unsafe.Pointer(&r.page[off])) }

// Drain writes the bytes between out_cons and out_prod to c and moves
// out_cons up to out_prod, as xenconsoled's buffer_append does. A ring
// whose producer is more than the ring's size ahead is broken: its
// consumer is moved up without output, as xenconsoled stops reading one.
// It returns the bytes written. One vCPU at a time drains (the caller
// serialises).
func (r *Ring) Drain(c *Console) int {
	cons := atomic.LoadUint32(r.word(ringOutCons))
	prod := atomic.LoadUint32(r.word(ringOutProd))
	n := prod - cons
	if n > ringOutSize {
		atomic.StoreUint32(r.word(ringOutCons), prod)
		return 0
	}
	for i := uint32(0); i < n; i++ {
		r.buf[i] = r.page[ringOut+int((cons+i)%ringOutSize)]
	}
	c.writeRing(r.buf[:n])
	atomic.StoreUint32(r.word(ringOutCons), prod)
	return int(n)
}

// PutIn copies as much of b as fits into in[], after what the guest has
// not consumed yet, and moves in_prod past it, as xenconsoled's
// handle_tty_read does; it returns how many bytes it took. A ring whose
// consumer is ahead of its producer or more than the ring's size behind
// it is broken: nothing is put in, as xenconsoled stops writing one. One
// thread at a time puts (the caller serialises).
func (r *Ring) PutIn(b []byte) int {
	cons := atomic.LoadUint32(r.word(ringInCons))
	prod := atomic.LoadUint32(r.word(ringInProd))
	used := prod - cons
	if used > ringInSize {
		return 0
	}
	n := min(len(b), int(ringInSize-used))
	for i := range n {
		r.page[ringIn+int((prod+uint32(i))%ringInSize)] = b[i]
	}
	atomic.StoreUint32(r.word(ringInProd), prod+uint32(n)) // after the bytes
	return n
}

// InPending reports how many bytes of in[] the guest has not consumed.
func (r *Ring) InPending() int {
	used := atomic.LoadUint32(r.word(ringInProd)) - atomic.LoadUint32(r.word(ringInCons))
	return int(min(used, ringInSize))
}

// getIn is the guest's side of in[], for tests: it takes what is there
// and moves in_cons.
func (r *Ring) getIn() []byte {
	cons := binary.LittleEndian.Uint32(r.page[ringInCons:])
	prod := binary.LittleEndian.Uint32(r.page[ringInProd:])
	var b []byte
	for ; cons != prod; cons++ {
		b = append(b, r.page[ringIn+int(cons%ringInSize)])
	}
	binary.LittleEndian.PutUint32(r.page[ringInCons:], cons)
	return b
}

// putOut is the guest's side of the ring, for tests: it appends b to
// out[] and moves out_prod.
func (r *Ring) putOut(b []byte) {
	prod := binary.LittleEndian.Uint32(r.page[ringOutProd:])
	for _, c := range b {
		r.page[ringOut+int(prod%ringOutSize)] = c
		prod++
	}
	binary.LittleEndian.PutUint32(r.page[ringOutProd:], prod)
}
