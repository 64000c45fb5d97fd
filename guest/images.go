// Package guest owns the built guest kernel images: small freestanding
// x86-64 kernels for the Xen PV ABI, built from the C sources in this
// directory by its Makefile and committed under images/.
//
// Each image carries, besides the Xen ELF notes its loader needs, a
// "pvsim" note of type 1 holding a one-line description of the kernel.
package guest

import (
	"bytes"
	"cmp"
	"debug/elf"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
)

//go:embed images/*.elf
var images embed.FS

// A Kernel is one built guest kernel image.
type Kernel struct {
	Name        string // file name in images/ without ".elf", e.g. "hello"
	Description string // from the image's pvsim note
	ELF         []byte // the image; shared, must not be modified
}

const pvsimNoteDescription = 1

// Kernels returns every embedded kernel, sorted by name.
func Kernels() []Kernel {
	return slices.Clone(kernels())
}

// Lookup returns the kernel called name.
func Lookup(name string) (Kernel, bool) {
	ks := kernels()
	i, ok := slices.BinarySearchFunc(ks, name, func(k Kernel, name string) int {
		return cmp.Compare(k.Name, name)
	})
	if !ok {
		return Kernel{}, false
	}
	return ks[i], true
}

var kernels = sync.OnceValue(func() []Kernel {
	entries, err := images.ReadDir("images")
	if err != nil {
		panic(err)
	}
	ks := make([]Kernel, 0, len(entries))
	for _, e := range entries {
		file := path.Join("images", e.Name())
		img, err := images.ReadFile(file)
		if err != nil {
			panic(err)
		}
		desc, err := description(img)
		if err != nil {
			panic(fmt.Sprintf("guest: %s: %v", file, err))
		}
		ks = append(ks, Kernel{
			Name:        strings.TrimSuffix(e.Name(), ".elf"),
			Description: desc,
			ELF:         img,
		})
	}
	slices.SortFunc(ks, func(a, b Kernel) int { return cmp.Compare(a.Name, b.Name) })
	return ks
})

// description returns the text of the image's pvsim description note.
func description(img []byte) (string, error) {
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		return "", err
	}
	notes, err := readNotes(f, img)
	if err != nil {
		return "", err
	}
	for _, n := range notes {
		if n.name == "pvsim" && n.typ == pvsimNoteDescription {
			return string(bytes.TrimRight(n.desc, "\x00")), nil
		}
	}
	return "", errors.New("no pvsim description note")
}

// A note is one ELF note; desc aliases the image.
type note struct {
	name string
	typ  uint32
	desc []byte
}

// readNotes returns the notes of every PT_NOTE segment of f, whose bytes
// are img.
func readNotes(f *elf.File, img []byte) ([]note, error) {
	var notes []note
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		if p.Off > uint64(len(img)) || p.Filesz > uint64(len(img))-p.Off {
			return nil, errors.New("PT_NOTE segment outside the file")
		}
		seg := img[p.Off : p.Off+p.Filesz]
		for len(seg) > 0 {
			if len(seg) < 12 {
				return nil, errors.New("truncated note header")
			}
			namesz := uint64(binary.LittleEndian.Uint32(seg[0:]))
			descsz := uint64(binary.LittleEndian.Uint32(seg[4:]))
			typ := binary.LittleEndian.Uint32(seg[8:])
			descOff := 12 + align4(namesz)
			end := descOff + align4(descsz)
			if end > uint64(len(seg)) {
				return nil, errors.New("truncated note")
			}
			notes = append(notes, note{
				name: string(bytes.TrimRight(seg[12:12+namesz], "\x00")),
				typ:  typ,
				desc: seg[descOff : descOff+descsz],
			})
			seg = seg[end:]
		}
	}
	return notes, nil
}

func align4(n uint64) uint64 { return (n + 3) &^ 3 }
