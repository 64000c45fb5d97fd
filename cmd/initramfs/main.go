// Command initramfs packs a directory into the initial RAM disk Linux
// unpacks into its rootfs: an uncompressed newc cpio archive (package
// initramfs), every entry owned by root, with dev/console added when the
// directory has none.
//
//	initramfs -o initrd.img DIR
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"

	"github.com/pvsim/pvsim/initramfs"
)

func main() {
	out := flag.String("o", "", "write the archive to `FILE` (required)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: initramfs -o FILE DIR\n\nPacks DIR into an uncompressed newc cpio archive for Linux's initramfs.")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *out == "" || flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := pack(*out, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "initramfs:", err)
		os.Exit(1)
	}
}

func pack(out, dir string) error {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if err := initramfs.FromFS(w, os.DirFS(dir)); err != nil {
		f.Close()
		os.Remove(out)
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
