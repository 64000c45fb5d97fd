package hv

import (
	"encoding/binary"

	"github.com/pvsim/pvsim/xen"
)

// multicall: HYPERVISOR_multicall(calls, nr_calls). Each entry's result is
// written back into it; the call itself returns 0. As Xen's do_multicall,
// each entry is a hypercall of its own, taking and releasing what it locks;
// the multicall continues later at the next entry after hypercallSlice
// entries, and when an entry's call is preempted the entry gets its
// continuation's arguments and the multicall continues at that entry. In
// a deterministic domain it continues after every entry, so that each
// entry is a scheduling point: another vCPU may run between two entries,
// as on Xen, where nothing is held between them. An iret entry ends the
// multicall (Xen's mc_exit).
func (v *vcpu) multicall(a *hypercallArgs) uint64 {
	calls, n := a[0], uint64(uint32(a[1]))
	if v.mm.inMulticall {
		return xen.EINVAL.Ret()
	}
	v.mm.inMulticall = true
	defer func() { v.mm.inMulticall = false }()
	for i := uint64(0); i < n; i++ {
		at := calls + i*xen.MulticallEntrySize
		if i > 0 && (i%hypercallSlice == 0 || v.d.stopping.Load() || v.d.det != nil) {
			return v.continueWith(at, n-i)
		}
		var b [xen.MulticallEntrySize]byte
		if err := v.readGuest(b[:], at); err != nil {
			return xen.EFAULT.Ret()
		}
		e := xen.DecodeMulticallEntry(b[:])
		v.trace.Entry(uint16(e.Op), e.Args[0])
		args := hypercallArgs(e.Args)
		ret := v.call(e.Op, &args)
		var r [8]byte
		binary.LittleEndian.PutUint64(r[:], ret)
		if e.Op == xen.HypercallIret {
			// Xen's mc_exit: an iret ends the multicall, which returns
			// its result; the guest resumes where the iret sent it.
			_ = v.writeGuest(at+xen.MulticallResult, r[:])
			return ret
		}
		if err := v.writeGuest(at+xen.MulticallResult, r[:]); err != nil {
			v.hc.preempted = false
			return xen.EFAULT.Ret()
		}
		if v.hc.preempted {
			// The entry's call stopped after a slice: it runs again, from
			// where it stopped, when the multicall continues.
			var cont [6 * 8]byte
			for j, x := range v.hc.cont {
				binary.LittleEndian.PutUint64(cont[8*j:], x)
			}
			if err := v.writeGuest(at+xen.MulticallArgs, cont[:]); err != nil {
				v.hc.preempted = false
				return xen.EFAULT.Ret()
			}
			return v.continueWith(at, n-i)
		}
	}
	return 0
}
