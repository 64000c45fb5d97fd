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
	show Show
	// ringSeen: the guest has written its PV console ring.
	ringSeen bool
}

// Show says which of the guest's two consoles a Console passes on.
type Show uint8

const (
	// Auto passes console_io's output until the guest first writes its
	// PV console ring, and the ring's from then on: a guest that uses
	// both (XTF writes every line to each; Linux writes its early boot
	// messages to the one and then moves to the other) is shown once, as
	// `xl create -c` shows the PV console and Xen keeps console_io's
	// output in its own log.
	Auto Show = iota
	Xen       // console_io only
	PV        // the PV console ring only
	Both      // everything, as it comes
)

var showNames = [...]string{Auto: "auto", Xen: "xen", PV: "pv", Both: "both"}

func (s Show) String() string { return showNames[s] }

// ParseShow is the Show called name.
func ParseShow(name string) (Show, bool) {
	for s, n := range showNames {
		if n == name {
			return Show(s), true
		}
	}
	return 0, false
}

// New makes a console whose output goes to out (nil: discarded), showing
// the consoles show selects.
func New(out io.Writer, show Show) *Console {
	if out == nil {
		out = io.Discard
	}
	return &Console{out: out, show: show}
}

// Write is console_io's output: passed on, and kept in the tail, unless
// the console's Show leaves it out. It never fails: a writer's error is
// the writer's, not the guest's.
func (c *Console) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.show == PV || (c.show == Auto && c.ringSeen) {
		return len(b), nil
	}
	c.out.Write(b)
	c.keep(b)
	return len(b), nil
}

// writeRing is the PV console ring's output (Ring.Drain).
func (c *Console) writeRing(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ringSeen = true
	if c.show == Xen {
		return
	}
	c.out.Write(b)
	c.keep(b)
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
