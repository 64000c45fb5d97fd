package executor

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/hvimage"
	"github.com/pvsim/pvsim/internal/kvm"
	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/trace"
)

// cpu plays the vCPU for an Executor without KVM: its nested run
// interprets the command block (or the trap compare-and-exchange path)
// over a byte slice of guest memory, as the CPL0 code in hvimage does.
type cpu struct {
	run    kvm.Run
	block  []byte
	mem    []byte
	rounds int
	alive  bool
	log    []hvimage.Op
}

func newCPU() *cpu {
	return &cpu{block: make([]byte, mmu.PageSize), mem: make([]byte, 4*mmu.PageSize), alive: true}
}

func (c *cpu) q(off int) uint64        { return binary.LittleEndian.Uint64(c.block[off:]) }
func (c *cpu) word(addr uint64) []byte { return c.mem[addr-hvimage.AliasVA:][:8] }
func (c *cpu) load(addr uint64) uint64 { return binary.LittleEndian.Uint64(c.word(addr)) }
func (c *cpu) store(addr, v uint64)    { binary.LittleEndian.PutUint64(c.word(addr), v) }

// nested is the executor's work between entering and reporting.
func (c *cpu) nested() bool {
	c.rounds++
	if !c.alive {
		return false
	}
	r := &c.run.Regs
	if r.RIP == hvimage.TrapCmpXchgVA { // lock cmpxchg [rdx], r8; out
		if cur := c.load(r.RDX); cur == r.RAX {
			c.store(r.RDX, r.R8)
		} else {
			r.RAX = cur
		}
		return true
	}
	for i := 0; i < int(c.q(hvimage.CmdCount)); i++ {
		cmd := hvimage.CmdFirst + i*hvimage.CmdSize
		op, addr, a, b := hvimage.Op(c.q(cmd)), c.q(cmd+8), c.q(cmd+16), c.q(cmd+24)
		c.log = append(c.log, op)
		switch op {
		case hvimage.OpStore:
			c.store(addr, a)
		case hvimage.OpMerge:
			old := c.load(addr)
			c.store(addr, old&a|b)
			binary.LittleEndian.PutUint64(c.block[cmd+32:], old)
		case hvimage.OpCmpXchg:
			old := c.load(addr)
			if old == a {
				c.store(addr, b)
			}
			binary.LittleEndian.PutUint64(c.block[cmd+32:], old)
		}
	}
	return true
}

func (c *cpu) executor(stats *trace.ExitStats) *Executor {
	return New(&c.run, c.block, make([]byte, mmu.PageSize), stats, c.nested, nil)
}

func TestQueuedStoresAreOverlaidThenRunInOrder(t *testing.T) {
	c := newCPU()
	var stats trace.ExitStats
	x := c.executor(&stats)
	x.Store(0x10, 0x1234)
	x.Store(0x18, 0x5678)
	x.Store(0x10, 0x9abc)
	assert.Equal(t, 3, x.Queued())
	assert.Zero(t, c.load(hvimage.Alias(0x10)), "a queued store is not in memory")
	v, ok := x.QueuedStore(0x10)
	assert.True(t, ok)
	assert.Equal(t, uint64(0x9abc), v, "the last queued store wins")
	_, ok = x.QueuedStore(0x20)
	assert.False(t, ok)
	assert.Zero(t, c.rounds, "reading the overlay runs nothing")

	old := x.Merge(0x10, ^mmu.PTE(0xf00), 0x1)
	assert.Equal(t, mmu.PTE(0x9abc), old, "the merge sees the stores queued before it")
	assert.Equal(t, uint64(0x9abc&^0xf00|1), c.load(hvimage.Alias(0x10)))
	assert.Equal(t, uint64(0x5678), c.load(hvimage.Alias(0x18)))
	assert.Equal(t, []hvimage.Op{hvimage.OpStore, hvimage.OpStore, hvimage.OpStore, hvimage.OpMerge}, c.log)
	assert.Equal(t, 1, c.rounds)
	assert.Equal(t, uint64(1), stats.ExecRounds)
	assert.True(t, x.Parked())
}

