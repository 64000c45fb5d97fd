package xen

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
)

// FuzzDecodeRecords decodes arbitrary bytes as every record and checks the
// fields against the layout offsets, read independently.
func FuzzDecodeRecords(f *testing.F) {
	f.Add(make([]byte, MulticallEntrySize))
	seed := make([]byte, MulticallEntrySize)
	for i := range seed {
		seed[i] = byte(i*7 + 1)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < MulticallEntrySize {
			b = append(b, make([]byte, MulticallEntrySize-len(b))...)
		}
		q := func(off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }
		u := DecodeMMUUpdate(b[:MMUUpdateSize])
		assert.Equal(t, q(0), u.Addr()|u.Type(), "mmu_update %+v", u)
		assert.Zero(t, u.Addr()&7, "mmu_update %+v", u)
		assert.Equal(t, q(8), u.Val, "mmu_update %+v", u)

		op := DecodeMMUExtOp(b[:MMUExtOpSize])
		assert.Equal(t, q(0)&0xffffffff, uint64(op.Cmd), "mmuext_op %+v", op)
		assert.Equal(t, q(8), op.Arg1, "mmuext_op %+v", op)
		assert.Equal(t, q(16), op.Arg2, "mmuext_op %+v", op)

		e := DecodeMulticallEntry(b[:MulticallEntrySize])
		assert.Equal(t, q(0), e.Op, "multicall_entry %+v", e)
		assert.Equal(t, q(MulticallArgs), e.Args[0], "multicall_entry %+v", e)
		assert.Equal(t, q(MulticallEntrySize-8), e.Args[5], "multicall_entry %+v", e)

		ti := DecodeTrapInfo(b[:TrapInfoSize])
		assert.Equal(t, b[0], ti.Vector, "trap_info %+v", ti)
		assert.Equal(t, b[1], ti.Flags, "trap_info %+v", ti)
		assert.Equal(t, q(0)>>16&0xffff, uint64(ti.CS), "trap_info %+v", ti)
		assert.Equal(t, q(8), ti.Address, "trap_info %+v", ti)

		if len(b) >= IretSize {
			ic := DecodeIretContext(b[:IretSize])
			assert.Equal(t, q(0), ic.RAX, "iret_context %+v", ic)
			assert.Equal(t, q(IretCS), ic.CS, "iret_context %+v", ic)
			assert.Equal(t, q(IretSize-8), ic.SS, "iret_context %+v", ic)
		}
	})
}
