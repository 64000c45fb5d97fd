package hv

import (
	"encoding/binary"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/pvsim/pvsim/mmu"
)

// physMem is the VM's guest-physical address space as the VMM maps it: the
// guest's own frames [0, nrPages) and, above them, the frames of the
// hypervisor region, which the guest can never map. The doorbell sits just
// above the hypervisor frames and is deliberately unbacked, so that a store
// to it exits to the VMM as MMIO.
//
// The VMM reads this memory freely. It writes guest frames only while
// building the domain, before any vCPU runs: once a frame may be in use as a
// pagetable, writes to it go through the executor (see DESIGN.md §2).
type physMem struct {
	guest    []byte // frames [0, nrPages)
	hv       []byte // frames [hvBase>>12, ...)
	hvBase   uint64 // guest-physical address of the first hypervisor frame
	doorbell uint64 // guest-physical address of the doorbell page
	// file holds both regions, guest frames first: a snapshot keeps it, and
	// a domain restored from the snapshot maps it copy-on-write.
	file *os.File
}

// hvRegionSize is the memory reserved for the hypervisor region: IDT, GDTs,
// TSSs, stacks, stubs, command blocks and pagetables for up to MaxVCPUs,
// and the L1 tables of the executor's alias of guest memory.
func hvRegionSize(guestBytes uint64) int {
	aliasL1s := guestBytes >> (mmu.PageShift + 9)
	return int(4<<20 + (aliasL1s+16)<<mmu.PageShift)
}

// newPhysMem makes the memory of a new domain, zeroed, in a memory file of
// its own.
func newPhysMem(guestBytes uint64) (*physMem, error) {
	fd, err := unix.MemfdCreate("pvsim-domain", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create for %d MiB of guest memory: %w", guestBytes>>20, err)
	}
	f := os.NewFile(uintptr(fd), "pvsim-domain")
	if err := f.Truncate(int64(guestBytes) + int64(hvRegionSize(guestBytes))); err != nil {
		f.Close()
		return nil, fmt.Errorf("sizing the domain's memory file: %w", err)
	}
	m, err := mapPhysMem(f, guestBytes, unix.MAP_SHARED)
	if err != nil {
		f.Close()
	}
	return m, err
}

// mapPhysMem maps the memory file f of a domain with guestBytes of guest
// memory: shared for the domain that owns it, private (copy-on-write) for
// one restored from a snapshot of it.
func mapPhysMem(f *os.File, guestBytes uint64, flags int) (*physMem, error) {
	hvSize := hvRegionSize(guestBytes)
	g, err := unix.Mmap(int(f.Fd()), 0, int(guestBytes), unix.PROT_READ|unix.PROT_WRITE, flags|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("mapping %d MiB of guest memory: %w", guestBytes>>20, err)
	}
	h, err := unix.Mmap(int(f.Fd()), int64(guestBytes), hvSize, unix.PROT_READ|unix.PROT_WRITE, flags)
	if err != nil {
		unix.Munmap(g)
		return nil, fmt.Errorf("mapping the hypervisor region: %w", err)
	}
	top := (guestBytes + (2<<20 - 1)) &^ (2<<20 - 1)
	return &physMem{guest: g, hv: h, hvBase: top + 2<<20, doorbell: top, file: f}, nil
}

// free unmaps the memory. The file stays open while a snapshot holds it.
func (m *physMem) free() {
	unix.Munmap(m.guest)
	unix.Munmap(m.hv)
	m.file.Close()
}

func (m *physMem) nrPages() uint64 { return uint64(len(m.guest)) >> mmu.PageShift }

// bytes returns the n bytes at guest-physical address pa, or nil when they
// are not all backed by one region.
func (m *physMem) bytes(pa, n uint64) []byte {
	switch {
	case pa+n <= uint64(len(m.guest)) && pa+n >= pa:
		return m.guest[pa : pa+n]
	case pa >= m.hvBase && pa-m.hvBase+n <= uint64(len(m.hv)):
		return m.hv[pa-m.hvBase : pa-m.hvBase+n]
	}
	return nil
}

// frame returns the 4 KiB frame pfn.
func (m *physMem) frame(pfn uint64) []byte { return m.bytes(pfn<<mmu.PageShift, mmu.PageSize) }

// Read64 implements mmu.Memory.
func (m *physMem) Read64(pa uint64) (uint64, bool) {
	b := m.bytes(pa, 8)
	if b == nil {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b), true
}

func (m *physMem) write64(pa, v uint64) {
	binary.LittleEndian.PutUint64(m.bytes(pa, 8), v)
}
