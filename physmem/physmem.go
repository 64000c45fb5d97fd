// Package physmem is a domain's guest-physical memory as the VMM maps it:
// the guest's own frames [0, NrPages), the frames of the hypervisor region
// above them, which the guest can never map, and between the two the
// doorbell, a deliberately unbacked page whose stores exit to the VMM as
// MMIO. It also builds fresh pagetables in that memory (Tables), and copies
// to and from guest virtual addresses as the guest could (guestaccess.go).
//
// The VMM reads this memory freely. It writes guest frames only while
// building the domain, before any vCPU runs: once a frame may be in use as a
// pagetable, writes to it go through the executor (DESIGN.md §2).
package physmem

import (
	"encoding/binary"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/pvsim/pvsim/fingerprint"
	"github.com/pvsim/pvsim/mmu"
)

// Memory is one domain's memory.
type Memory struct {
	Guest    []byte // frames [0, NrPages)
	HV       []byte // the hypervisor region's frames, from HVBase
	HVBase   uint64 // guest-physical address of the first hypervisor frame
	Doorbell uint64 // guest-physical address of the doorbell page
	// file holds both regions, guest frames first: a snapshot keeps it, and
	// a domain restored from the snapshot maps it copy-on-write.
	file *os.File
	// touched, once Track is called, marks the frames (Frames' numbering)
	// the host has accessed since the last TakeTouched.
	touched fingerprint.Bitmap
}

// hvRegionSize is the memory reserved for the hypervisor region: IDT,
// GDTs, TSSs, stacks, stubs, command blocks and pagetables for up to 8
// vCPUs in 4 MiB, and the L1 tables of the executor's alias of guest
// memory.
func hvRegionSize(guestBytes uint64) int {
	aliasL1s := guestBytes >> (mmu.PageShift + 9)
	m2pPages := guestBytes >> (mmu.PageShift + 9) // 8 bytes a frame
	return int(4<<20 + (aliasL1s+m2pPages+16)<<mmu.PageShift)
}

// New makes the memory of a new domain, zeroed, in a memory file of its
// own. guestBytes is a multiple of 2 MiB.
func New(guestBytes uint64) (*Memory, error) {
	fd, err := unix.MemfdCreate("pvsim-domain", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create for %d MiB of guest memory: %w", guestBytes>>20, err)
	}
	f := os.NewFile(uintptr(fd), "pvsim-domain")
	if err := f.Truncate(int64(guestBytes) + int64(hvRegionSize(guestBytes))); err != nil {
		f.Close()
		return nil, fmt.Errorf("sizing the domain's memory file: %w", err)
	}
	m, err := mapFile(f, guestBytes, unix.MAP_SHARED)
	if err != nil {
		f.Close()
	}
	return m, err
}

// mapFile maps the memory file f of a domain with guestBytes of guest
// memory: shared for the domain that owns it, private (copy-on-write) for
// one restored from a snapshot of it.
func mapFile(f *os.File, guestBytes uint64, flags int) (*Memory, error) {
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
	return &Memory{Guest: g, HV: h, HVBase: top + 2<<20, Doorbell: top, file: f}, nil
}

// Free unmaps the memory. The file stays open while an Image holds it.
func (m *Memory) Free() {
	unix.Munmap(m.Guest)
	unix.Munmap(m.HV)
	m.file.Close()
}

// NrPages is the number of guest frames.
func (m *Memory) NrPages() uint64 { return uint64(len(m.Guest)) >> mmu.PageShift }

// Bytes returns the n bytes at guest-physical address pa, or nil when they
// are not all backed by one region.
func (m *Memory) Bytes(pa, n uint64) []byte {
	switch {
	case pa+n <= uint64(len(m.Guest)) && pa+n >= pa:
		if m.touched != nil && n > 0 {
			m.touched.Mark(pa>>mmu.PageShift, (pa+n-1)>>mmu.PageShift)
		}
		return m.Guest[pa : pa+n]
	case pa >= m.HVBase && pa-m.HVBase+n <= uint64(len(m.HV)):
		if m.touched != nil && n > 0 {
			g := m.NrPages()
			m.touched.Mark(g+(pa-m.HVBase)>>mmu.PageShift, g+(pa-m.HVBase+n-1)>>mmu.PageShift)
		}
		return m.HV[pa-m.HVBase : pa-m.HVBase+n]
	}
	return nil
}

// Frame returns the 4 KiB frame pfn, or nil.
func (m *Memory) Frame(pfn uint64) []byte { return m.Bytes(pfn<<mmu.PageShift, mmu.PageSize) }

// Read64 implements mmu.Memory.
func (m *Memory) Read64(pa uint64) (uint64, bool) {
	b := m.Bytes(pa, 8)
	if b == nil {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b), true
}

// Write64 stores v at pa from the host.
//
// Precondition: no vCPU runs on a pagetable that maps pa (see the package
// comment); only the builders call it.
func (m *Memory) Write64(pa, v uint64) {
	binary.LittleEndian.PutUint64(m.Bytes(pa, 8), v)
}

// Image is the memory file of a stopped domain, kept for a snapshot.
type Image struct {
	file       *os.File
	guestBytes uint64
}

// Keep returns an Image of m's memory file, which stays valid after m is
// freed. What it holds is m's memory as it is when a domain restored from
// it maps it; the caller keeps m from changing afterwards.
func (m *Memory) Keep() (*Image, error) {
	f, err := dup(m.file)
	if err != nil {
		return nil, err
	}
	return &Image{file: f, guestBytes: uint64(len(m.Guest))}, nil
}

// MapPrivate maps the image copy-on-write: the new Memory sees the image,
// and its writes stay its own.
func (im *Image) MapPrivate() (*Memory, error) {
	f, err := dup(im.file)
	if err != nil {
		return nil, err
	}
	m, err := mapFile(f, im.guestBytes, unix.MAP_PRIVATE)
	if err != nil {
		f.Close()
	}
	return m, err
}

// Close releases the image.
func (im *Image) Close() { im.file.Close() }

func dup(f *os.File) (*os.File, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("keeping the memory file: %w", err)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}
