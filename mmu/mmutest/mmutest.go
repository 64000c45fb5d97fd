// Package mmutest holds test support for code built on package mmu: an
// Executor that applies writes to a byte slice and logs them, so tests can
// check what would have been written, and in which order. Production code
// never uses it.
package mmutest

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/pvsim/pvsim/mmu"
)

// RecordingExecutor is an Executor over a SliceMemory that logs every
// operation, so tests can check what would have been written, and in which
// order. Its TLB and CR3 operations only log.
type RecordingExecutor struct {
	Mem mmu.SliceMemory
	Log []string
	// CR3 is the last value given to LoadCR3.
	CR3 uint64
}

func (x *RecordingExecutor) logf(format string, a ...any) {
	x.Log = append(x.Log, fmt.Sprintf(format, a...))
}

func (x *RecordingExecutor) load(pa uint64) mmu.PTE {
	v, ok := x.Mem.Read64(pa)
	if !ok {
		panic(fmt.Sprintf("executor: access to %#x outside memory", pa))
	}
	return mmu.PTE(v)
}

// Store implements mmu.Executor.
func (x *RecordingExecutor) Store(pa uint64, v mmu.PTE) {
	x.load(pa)
	binary.LittleEndian.PutUint64(x.Mem[pa:], uint64(v))
	x.logf("store %#x %#x", pa, uint64(v))
}

// Merge implements mmu.Executor.
func (x *RecordingExecutor) Merge(pa uint64, keep, set mmu.PTE) mmu.PTE {
	old := x.load(pa)
	binary.LittleEndian.PutUint64(x.Mem[pa:], uint64(old&keep|set))
	x.logf("merge %#x keep %#x set %#x", pa, uint64(keep), uint64(set))
	return old
}

// CmpXchg implements mmu.Executor.
func (x *RecordingExecutor) CmpXchg(pa uint64, old, new mmu.PTE) mmu.PTE {
	cur := x.load(pa)
	if cur == old {
		binary.LittleEndian.PutUint64(x.Mem[pa:], uint64(new))
	}
	x.logf("cmpxchg %#x %#x %#x", pa, uint64(old), uint64(new))
	return cur
}

// InvalidatePage implements mmu.Executor.
func (x *RecordingExecutor) InvalidatePage(va uint64) { x.logf("invlpg %#x", va) }

// FlushTLB implements mmu.Executor.
func (x *RecordingExecutor) FlushTLB() { x.logf("flush") }

// LoadCR3 implements mmu.Executor.
func (x *RecordingExecutor) LoadCR3(cr3 uint64) { x.CR3 = cr3; x.logf("cr3 %#x", cr3) }

// Writes returns the logged operations that wrote memory.
func (x *RecordingExecutor) Writes() []string {
	var w []string
	for _, l := range x.Log {
		if strings.HasPrefix(l, "store") || strings.HasPrefix(l, "merge") || strings.HasPrefix(l, "cmpxchg") {
			w = append(w, l)
		}
	}
	return w
}
