package hv

import (
	"pvsim/mmu"
)

// readException reads the frame the entry stub left on the CPL0 stack.
func (v *vcpu) readException() (Exception, bool) {
	r := v.run
	var q [7]uint64
	for i := range q {
		w := mmu.Translate(v.d.mem, r.sregs.CR3, r.regs.RSP+uint64(i)*8, mmu.AccessRead)
		if !w.OK {
			return Exception{}, false
		}
		q[i], _ = v.d.mem.Read64(w.PA)
	}
	x := Exception{
		Vector: int(q[0]), ErrorCode: q[1], RIP: q[2], CS: q[3], RFLAGS: q[4], RSP: q[5], SS: q[6],
		CR2: r.sregs.CR2,
	}
	acc := mmu.AccessFetch
	if x.CPL() == 3 {
		acc |= mmu.AccessUser
	}
	var code [15]byte
	n := 0
	for n < len(code) {
		w := mmu.Translate(v.d.mem, r.sregs.CR3, x.RIP+uint64(n), acc)
		if !w.OK {
			break
		}
		b := v.d.mem.bytes(w.PA, 1)
		if b == nil {
			break
		}
		code[n] = b[0]
		n++
	}
	if n > 0 {
		x.Insn = decodeInsn(code[:n])
	}
	return x, true
}

// trap handles an exception that reached the hypervisor's entry stub.
func (v *vcpu) trap() {
	x, ok := v.readException()
	if !ok {
		v.fatal(HypervisorFault, v.run.regs.RIP, "exception frame unreadable on the CPL0 stack")
		return
	}
	if x.Vector >= 0 && x.Vector < nrStubs {
		v.stats.Traps[x.Vector]++
	}
	if x.CPL() != 3 {
		v.fatal(HypervisorFault, x.RIP, x.Describe())
		return
	}
	// The guest has no way yet to register handlers (set_trap_table): an
	// exception it raises cannot be delivered, and neither can the double
	// fault that follows, as on a CPU with an empty IDT.
	v.fatal(TripleFault, x.RIP, x.Describe()+"; no guest trap handler, so neither it nor #DF can be delivered")
}
