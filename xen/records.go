package xen

import "encoding/binary"

// Guest records the hypervisor reads, decoded from their x86-64 layouts
// (the offsets above). Each Decode function takes exactly the record's
// bytes; the caller has copied them from the guest.

func le64(b []byte, off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }

// MMUUpdate is struct mmu_update: ptr's low 3 bits are the request type
// (MMU_NORMAL_PT_UPDATE, MMU_PT_UPDATE_PRESERVE_AD, ...), the rest the
// machine address of the entry.
type MMUUpdate struct{ Ptr, Val uint64 }

// DecodeMMUUpdate decodes MMUUpdateSize bytes.
func DecodeMMUUpdate(b []byte) MMUUpdate { return MMUUpdate{Ptr: le64(b, 0), Val: le64(b, 8)} }

// Type is the request type in the low bits of Ptr.
func (u MMUUpdate) Type() uint64 { return u.Ptr & 7 }

// Addr is the entry's machine address.
func (u MMUUpdate) Addr() uint64 { return u.Ptr &^ 7 }

// MMUExtOp is struct mmuext_op: cmd, then arg1 (a mfn or linear address)
// and arg2 (a count, a vcpumask pointer, or a source mfn).
type MMUExtOp struct {
	Cmd        uint32
	Arg1, Arg2 uint64
}

// DecodeMMUExtOp decodes MMUExtOpSize bytes.
func DecodeMMUExtOp(b []byte) MMUExtOp {
	return MMUExtOp{Cmd: binary.LittleEndian.Uint32(b), Arg1: le64(b, 8), Arg2: le64(b, 16)}
}

// MulticallEntry is struct multicall_entry, without its result.
type MulticallEntry struct {
	Op   uint64
	Args [6]uint64
}

// DecodeMulticallEntry decodes MulticallEntrySize bytes.
func DecodeMulticallEntry(b []byte) MulticallEntry {
	e := MulticallEntry{Op: le64(b, 0)}
	for i := range e.Args {
		e.Args[i] = le64(b, MulticallArgs+8*i)
	}
	return e
}

// TrapInfo is struct trap_info, one entry of a virtual IDT.
type TrapInfo struct {
	Vector  uint8
	Flags   uint8 // the DPL software may raise it from with int, and TI_SET_IF
	CS      uint16
	Address uint64
}

// DecodeTrapInfo decodes TrapInfoSize bytes.
func DecodeTrapInfo(b []byte) TrapInfo {
	return TrapInfo{Vector: b[TrapInfoVector], Flags: b[TrapInfoFlags],
		CS: binary.LittleEndian.Uint16(b[TrapInfoCS:]), Address: le64(b, TrapInfoAddress)}
}

// IretContext is struct iret_context, as the x86-64 iret stub leaves it on
// the guest stack.
type IretContext struct {
	RAX, R11, RCX, Flags uint64
	RIP, CS, RFLAGS      uint64
	RSP, SS              uint64
}

// DecodeIretContext decodes IretSize bytes.
func DecodeIretContext(b []byte) IretContext {
	return IretContext{
		RAX: le64(b, IretRAX), R11: le64(b, IretR11), RCX: le64(b, IretRCX), Flags: le64(b, IretFlags),
		RIP: le64(b, IretRIP), CS: le64(b, IretCS), RFLAGS: le64(b, IretRFLAGS), RSP: le64(b, IretRSP), SS: le64(b, IretSS),
	}
}