// TestMarkedStores: MarkQueued tells other vCPUs which quadwords the
// queued commands may write (MayStore), and not the TLB operations; a
// round that runs them clears the mark.
func TestMarkedStores(t *testing.T) {
	c := newCPU()
	var stats trace.ExitStats
	x := c.executor(&stats)
	x.Store(0x10, 1)
	x.InvalidatePage(0x7000)
	x.Store(0x2008, 2)
	assert.False(t, x.StoresPending(), "not marked before the lock is released")
	x.MarkQueued()
	assert.True(t, x.StoresPending())
	for pa, want := range map[uint64]bool{0x10: true, 0x14: true, 0x2008: true, 0x18: false, 0x2000: false, 0x7000: false} {
		assert.Equal(t, want, x.MayStore(pa), "MayStore(%#x)", pa)
	}
	x.Round()
	assert.False(t, x.StoresPending())
}

func TestFinalBatchCarriesTheResult(t *testing.T) {
	c := newCPU()
	x := c.executor(&trace.ExitStats{})
	assert.False(t, x.Finish(7), "nothing queued: the caller returns the result")
	x.Store(0x10, 1)
	x.MarkQueued()
	assert.True(t, x.StoresPending(), "other vCPUs see counted stores not yet in memory")
	require.True(t, x.Finish(42))
	assert.Equal(t, uint64(1), c.q(hvimage.CmdCount))
	assert.Equal(t, uint64(42), c.q(hvimage.CmdRet))
	assert.Equal(t, uint64(hvimage.CmdFinal|hvimage.CmdQueued), c.q(hvimage.CmdFlags))
	assert.Equal(t, uint8(1), c.run.Events.I.Inject, "sent into the executor through its gate")
	assert.Equal(t, uint8(hvimage.ExecVector), c.run.Events.I.Nr)
	assert.Zero(t, x.Queued())
}

func TestTrapCmpXchgLendsRegisters(t *testing.T) {
	c := newCPU()
	c.run.Regs.RIP, c.run.Regs.RAX, c.run.Regs.R8, c.run.Regs.RDX = hvimage.TrapResumeVA, 0xaa, 0xbb, 0xcc
	c.store(hvimage.Alias(0x40), 5)
	x := c.executor(&trace.ExitStats{})
	assert.True(t, x.CanEnter(), "a vCPU in an exception stub may enter")
	assert.Equal(t, mmu.PTE(5), x.CmpXchg(0x40, 5, 6))
	assert.Equal(t, uint64(6), c.load(hvimage.Alias(0x40)))
	assert.Equal(t, mmu.PTE(6), x.CmpXchg(0x40, 5, 7), "a failed exchange returns what it found")
	assert.Equal(t, uint64(6), c.load(hvimage.Alias(0x40)))
	r := c.run.Regs
	assert.Equal(t, [4]uint64{hvimage.TrapResumeVA, 0xaa, 0xbb, 0xcc}, [4]uint64{r.RIP, r.RAX, r.R8, r.RDX}, "the guest's registers are back")
	assert.False(t, x.Parked(), "the short path leaves the executor free")
	assert.Empty(t, c.log, "no command block round")
}

func TestAbortedRoundReadsZero(t *testing.T) {
	c := newCPU()
	c.alive = false
	x := c.executor(&trace.ExitStats{})
	c.store(hvimage.Alias(0x10), 9)
	assert.Zero(t, x.Merge(0x10, 0, 0), "the domain ended: results read as zero")
	x.Store(0x18, 1)
	assert.True(t, x.Finish(0), "an aborted executor ends the hypercall")
	assert.Zero(t, x.Queued())
}

func TestRedirect(t *testing.T) {
	c := newCPU()
	top := make([]byte, mmu.PageSize)
	x := New(&c.run, c.block, top, &trace.ExitStats{}, c.nested, nil)
	x.Redirect(0x1000, 1, 2, 3)
	r := c.run.Regs
	assert.Equal(t, [4]uint64{0x1000, 1, 2, 3}, [4]uint64{r.RIP, r.RDI, r.RSI, r.RDX}, "not parked: the vCPU's registers")
	x.Merge(0x10, 0, 0) // a round: parked
	require.True(t, x.Parked())
	x.Redirect(0x2000, 4, 5, 6)
	saved := func(off int) uint64 { return binary.LittleEndian.Uint64(top[mmu.PageSize-off:]) }
	assert.Equal(t, [4]uint64{0x2000, 4, 5, 6},
		[4]uint64{saved(hvimage.ExecSavedRIP), saved(hvimage.ExecSavedRDI), saved(hvimage.ExecSavedRSI), saved(hvimage.ExecSavedRDX)},
		"parked: where the executor restores them from")
	assert.Equal(t, uint64(0x1000), c.run.Regs.RIP, "the executor's own registers are left alone")
	assert.Equal(t, uint64(0x2000), x.GuestRIP())
}

