package xen

// physdev_op and vm_assist (public/physdev.h, xen.h).
const (
	HypercallFPUTaskswitch = 5  // __HYPERVISOR_fpu_taskswitch
	HypercallVMAssist      = 21 // __HYPERVISOR_vm_assist
	HypercallPhysdevOp     = 33 // __HYPERVISOR_physdev_op

	// PhysdevOpSetIOPL (PHYSDEVOP_set_iopl) sets the vCPU's virtual I/O
	// privilege level: struct physdev_set_iopl { uint32_t iopl; }.
	PhysdevOpSetIOPL = 6

	VMAssistEnable  = 0 // VMASST_CMD_enable
	VMAssistDisable = 1 // VMASST_CMD_disable

	// VM assist types a 64-bit PV guest may turn on (Xen's
	// NATIVE_VM_ASSIST_VALID).
	VMAssist4GBSegments        = 0
	VMAssist4GBSegmentsNotify  = 1
	VMAssistWritablePagetables = 2
	VMAssistPAEExtendedCR3     = 3
	VMAssistArchitecturalIOPL  = 4
	VMAssistRunstateUpdateFlag = 5
	VMAssistM2PStrict          = 32
	VMAssistValid              = 1<<VMAssist4GBSegments | 1<<VMAssist4GBSegmentsNotify | 1<<VMAssistWritablePagetables |
		1<<VMAssistPAEExtendedCR3 | 1<<VMAssistArchitecturalIOPL | 1<<VMAssistRunstateUpdateFlag | 1<<VMAssistM2PStrict
)
