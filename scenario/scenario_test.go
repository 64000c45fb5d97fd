package scenario

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/guestsym"
	"github.com/pvsim/pvsim/trace"
	"github.com/pvsim/pvsim/xen"
)

func TestOracles(t *testing.T) {
	for _, tt := range []struct {
		name    string
		members map[string]guestsym.Member
		want    []string
		err     string
	}{
		{"in declaration order", map[string]guestsym.Member{
			"magic": {Offset: 0, Size: 8}, "completed": {Offset: 8, Size: 8},
			"zeta": {Offset: 16, Size: 8}, "alpha": {Offset: 24, Size: 8},
		}, []string{"zeta", "alpha"}, ""},
		{"no magic", map[string]guestsym.Member{"completed": {Offset: 8, Size: 8}, "a": {Offset: 16, Size: 8}}, nil, "no unsigned long magic"},
		{"no completed", map[string]guestsym.Member{"magic": {Offset: 0, Size: 8}, "a": {Offset: 16, Size: 8}}, nil, "no unsigned long completed"},
		{"an oracle not a long", map[string]guestsym.Member{
			"magic": {Offset: 0, Size: 8}, "completed": {Offset: 8, Size: 8}, "flag": {Offset: 16, Size: 4},
		}, nil, "oracle flag is 4 bytes"},
		{"no oracle", map[string]guestsym.Member{"magic": {Offset: 0, Size: 8}, "completed": {Offset: 8, Size: 8}}, nil, "has no oracle"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o, err := oracles(&guestsym.StructLayout{Size: 32, Members: tt.members})
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			var names []string
			for _, x := range o {
				names = append(names, x.name)
			}
			assert.Equal(t, tt.want, names)
		})
	}
}

// TestInterleaving: labelled scheduling points, in trace order, each in
// its vCPU's column; marks, other exits and "begin" left out.
func TestInterleaving(t *testing.T) {
	point := func(vcpu int, label string) trace.Event {
		return trace.Event{VCPU: vcpu, Kind: trace.Hypercall, Nr: xen.HypercallPVSimOp, Label: label}
	}
	events := []trace.Event{
		point(0, "begin"),
		point(0, "hugetlb_no_page"),
		{VCPU: 0, Kind: trace.Hypercall, Nr: xen.HypercallUpdateVAMapping},
		point(1, "hugetlb_vmtruncate"),
		{VCPU: 1, Kind: trace.Hypercall, Nr: xen.HypercallPVSimOp, Label: "a mark", Outcome: trace.OutcomeMark},
		point(0, "set_huge_pte_at"),
	}
	var b strings.Builder
	Interleaving(&b, events, "found_mapped")
	want := "CPU 0" + strings.Repeat(" ", column-5) + "CPU 1\n" +
		"hugetlb_no_page\n" +
		strings.Repeat(" ", column) + "hugetlb_vmtruncate\n" +
		"set_huge_pte_at\n" +
		"-> found_mapped\n"
	assert.Equal(t, want, b.String())
}
