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
	// implements: gnttab_map_avail_bits is map_grant_ref's available
	// bits in the PTE (ptops.GrantPTE). Xen also offers a PV domain
	// highmem_assist, memory_op's vNUMA, and the vCPU time and runstate
	// areas by physical address.
	xenFeatures = 1<<xen.XenFeatMMUPTUpdatePreserveAD | 1<<xen.XenFeatGnttabMapAvailBits | 1<<xen.XenFeatDirectMapped
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

// sysctl and domctl (sysctl.h, domctl.h) are the toolstack's, and pvsim's
// domain is no control domain: as Xen's do_sysctl and do_domctl answer an
// unprivileged domain, an interface version that is not the hypervisor's
// is EACCES (which is how a guest probes for the version), and anything
// else EPERM.

// sysctl: HYPERVISOR_sysctl(struct xen_sysctl *).
func (v *vcpu) sysctl(a *hypercallArgs) uint64 {
	return v.ctlRefuse(a[0], xen.SysctlSize, func(cmd uint32) uint32 { return xen.SysctlInterfaceVersion })
}

// domctl: HYPERVISOR_domctl(struct xen_domctl *).
func (v *vcpu) domctl(a *hypercallArgs) uint64 {
	return v.ctlRefuse(a[0], xen.DomctlSize, func(cmd uint32) uint32 {
		if cmd == xen.DomctlGetDomainState {
			return 0
		}
		return xen.DomctlInterfaceVersion
	})
}

func (v *vcpu) ctlRefuse(arg uint64, size int, version func(cmd uint32) uint32) uint64 {
	b := v.hc.buf[:size]
	if err := v.readGuest(b, arg); err != nil {
		return xen.EFAULT.Ret()
	}
	cmd := binary.LittleEndian.Uint32(b)
	if binary.LittleEndian.Uint32(b[xen.CtlInterfaceVersion:]) != version(cmd) {
		return xen.EACCES.Ret()
	}
	return xen.EPERM.Ret()
}
