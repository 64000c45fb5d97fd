package sched

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultNext(t *testing.T) {
	for _, tt := range []struct {
		p    Point
		want int
	}{
		{Point{VCPU: 1, Runnable: 0b111}, 1},
		{Point{VCPU: 1, Runnable: 0b111, Yield: true}, 2},
		{Point{VCPU: 2, Runnable: 0b111, Yield: true}, 0},
		{Point{VCPU: 5, Runnable: 0b011, Yield: true}, 0},
		{Point{VCPU: 0, Runnable: 0b001, Yield: true}, 0},
	} {
		assert.Equal(t, tt.want, DefaultNext(&tt.p), "%+v", tt.p)
	}
}

// alternate switches vCPUs at every point.
type alternate struct{}

func (alternate) Next(p *Point) int { return 1 - p.VCPU }

// TestCPUOneAtATime runs two vCPU goroutines on one CPU that alternates
// them at every point: the order of their steps is fixed, and each step
// numbers the point.
func TestCPUOneAtATime(t *testing.T) {
	c := NewCPU(alternate{}, 2)
	stop := make(chan struct{})
	var order []int
	var wg sync.WaitGroup
	for id := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !c.Await(id, stop) {
				return
			}
			for {
				order = append(order, id) // only the token's holder runs
				if len(order) == 6 {
					close(stop)
					return
				}
				p := c.Point()
				*p = Point{VCPU: id, Runnable: 0b11}
				next, err := c.Decide(p)
				assert.NoError(t, err)
				assert.Equal(t, 1-id, next)
				c.Tick()
				if !c.Switch(id, next, stop) {
					return
				}
			}
		}()
	}
	c.Start(0, 0, 0)
	wg.Wait()
	assert.Equal(t, []int{0, 1, 0, 1, 0, 1}, order)
	step, ticks, cur := c.State()
	assert.Equal(t, uint64(5), step)
	assert.Equal(t, uint64(5), ticks)
	assert.Equal(t, 1, cur)
	assert.Equal(t, 5*LogicalTick, c.Now())
}

func TestCPURefusesAVCPUThatIsNotUp(t *testing.T) {
	c := NewCPU(alternate{}, 2)
	c.Start(0, 7, 0)
	p := c.Point()
	*p = Point{VCPU: 0, Runnable: 0b01}
	_, err := c.Decide(p)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, Error{Step: 8, VCPU: 1, Runnable: 0b01}, *e)
	assert.True(t, c.Await(0, nil), "the token stays with the caller")
	assert.True(t, c.Switch(0, 0, nil), "switching to oneself keeps the token")
}
