// Package console is a domain's console: what the guest writes with
// console_io (Xen's hypervisor console) and into its PV console ring
// (Ring, as xenconsoled serves it) goes on to one writer, and the last of
// it is kept for crash reports (an oops is read back from it). Any vCPU
// writes it.
package console

import (
	"io"
	"sync"
)

// TailSize bounds the output a Console keeps: between TailSize/2 and
// TailSize bytes of the latest.
const TailSize = 64 << 10

// Console is one domain's console.
type Console struct {
	mu   sync.Mutex
	out  io.Writer
	tail []byte
}

// New makes a console whose output goes to out (nil: discarded).
func New(out io.Writer) *Console {
	if out == nil {
		out = io.Discard
	}
	return &Console{out: out}
}

// Write passes b on and keeps it in the tail. It never fails: a writer's
// error is the writer's, not the guest's.
func (c *Console) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out.Write(b)
	c.keep(b)
	return len(b), nil
}

// Keep adds b to the tail without passing it on: a restored domain's
// console starts with its snapshot's tail.
func (c *Console) Keep(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keep(b)
}

func (c *Console) keep(b []byte) {
	c.tail = append(c.tail, b...)
	if n := len(c.tail); n > TailSize {
		c.tail = append(c.tail[:0], c.tail[n-TailSize/2:]...)
	}
}

// Tail returns a copy of the output kept.
func (c *Console) Tail() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.tail...)
}
