package evtchn

import (
	"errors"
	"fmt"

	"github.com/pvsim/pvsim/xen"
)

// Audit checks the table's invariants and returns every one broken, or
// nil:
//   - the valid ports are whole buckets, at least one, at most NrPorts;
//   - port 0 is reserved, and no other port is;
//   - no port below where allocation starts scanning is free;
//   - a free port holds nothing and notifies vCPU 0;
//   - every channel notifies a vCPU of the domain;
//   - a VIRQ channel's virq is below NR_VIRQS and the virq table names
//     it (on its vCPU for a per-vCPU virq, on vCPU 0 for the others), and
//     every port the virq table names is a VIRQ channel of that virq (and
//     that vCPU, for a per-vCPU one).
//
// The shared_info bits are the guest's to change and are not checked.
func (t *Table) Audit() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	n := len(t.chans)
	if n == 0 || n%bucketPorts != 0 || n > NrPorts {
		bad("%d valid ports: not whole buckets within %d", n, NrPorts)
	}
	if len(t.virqs) != t.nrVCPUs {
		bad("virq table for %d vCPUs, domain has %d", len(t.virqs), t.nrVCPUs)
	}
	for p := range t.chans {
		c := &t.chans[p]
		if (p == 0) != (c.state == stateReserved) {
			bad("port %d: state %v", p, c.state)
		}
		if Port(p) < t.lowFree && c.state == stateFree {
			bad("port %d: free below the scan start %d", p, t.lowFree)
		}
		if int(c.vcpu) >= t.nrVCPUs {
			bad("port %d: notifies vCPU %d of %d", p, c.vcpu, t.nrVCPUs)
		}
		switch c.state {
		case stateFree, stateReserved:
			if *c != (channel{state: c.state}) {
				bad("port %d: %v but holds %+v", p, c.state, *c)
			}
		case stateUnbound, stateIPI:
		case stateVIRQ:
			if c.virq >= xen.NrVIRQs {
				bad("port %d: virq %d", p, c.virq)
				continue
			}
			v := 0
			if perVCPU(uint32(c.virq)) {
				v = int(c.vcpu)
			}
			if v < len(t.virqs) && t.virqs[v][c.virq] != Port(p) {
				bad("port %d: virq %d on vCPU %d, which names port %d", p, c.virq, v, t.virqs[v][c.virq])
			}
		default:
			bad("port %d: unknown state %d", p, c.state)
		}
	}
	for v := range t.virqs {
		for virq, p := range t.virqs[v] {
			if p == 0 {
				continue
			}
			c := t.lookup(p)
			switch {
			case c == nil || c.state != stateVIRQ || int(c.virq) != virq:
				bad("vCPU %d virq %d: port %d is no such VIRQ channel", v, virq, p)
			case perVCPU(uint32(virq)) && int(c.vcpu) != v:
				bad("vCPU %d virq %d: port %d notifies vCPU %d", v, virq, p, c.vcpu)
			case !perVCPU(uint32(virq)) && v != 0:
				bad("vCPU %d: virq %d is not per-vCPU", v, virq)
			}
		}
	}
	return errors.Join(errs...)
}
