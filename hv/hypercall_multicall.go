package hv

import (
	"encoding/binary"

	"github.com/pvsim/pvsim/xen"
)

// multicall: HYPERVISOR_multicall(calls, nr_calls). Each entry's result is
// written back into it; the call itself returns 0.
func (v *vcpu) multicall(a *hypercallArgs) uint64 {
	calls, n := a[0], a[1]
	if v.mm.inMulticall {
		return xen.EINVAL.Ret()
	}
	v.mm.inMulticall = true
	defer func() {
		v.mm.inMulticall = false
		v.releaseMMU()
	}()
	for i := uint64(0); i < n; i++ {
		var b [xen.MulticallEntrySize]byte
		at := calls + i*xen.MulticallEntrySize
		if err := v.readGuest(b[:], at); err != nil {
			return xen.EFAULT.Ret()
		}
		e := xen.DecodeMulticallEntry(b[:])
		args := hypercallArgs(e.Args)
		ret := v.call(e.Op, &args)
		var r [8]byte
		binary.LittleEndian.PutUint64(r[:], ret)
		if err := v.writeGuest(at+xen.MulticallResult, r[:]); err != nil {
			return xen.EFAULT.Ret()
		}
		if v.d.stopping.Load() {
			break
		}
	}
	return 0
}
