package hv

import (
	"sync"

	"github.com/pvsim/pvsim/xen"
)

// console_io (xen.h): the guest's console, as Xen's hypervisor console.

// consoleState is the domain's console: output goes to Config.Console, and
// the last of it is kept for oops reports. Any vCPU writes it, under mu.
type consoleState struct {
	mu   sync.Mutex
	tail []byte
}

// consoleTailSize bounds the console output a domain keeps for oops
// reports.
const consoleTailSize = 64 << 10

// writeConsole writes guest console output.
func (d *Domain) writeConsole(b []byte) {
	c := &d.console
	c.mu.Lock()
	d.cfg.Console.Write(b)
	c.tail = append(c.tail, b...)
	if n := len(c.tail); n > consoleTailSize {
		c.tail = append(c.tail[:0], c.tail[n-consoleTailSize/2:]...)
	}
	c.mu.Unlock()
}

// consoleTail returns a copy of the console output kept.
func (d *Domain) consoleTail() []byte {
	d.console.mu.Lock()
	defer d.console.mu.Unlock()
	return append([]byte(nil), d.console.tail...)
}

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
			v.d.writeConsole(v.hc.buf[:n])
			count, buf = count-n, buf+n
		}
		return 0
	case xen.ConsoleIORead:
		return 0 // no console input
	}
	return xen.ENOSYS.Ret()
}
