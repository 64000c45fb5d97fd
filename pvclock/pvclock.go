// Package pvclock is Xen's paravirtual clock as the hypervisor publishes
// it: each vcpu_info in the shared info page carries a vcpu_time_info that
// turns TSC ticks into nanoseconds (tsc_to_system_mul, tsc_shift), under a
// version that is odd while the record changes. KVM gives the guest the
// host's TSC rate, offset so that it starts near zero when the VM is made;
// pvsim measures the rate once per process.
package pvclock

import (
	"encoding/binary"
	"math/bits"
	"sync"
	"time"

	"github.com/pvsim/pvsim/xen"
)

// rdtsc reads the host's time-stamp counter.
func rdtsc() uint64

// TSC reads the host's time-stamp counter, as a guest's rdtsc would.
func TSC() uint64 { return rdtsc() }

var (
	tscOnce sync.Once
	tscHz   uint64
)

// calibrationTime is how long the TSC is measured against the monotonic
// clock, once per process.
const calibrationTime = 20 * time.Millisecond

// TSCHz is the host's TSC frequency, measured against the monotonic clock.
func TSCHz() uint64 {
	tscOnce.Do(func() {
		t0, c0 := time.Now(), rdtsc()
		for time.Since(t0) < calibrationTime {
		}
		c1, t1 := rdtsc(), time.Now()
		tscHz = uint64(float64(c1-c0) / t1.Sub(t0).Seconds())
	})
	return tscHz
}

// Scale is tsc_to_system_mul and tsc_shift for a TSC of hz: ns =
// ((ticks << shift) * mul) >> 32, shifting right for a negative shift.
// mul is kept in [2^31, 2^32) for the most precision.
func Scale(hz uint64) (mul uint32, shift int8) {
	hi, lo := bits.Mul64(1e9, 1<<32)
	for shift > -63 && shift < 63 {
		den := hz << uint(max(shift, 0)) >> uint(max(-shift, 0))
		if den == 0 {
			break
		}
		if hi >= den {
			shift++ // the quotient would not fit in 64 bits
			continue
		}
		switch q, _ := bits.Div64(hi, lo, den); {
		case q >= 1<<32:
			shift++
		case q < 1<<31:
			shift--
		default:
			return uint32(q), shift
		}
	}
	return 0, 0 // no usable clock
}

// timeInfo is the vcpu_time_info in vcpuInfo, a struct vcpu_info.
func timeInfo(vcpuInfo []byte) []byte {
	return vcpuInfo[xen.VCPUInfoTime : xen.VCPUInfoTime+xen.TimeInfoSize]
}

// Publish fills the vcpu_time_info in vcpuInfo, a vCPU's struct
// vcpu_info, with the scale mul and shift (Scale), system time 0 at TSC
// 0. A deterministic domain publishes a scale of zero: its time is the
// logical clock alone (SetSystemTime).
//
// Precondition: the vCPU does not run yet.
func Publish(vcpuInfo []byte, mul uint32, shift int8) {
	t := timeInfo(vcpuInfo)
	binary.LittleEndian.PutUint32(t[xen.TimeInfoVersion:], 2)
	binary.LittleEndian.PutUint64(t[xen.TimeInfoTSCTimestamp:], 0)
	binary.LittleEndian.PutUint64(t[xen.TimeInfoSystemTime:], 0)
	binary.LittleEndian.PutUint32(t[xen.TimeInfoTSCMul:], mul)
	t[xen.TimeInfoTSCShift] = byte(shift)
}

// SetSystemTime publishes system time ns in the vcpu_time_info in
// vcpuInfo, with Xen's version protocol (odd while the record changes).
func SetSystemTime(vcpuInfo []byte, ns uint64) {
	t := timeInfo(vcpuInfo)
	ver := binary.LittleEndian.Uint32(t[xen.TimeInfoVersion:])
	binary.LittleEndian.PutUint32(t[xen.TimeInfoVersion:], ver+1)
	binary.LittleEndian.PutUint64(t[xen.TimeInfoSystemTime:], ns)
	binary.LittleEndian.PutUint32(t[xen.TimeInfoVersion:], ver+2)
}

// HostScale is the scale a domain whose time is the host's TSC publishes
// (Scale of TSCHz), or zero for one whose time is a logical clock
// (SetSystemTime).
func HostScale(tsc bool) (mul uint32, shift int8) {
	if tsc {
		return Scale(TSCHz())
	}
	return 0, 0
}

// SystemTime is the system time, in nanoseconds, that a guest reading TSC
// tsc computes from a vcpu_time_info of scale mul and shift, system time
// 0 at TSC 0 (Publish): Xen's pvclock formula, ((tsc << shift) * mul) >>
// 32, shifting right for a negative shift.
func SystemTime(tsc uint64, mul uint32, shift int8) uint64 {
	if shift >= 0 {
		tsc <<= uint(shift)
	} else {
		tsc >>= uint(-shift)
	}
	hi, lo := bits.Mul64(tsc, uint64(mul))
	return hi<<32 | lo>>32
}
