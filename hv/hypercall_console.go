package hv

import (
	"github.com/pvsim/pvsim/xen"
)

// console_io (xen.h): Xen's hypervisor console, kept by package console.

// maxConsoleWrite bounds one console_io write, as Xen does, so that a guest
// cannot make the hypervisor copy without limit.
const maxConsoleWrite = 64 << 10

// consoleIO: HYPERVISOR_console_io(cmd, count, buffer).
func (v *vcpu) consoleIO(a *hypercallArgs) uint64 {
	cmd, count, buf := a[0], a[1], a[2]
	switch cmd {
	case xen.ConsoleIOWrite:
		if count > maxConsoleWrite {
			return xen.EINVAL.Ret()
		}
		for count > 0 {
			n := min(count, uint64(len(v.hc.buf)))
			if err := v.readGuest(v.hc.buf[:n], buf); err != nil {
				return errRet(err)
			}
			v.d.console.Write(v.hc.buf[:n])
			count, buf = count-n, buf+n
		}
		return 0
	case xen.ConsoleIORead:
		return 0 // no console input
	}
	return xen.ENOSYS.Ret()
}
