package xen

// sysctl (public/sysctl.h) and domctl (public/domctl.h): the toolstack's
// hypercalls. An unprivileged domain gets EACCES for an interface version
// that is not the hypervisor's, and EPERM for everything else.
const (
	HypercallSysctl = 35 // __HYPERVISOR_sysctl(struct xen_sysctl *)
	HypercallDomctl = 36 // __HYPERVISOR_domctl(struct xen_domctl *)

	// SysctlSize and DomctlSize are struct xen_sysctl and struct
	// xen_domctl: cmd and interface_version (u32 each), domctl's domain
	// (domid_t, padded), and a 128-byte union.
	SysctlSize = 136
	DomctlSize = 144
	// CtlInterfaceVersion is the offset of interface_version in both.
	CtlInterfaceVersion = 4

	// SysctlInterfaceVersion and DomctlInterfaceVersion are the interface
	// versions pvsim's sysctl and domctl take (XEN_SYSCTL_INTERFACE_VERSION
	// and XEN_DOMCTL_INTERFACE_VERSION of Xen 4.23).
	SysctlInterfaceVersion = 0x16
	DomctlInterfaceVersion = 0x18
	// DomctlGetDomainState (XEN_DOMCTL_get_domain_state) is the one
	// stable domctl: its interface version is 0.
	DomctlGetDomainState = 90
)
