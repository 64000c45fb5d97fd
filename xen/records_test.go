package xen

import (
	"encoding/binary"
	"testing"
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
		if u := DecodeMMUUpdate(b[:MMUUpdateSize]); u.Addr()|u.Type() != q(0) || u.Addr()&7 != 0 || u.Val != q(8) {
			t.Errorf("mmu_update %+v", u)
		}
		if op := DecodeMMUExtOp(b[:MMUExtOpSize]); uint64(op.Cmd) != q(0)&0xffffffff || op.Arg1 != q(8) || op.Arg2 != q(16) {
			t.Errorf("mmuext_op %+v", op)
		}
		e := DecodeMulticallEntry(b[:MulticallEntrySize])
		if e.Op != q(0) || e.Args[0] != q(MulticallArgs) || e.Args[5] != q(MulticallEntrySize-8) {
			t.Errorf("multicall_entry %+v", e)
		}
		if ti := DecodeTrapInfo(b[:TrapInfoSize]); ti.Vector != b[0] || ti.Flags != b[1] || uint64(ti.CS) != q(0)>>16&0xffff || ti.Address != q(8) {
			t.Errorf("trap_info %+v", ti)
		}
		if len(b) >= IretSize {
			ic := DecodeIretContext(b[:IretSize])
			if ic.RAX != q(0) || ic.CS != q(IretCS) || ic.SS != q(IretSize-8) {
				t.Errorf("iret_context %+v", ic)
			}
		}
	})
}
