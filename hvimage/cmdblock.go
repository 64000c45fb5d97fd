package hvimage

import (
	"encoding/binary"
	"sync/atomic"
	"unsafe"

	"github.com/pvsim/pvsim/mmu"
)

// CmdBlock is the VMM's view of one vCPU's executor command block: the
// commands queued for the executor since it last ran, in the layout the
// executor reads (CmdCount, CmdRet, CmdFlags, then CmdSize-byte commands
// of op, addr, a, b, result). Only the vCPU's thread queues; other threads
// read Flags.
type CmdBlock struct {
	b []byte
	n int // commands queued
}

// NewCmdBlock wraps the host view of a command block, one page.
func NewCmdBlock(page []byte) *CmdBlock { return &CmdBlock{b: page[:mmu.PageSize]} }

func (c *CmdBlock) put(off int, v uint64) { binary.LittleEndian.PutUint64(c.b[off:], v) }
func (c *CmdBlock) get(off int) uint64    { return binary.LittleEndian.Uint64(c.b[off:]) }

// Len is the number of commands queued.
func (c *CmdBlock) Len() int { return c.n }

// Full reports whether another command would not fit.
func (c *CmdBlock) Full() bool { return c.n == MaxCommands }

// Add queues a command and returns its index.
//
// Precondition: !Full().
func (c *CmdBlock) Add(op Op, addr, a, b uint64) int {
	i := c.n
	off := CmdFirst + i*CmdSize
	c.put(off, uint64(op))
	c.put(off+8, addr)
	c.put(off+16, a)
	c.put(off+24, b)
	c.n++
	return i
}

// Cmd is command i's op and address.
//
// Precondition: i < Len().
func (c *CmdBlock) Cmd(i int) (Op, uint64) {
	off := CmdFirst + i*CmdSize
	return Op(c.get(off)), c.get(off + 8)
}

// Result is what the executor wrote back into command i when it ran.
func (c *CmdBlock) Result(i int) uint64 { return c.get(CmdFirst + i*CmdSize + 32) }

// QueuedStore returns the value the last queued OpStore to addr will
// write, if one is queued. Stores are of naturally aligned quadwords, so
// one either is to addr exactly or does not touch it.
func (c *CmdBlock) QueuedStore(addr uint64) (uint64, bool) {
	for i := c.n - 1; i >= 0; i-- {
		off := CmdFirst + i*CmdSize
		if Op(c.get(off)) == OpStore && c.get(off+8) == addr {
			return c.get(off + 16), true
		}
	}
	return 0, false
}

// Flags is the block's CmdFlags word: CmdFinal for the executor, CmdQueued
// for other vCPUs' threads, which read it while the executor clears it.
func (c *CmdBlock) Flags() *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Pointer(&c.b[CmdFlags]))
}

// Count is the command count the executor was last handed.
func (c *CmdBlock) Count() uint64 { return c.get(CmdCount) }

// Submit hands the queued commands to the executor and empties the queue:
// as a round, after which it reports (final false), or as the final batch,
// after which it returns to the guest with ret in RAX (final true). A
// CmdQueued mark stays until the executor has run the commands.
func (c *CmdBlock) Submit(final bool, ret uint64) {
	c.put(CmdCount, uint64(c.n))
	f := c.Flags().Load() & CmdQueued
	if final {
		c.put(CmdRet, ret)
		f |= CmdFinal
	}
	c.Flags().Store(f)
	c.n = 0
}

// Done records that the executor has run the commands it was handed (it
// reported after a round): none is handed over any more.
func (c *CmdBlock) Done() { c.put(CmdCount, 0) }

// Idle reports whether the executor has nothing handed over: no commands,
// not a final batch.
func (c *CmdBlock) Idle() bool { return c.Count() == 0 && c.Flags().Load()&CmdFinal == 0 }

// Drop empties the queue without handing it over.
func (c *CmdBlock) Drop() { c.n = 0 }
