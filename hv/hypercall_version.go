package hv

import (
	"encoding/binary"

	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/xen"
)

// xen_version (version.h): who the hypervisor is and what it offers.

// Identity pvsim reports through xen_version.
const (
	xenVersionMajor = 4
	xenVersionMinor = 0
	xenExtraVersion = "-pvsim"
	xenCapabilities = "xen-3.0-x86_64"
)

// xenVersion: HYPERVISOR_xen_version(cmd, arg).
func (v *vcpu) xenVersion(a *hypercallArgs) uint64 {
	arg := a[1]
	switch a[0] {
	case xen.XenVerVersion:
		return xenVersionMajor<<16 | xenVersionMinor
	case xen.XenVerExtraVersion:
		return v.writeGuestString(arg, xenExtraVersion, 16)
	case xen.XenVerCapabilities:
		return v.writeGuestString(arg, xenCapabilities, 1024)
	case xen.XenVerPlatformParameters:
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], xen.HypervisorVirtStart)
		return v.writeGuestRet(arg, b[:])
	case xen.XenVerGetFeatures:
		// struct xen_feature_info { unsigned int submap_idx; uint32_t submap; }
		var b [8]byte
		if err := v.readGuest(b[:4], arg); err != nil {
			return errRet(err)
		}
		var submap uint32 // no optional Xen feature
		if binary.LittleEndian.Uint32(b[:4]) == xen.PVSimFeaturesSubmap {
			submap = v.d.features()
		}
		binary.LittleEndian.PutUint32(b[4:], submap)
		return v.writeGuestRet(arg, b[:])
	case xen.XenVerPageSize:
		return mmu.PageSize
	}
	return xen.ENOSYS.Ret()
}
