package builder

import (
	"fmt"
	"strings"
)

// The feature names a FEATURES note may use (XEN_ELFNOTE_FEATURES): those
// Xen's libelf knows (elf_xen_feature_names).
var featureNames = [...]string{
	"writable_page_tables", "writable_descriptor_tables", "auto_translated_physmap",
	"supervisor_mode_kernel", "pae_pgdir_above_4gb", "hvm_callback_vector", "dom0",
}

// offered are the features a kernel may require of pvsim: writable
// pagetables (writes to them are emulated, as Xen's VMASST
// writable_pagetables, always on), PAE page directories above 4 GiB (a
// 32-bit matter that holds trivially for a 64-bit guest).
var offered = map[string]bool{"writable_page_tables": true, "pae_pgdir_above_4gb": true}

// checkFeatures reads a FEATURES note ("name|!name|..."; a "!" marks a
// feature the kernel requires) as Xen's libelf and domain builder do: a
// required feature libelf does not know is refused, and so is one the
// hypervisor does not offer; dom0 says the kernel cannot run
// unprivileged. Features merely supported are not checked.
func checkFeatures(note string) error {
	for _, f := range strings.Split(note, "|") {
		name, required := strings.CutPrefix(f, "!")
		if !required {
			continue
		}
		known := false
		for _, n := range featureNames {
			known = known || n == name
		}
		switch {
		case !known:
			return fmt.Errorf("its FEATURES note requires %q, a feature Xen does not know", name)
		case name == "dom0":
			return fmt.Errorf("its FEATURES note requires dom0: the kernel does not support unprivileged (domU) operation")
		case !offered[name]:
			return fmt.Errorf("its FEATURES note requires %s, which pvsim does not offer", name)
		}
	}
	return nil
}
