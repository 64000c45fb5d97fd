package hv

import (
	"time"

	"github.com/pvsim/pvsim/builder"
	"github.com/pvsim/pvsim/xen"
)

// The PV console's input side, as xenconsoled serves it: what pvsim reads
// from Config.ConsoleIn goes into the ring's in[] as room allows, and the
// guest is notified on its console event channel. The guest notifies the
// channel when it has consumed input (Linux's hvc_xen does), which makes
// room; a guest that never does is looked at again every
// consoleInputRetry. At most a read's worth of input waits in pvsim: the
// reader is not read again until it is in the ring.

// consoleInputRetry is how often input waiting for room in the ring
// looks again without a notification.
const consoleInputRetry = 50 * time.Millisecond

// consoleInput feeds the console ring until the input ends or the domain
// does.
func (d *Domain) consoleInput() {
	var buf [256]byte
	retry := time.NewTicker(consoleInputRetry)
	defer retry.Stop()
	for {
		n, err := d.cfg.ConsoleIn.Read(buf[:])
		for b := buf[:n]; len(b) > 0; {
			d.consoleMu.Lock()
			k := d.consoleRing.PutIn(b)
			d.consoleMu.Unlock()
			if k > 0 {
				b = b[k:]
				if e, err := d.evtchn.RemoteSend(builder.ConsolePort, xen.BackendDomID); err == nil {
					d.notified(e)
				}
				continue
			}
			select {
			case <-d.consoleRoom:
			case <-retry.C:
			case <-d.stopCh:
				return
			}
		}
		if err != nil || d.stopping.Load() {
			return
		}
	}
}

// consoleNotified is the guest's notification on its console channel:
// its output is drained, and input waiting for room looks again.
func (d *Domain) consoleNotified() {
	d.consoleMu.Lock()
	d.consoleRing.Drain(d.console)
	d.consoleMu.Unlock()
	select {
	case d.consoleRoom <- struct{}{}:
	default:
	}
}
