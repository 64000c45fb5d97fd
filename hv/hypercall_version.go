package hv

import (
	"encoding/binary"

	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/xen"
)

// xen_version (version.h): who the hypervisor is and what it offers, as
// Xen answers an unprivileged PV domain. The sub-ops Xen added after the
// version pvsim reports (build_id and the *2 variable-length ones) are
// ENOSYS, as that version answers them.

// Identity pvsim reports through xen_version.
const (
	xenVersionMajor = 4
	xenVersionMinor = 0
	xenExtraVersion = "-pvsim"
	xenCapabilities = "xen-3.0-x86_64"

	// xenFeatures is XENVER_get_features' submap 0: only what pvsim
	// implements. Xen also offers a PV domain highmem_assist and
	// gnttab_map_avail_bits (grant tables: not yet), memory_op's vNUMA,
	// and the vCPU time and runstate areas by physical address.
	xenFeatures = 1<<xen.XenFeatMMUPTUpdatePreserveAD | 1<<xen.XenFeatDirectMapped
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
		var submap uint32
		switch binary.LittleEndian.Uint32(b[:4]) {
		case 0:
			submap = xenFeatures
		case xen.PVSimFeaturesSubmap:
			submap = v.d.features()
		default:
			return xen.EINVAL.Ret()
		}
		binary.LittleEndian.PutUint32(b[4:], submap)
		return v.writeGuestRet(arg, b[:])
	case xen.XenVerPageSize:
		if arg != 0 {
			return xen.EINVAL.Ret()
		}
		return mmu.PageSize
	case xen.XenVerCompileInfo:
		b := v.hc.buf[:xen.XenCompileInfoSize]
		clear(b)
		copy(b, "pvsim")      // compiler
		copy(b[64:], "pvsim") // compile_by
		if err := v.writeGuest(arg, b); err != nil {
			return errRet(err)
		}
		return 0
	case xen.XenVerChangeset:
		return v.writeGuestString(arg, "unavailable", xen.XenChangesetSize)
	case xen.XenVerGuestHandle:
		return v.writeGuestString(arg, "", xen.XenGuestHandleSize)
	case xen.XenVerCommandline:
		// Denied to an unprivileged domain, as Xen's XSM policy denies it.
		return v.writeGuestString(arg, "<denied>", len("<denied>")+1)
	}
	return xen.ENOSYS.Ret()
}