// Guest and ResumeAt read and change the guest's frame where the guest
// will resume from: the vCPU's registers, or, parked, the CPL0 stack.
func TestResumeAt(t *testing.T) {
	c := newCPU()
	top := make([]byte, mmu.PageSize)
	x := New(&c.run, c.block, top, &trace.ExitStats{}, c.nested, nil)
	c.run.Regs.RCX = 7
	x.ResumeAt(0x1000, 0x2000, 0x202)
	rip, rsp, rflags, rcx := x.Guest()
	assert.Equal(t, [4]uint64{0x1000, 0x2000, 0x202, 7}, [4]uint64{rip, rsp, rflags, rcx})
	r := c.run.Regs
	assert.Equal(t, [3]uint64{0x1000, 0x2000, 0x202}, [3]uint64{r.RIP, r.RSP, r.RFLAGS}, "not parked: the vCPU's registers")

	x.Merge(0x10, 0, 0) // a round: parked
	require.True(t, x.Parked())
	binary.LittleEndian.PutUint64(top[mmu.PageSize-hvimage.ExecSavedRCX:], 9)
	x.ResumeAt(0x3000, 0x4000, 0x302)
	rip, rsp, rflags, rcx = x.Guest()
	assert.Equal(t, [4]uint64{0x3000, 0x4000, 0x302, 9}, [4]uint64{rip, rsp, rflags, rcx})
	saved := func(off int) uint64 { return binary.LittleEndian.Uint64(top[mmu.PageSize-off:]) }
	assert.Equal(t, [3]uint64{0x3000, 0x4000, 0x302},
		[3]uint64{saved(hvimage.ExecSavedRIP), saved(hvimage.ExecSavedRSP), saved(hvimage.ExecSavedRFLAGS)})
	assert.Equal(t, uint64(0x1000), c.run.Regs.RIP, "the executor's own registers are left alone")
}

// leave plays the executor's final batch: it runs the commands handed
// over, then clears the count and the flags, as the CPL0 code does before
// it returns to the guest with CmdRet in RAX.
func (c *cpu) leave() uint64 {
	c.nested()
	binary.LittleEndian.PutUint64(c.block[hvimage.CmdCount:], 0)
	binary.LittleEndian.PutUint64(c.block[hvimage.CmdFlags:], 0)
	return c.q(hvimage.CmdRet)
}

// An entry into the executor with nothing handed over runs no command and
// leaves for the guest with its own RAX; one with work waiting, or in a
// round, is not spurious.
func TestSpuriousEntry(t *testing.T) {
	c := newCPU()
	var stats trace.ExitStats
	x := c.executor(&stats)
	x.Store(8, 5)
	require.True(t, x.Finish(0x77))
	assert.False(t, x.Spurious(), "a final batch is handed over")
	assert.Equal(t, uint64(0x77), c.leave())
	assert.Equal(t, uint64(5), c.load(hvimage.Alias(8)))

	c.store(hvimage.Alias(8), 9) // changed since, by whoever holds the lock
	c.log = nil
	binary.LittleEndian.PutUint64(x.top[mmu.PageSize-hvimage.ExecSavedRAX:], 0x1234)
	require.True(t, x.Spurious())
	assert.Equal(t, uint64(0x1234), c.leave(), "the guest's RAX")
	assert.Empty(t, c.log, "no command ran again")
	assert.Equal(t, uint64(9), c.load(hvimage.Alias(8)))

	x.Merge(0x10, 0, 0) // a round: parked
	require.True(t, x.Parked())
	assert.False(t, x.Spurious(), "parked in a round")
}
