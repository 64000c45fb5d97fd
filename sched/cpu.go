package sched

import "time"

// LogicalTick is how far the logical clock of a deterministic domain moves
// per tick.
const LogicalTick = time.Microsecond

// CPU is the one CPU of a deterministic domain: a token that passes from
// vCPU to vCPU at scheduling points as a Scheduler decides, the count of
// points so far, and the logical clock. Only the vCPU holding the token
// calls its methods, but for Await; the hand-over orders those calls.
type CPU struct {
	s     Scheduler
	cur   int
	step  uint64
	ticks uint64 // the logical clock, in LogicalTicks
	turn  []chan struct{}
	point Point
}

// NewCPU makes the CPU of a domain of nvcpus vCPUs, scheduled by s.
func NewCPU(s Scheduler, nvcpus int) *CPU {
	c := &CPU{s: s}
	for range nvcpus {
		c.turn = append(c.turn, make(chan struct{}, 1))
	}
	return c
}

// Start gives the token to vCPU first, at step step and tick ticks (both
// zero at boot), before any vCPU runs.
func (c *CPU) Start(first int, step, ticks uint64) {
	c.cur, c.step, c.ticks = first, step, ticks
	c.turn[first] <- struct{}{}
}

// Await blocks vCPU id until it holds the token. It reports false if stop
// is closed first, or meanwhile.
func (c *CPU) Await(id int, stop <-chan struct{}) bool {
	select {
	case <-c.turn[id]:
		select {
		case <-stop:
			return false
		default:
			return true
		}
	case <-stop:
		return false
	}
}

// Tick advances the logical clock and returns it.
func (c *CPU) Tick() time.Duration {
	c.ticks++
	return time.Duration(c.ticks) * LogicalTick
}

// Now is the logical clock.
func (c *CPU) Now() time.Duration { return time.Duration(c.ticks) * LogicalTick }

// State is where the CPU is: the points passed, the logical clock in
// ticks, and the token's holder.
func (c *CPU) State() (step, ticks uint64, cur int) { return c.step, c.ticks, c.cur }

// Point returns the point the CPU decides next, for the caller to fill:
// scratch space, so that a point allocates nothing.
func (c *CPU) Point() *Point { return &c.point }

// Decide numbers p as the next step and asks the scheduler who runs next.
// It returns the choice, or an *Error when the scheduler chose a vCPU that
// cannot run. The token stays with the caller until it calls Switch.
func (c *CPU) Decide(p *Point) (int, error) {
	c.step++
	p.Step = c.step
	next := c.s.Next(p)
	if next < 0 || next >= len(c.turn) || p.Runnable&(1<<next) == 0 {
		return next, &Error{Step: p.Step, VCPU: next, Runnable: p.Runnable}
	}
	return next, nil
}

// Switch hands the token from vCPU from to vCPU to, and blocks from until
// the token comes back (Await). Switching to oneself does nothing.
func (c *CPU) Switch(from, to int, stop <-chan struct{}) bool {
	if from == to {
		return true
	}
	c.cur = to
	c.turn[to] <- struct{}{}
	return c.Await(from, stop)
}
