package trace

import (
	"encoding/binary"
	"sync/atomic"
)

// CounterPage is a guest frame given to the hypervisor for good (pvsim_op
// register_exit_counters), where each vCPU's exit count is published as a
// uint64 at offset 8 × vCPU id, so a guest can count the exits an
// operation costs. The zero value has no page. Every vCPU's thread may
// publish; the page is set once.
type CounterPage struct {
	p atomic.Pointer[counterPage]
}

type counterPage struct {
	b   []byte
	pfn uint64
}

// Set makes page, frame pfn, the counter page. It reports false, and
// changes nothing, if one is set already; of two concurrent calls one
// wins.
func (c *CounterPage) Set(page []byte, pfn uint64) bool {
	return c.p.CompareAndSwap(nil, &counterPage{page, pfn})
}

// PFN is the counter page's frame, if one is set.
func (c *CounterPage) PFN() (uint64, bool) {
	if p := c.p.Load(); p != nil {
		return p.pfn, true
	}
	return 0, false
}

// Publish writes vCPU vcpu's exit count n, if a page is set.
func (c *CounterPage) Publish(vcpu int, n uint64) {
	if p := c.p.Load(); p != nil {
		binary.LittleEndian.PutUint64(p.b[8*vcpu:], n)
	}
}
