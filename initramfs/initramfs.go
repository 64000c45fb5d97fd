// Package initramfs writes the archive Linux unpacks into its rootfs at
// boot: a cpio archive in the "newc" format (ASCII headers, magic
// 070701), as the kernel's Documentation/driver-api/early-userspace/
// buffer-format.rst describes it. pvsim hands it to a guest as its initial
// RAM disk (start_info's mod_start, mod_len). Every entry is owned by
// root; the archive is uncompressed, which every kernel accepts.
package initramfs

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// Mode bits of a cpio entry (those of stat's st_mode).
const (
	TypeDir     = 0o040000
	TypeRegular = 0o100000
	TypeSymlink = 0o120000
	TypeChar    = 0o020000
	typeMask    = 0o170000
)

// Writer writes a newc archive. Names are relative paths ("bin/sh"),
// written as given; a directory must be added before what it holds.
type Writer struct {
	w   *bufio.Writer
	ino uint32
	off int64
	err error
}

// NewWriter starts an archive on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: bufio.NewWriter(w), ino: 1} }

// header writes one entry's header, name and padding.
func (a *Writer) header(name string, mode uint32, size int, major, minor uint32) {
	if a.err != nil {
		return
	}
	if name == "" || strings.HasPrefix(name, "/") || len(name) >= 4096 {
		a.err = fmt.Errorf("initramfs: bad name %q", name)
		return
	}
	nlink := 1
	if mode&typeMask == TypeDir {
		nlink = 2
	}
	// magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
	// devminor, rdevmajor, rdevminor, namesize, check.
	h := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		a.ino, mode, 0, 0, nlink, 0, size, 0, 0, major, minor, len(name)+1, 0)
	a.ino++
	a.write([]byte(h))
	a.write([]byte(name))
	a.write([]byte{0})
	a.pad()
}

func (a *Writer) write(b []byte) {
	if a.err != nil {
		return
	}
	n, err := a.w.Write(b)
	a.off += int64(n)
	a.err = err
}

// pad aligns the archive to 4 bytes, as every header and body is.
func (a *Writer) pad() {
	var zero [3]byte
	a.write(zero[:(4-a.off%4)%4])
}

// Dir adds directory name with permissions perm.
func (a *Writer) Dir(name string, perm fs.FileMode) {
	a.header(name, TypeDir|uint32(perm.Perm()), 0, 0, 0)
}

// File adds regular file name with permissions perm and contents data.
func (a *Writer) File(name string, perm fs.FileMode, data []byte) {
	a.header(name, TypeRegular|uint32(perm.Perm()), len(data), 0, 0)
	a.write(data)
	a.pad()
}

// Symlink adds symbolic link name pointing at target.
func (a *Writer) Symlink(name, target string) {
	a.header(name, TypeSymlink|0o777, len(target), 0, 0)
	a.write([]byte(target))
	a.pad()
}

// CharDev adds character device node name (major, minor).
func (a *Writer) CharDev(name string, perm fs.FileMode, major, minor uint32) {
	a.header(name, TypeChar|uint32(perm.Perm()), 0, major, minor)
}

// Close writes the trailer entry and flushes; it returns the first error
// the archive met.
func (a *Writer) Close() error {
	a.header("TRAILER!!!", 0, 0, 0, 0)
	if a.err != nil {
		return a.err
	}
	return a.w.Flush()
}

// consoleMajor, consoleMinor are /dev/console's device numbers.
const consoleMajor, consoleMinor = 5, 1

// FromFS writes every file, directory and symbolic link of fsys into an
// archive on w, in lexical order, and dev/console (character device 5:1)
// if fsys has no dev/console: the kernel opens it for init's standard
// input and output before any device filesystem is mounted, as its own
// default initramfs provides it. Symbolic links are read with fs.ReadLink
// (os.DirFS can).
func FromFS(w io.Writer, fsys fs.FS) error {
	a := NewWriter(w)
	var names []string
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name != "." {
			names = append(names, name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(names)
	hasDev, hasConsole := false, false
	for _, name := range names {
		hasDev = hasDev || name == "dev"
		hasConsole = hasConsole || name == "dev/console"
	}
	console := func() {
		if !hasConsole {
			a.CharDev("dev/console", 0o600, consoleMajor, consoleMinor)
		}
	}
	if !hasDev {
		a.Dir("dev", 0o755)
		console()
	}
	for _, name := range names {
		info, err := fs.Lstat(fsys, name)
		if err != nil {
			return err
		}
		switch m := info.Mode(); {
		case m.IsDir():
			a.Dir(name, m)
			if name == "dev" {
				console()
			}
		case m&fs.ModeSymlink != 0:
			target, err := fs.ReadLink(fsys, name)
			if err != nil {
				return err
			}
			a.Symlink(name, target)
		case m.IsRegular():
			data, err := fs.ReadFile(fsys, name)
			if err != nil {
				return err
			}
			a.File(name, m, data)
		default:
			return fmt.Errorf("initramfs: %s: %v is neither a file, a directory nor a symbolic link", path.Clean(name), m.Type())
		}
	}
	return a.Close()
}
