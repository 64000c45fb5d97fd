package builder

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCheckFeatures(t *testing.T) {
	for _, tt := range []struct {
		note string
		err  string // a part of the error, or "" for none
	}{
		{"", ""},
		{"!writable_page_tables|pae_pgdir_above_4gb", ""}, // Linux's
		{"writable_descriptor_tables|auto_translated_physmap", ""},
		{"!mmu_pt_update_preserve_ad", `requires "mmu_pt_update_preserve_ad", a feature Xen does not know`},
		{"!hvm_callback_vector", "requires hvm_callback_vector, which pvsim does not offer"},
		{"!auto_translated_physmap", "requires auto_translated_physmap, which pvsim does not offer"},
		{"!supervisor_mode_kernel", "requires supervisor_mode_kernel, which pvsim does not offer"},
		{"!dom0", "does not support unprivileged"},
		{"!frobnicate", `requires "frobnicate", a feature Xen does not know`},
		{"frobnicate", ""}, // a supported one libelf does not know is ignored
	} {
		t.Run(tt.note, func(t *testing.T) {
			err := checkFeatures(tt.note)
			if tt.err == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tt.err)
			}
		})
	}
}
