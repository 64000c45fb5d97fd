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
	page atomic.Pointer[[]byte]
	pfn  uint64
}

// Set makes page, frame pfn, the counter page. It reports false if one is
// set already.
func (c *CounterPage) Set(page []byte, pfn uint64) bool {
	if c.page.Load() != nil {
		return false
	}
	c.pfn = pfn
	c.page.Store(&page)
	return true
}

// PFN is the counter page's frame, if one is set.
func (c *CounterPage) PFN() (uint64, bool) { return c.pfn, c.page.Load() != nil }

// Publish writes vCPU vcpu's exit count n, if a page is set.
func (c *CounterPage) Publish(vcpu int, n uint64) {
	if p := c.page.Load(); p != nil {
		binary.LittleEndian.PutUint64((*p)[8*vcpu:], n)
	}
}
