package physmem

import (
	"bytes"

	"github.com/pvsim/pvsim/mmu"
	"github.com/pvsim/pvsim/xen"
)

// Copies between the hypervisor and guest virtual addresses, as Xen's
// copy_from_guest and copy_to_guest: through the guest's pagetables rooted
// at cr3, with the permissions of guest code at CPL3.

// CopyFromGuest copies len(dst) bytes from guest virtual address va. It
// returns xen.EFAULT if any byte is not readable.
func (m *Memory) CopyFromGuest(cr3 uint64, dst []byte, va uint64) error {
	for len(dst) > 0 {
		w := mmu.Translate(m, cr3, va, mmu.AccessUser)
		if !w.OK {
			return xen.EFAULT
		}
		n := min(uint64(len(dst)), mmu.PageSize-va&(mmu.PageSize-1))
		src := m.Bytes(w.PA, n)
		if src == nil {
			return xen.EFAULT
		}
		copy(dst, src)
		dst, va = dst[n:], va+n
	}
	return nil
}

// CopyToGuest copies b to guest virtual address va. It returns xen.EFAULT
// if any byte is not writable. A destination that is, or may be, a
// pagetable is refused: those frames are mapped read-only to the guest,
// so the permission check keeps the VMM from storing into them. tables is
// what the walk reads the pagetables through (nil: m itself).
//
// Precondition: no frame can change type between the check and the store
// (the caller holds the domain's MMU lock), and tables shows every store
// the frame table counts.
func (m *Memory) CopyToGuest(tables mmu.Memory, cr3, va uint64, b []byte) error {
	if tables == nil {
		tables = m
	}
	for len(b) > 0 {
		w := mmu.Translate(tables, cr3, va, mmu.AccessUser|mmu.AccessWrite)
		if !w.OK {
			return xen.EFAULT
		}
		n := min(uint64(len(b)), mmu.PageSize-va&(mmu.PageSize-1))
		dst := m.Bytes(w.PA, n)
		if dst == nil || w.PA >= uint64(len(m.Guest)) {
			return xen.EFAULT
		}
		copy(dst, b[:n])
		b, va = b[n:], va+n
	}
	return nil
}

// FetchCode copies into dst the instruction bytes at guest virtual address
// rip that an instruction fetch at CPL3 (user) or CPL0 could read, stopping
// at the first byte it could not, and returns how many it copied.
func (m *Memory) FetchCode(cr3, rip uint64, user bool, dst []byte) int {
	acc := mmu.AccessFetch
	if user {
		acc |= mmu.AccessUser
	}
	n := 0
	// One walk per page the bytes lie on, not one per byte.
	for n < len(dst) {
		va := rip + uint64(n)
		w := mmu.Translate(m, cr3, va, acc)
		if !w.OK {
			break
		}
		k := min(uint64(len(dst)-n), mmu.PageSize-va&(mmu.PageSize-1))
		b := m.Bytes(w.PA, k)
		if b == nil {
			break
		}
		n += copy(dst[n:], b)
	}
	return n
}

// CopyStringFromGuest copies the NUL-terminated string at guest virtual
// address va into buf, as the guest at CPL3 could read it, and returns its
// length, without the NUL. It returns xen.EFAULT if va is NULL or its
// first byte is not readable, and xen.EINVAL if no NUL ends it within
// len(buf) bytes. The string may end just before an unreadable page.
func (m *Memory) CopyStringFromGuest(cr3, va uint64, buf []byte) (int, error) {
	if va == 0 {
		return 0, xen.EFAULT
	}
	for n := 0; n < len(buf); {
		k := min(uint64(len(buf)-n), mmu.PageSize-(va+uint64(n))&(mmu.PageSize-1))
		if err := m.CopyFromGuest(cr3, buf[n:n+int(k)], va+uint64(n)); err != nil {
			if n == 0 {
				return 0, err
			}
			break
		}
		if i := bytes.IndexByte(buf[n:n+int(k)], 0); i >= 0 {
			return n + i, nil
		}
		n += int(k)
	}
	return 0, xen.EINVAL
}
