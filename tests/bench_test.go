package tests

import (
	"testing"
	"time"

	"github.com/pvsim/pvsim/bench"
)

// BenchmarkNullHypercall times one xen_version hypercall round trip from
// the guest's CPL3 through the doorbell to the VMM and back; ns/op is that
// round trip alone, boot excluded.
func BenchmarkNullHypercall(b *testing.B) {
	needKVM(b)
	per, err := bench.NullHypercall(max(b.N, 100))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(per)/float64(time.Nanosecond), "ns/op")
}
