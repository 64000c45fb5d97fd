package initramfs

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// entry is one member of an archive as a newc reader sees it.
type entry struct {
	name         string
	mode         uint32
	data         string
	major, minor uint32
}

// readNewc parses a newc archive, checking the magic, the alignment and
// the trailer, as the kernel's unpacker does.
func readNewc(t *testing.T, b []byte) []entry {
	t.Helper()
	var out []entry
	off := 0
	field := func(i int) uint32 {
		v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
		require.NoError(t, err)
		return uint32(v)
	}
	for {
		require.Zero(t, off%4, "headers are 4-byte aligned")
		require.GreaterOrEqual(t, len(b), off+110)
		require.Equal(t, "070701", string(b[off:off+6]))
		mode, size, major, minor, namesize := field(1), field(6), field(9), field(10), field(11)
		name := string(b[off+110 : off+110+int(namesize)-1])
		require.Zero(t, b[off+110+int(namesize)-1], "names end in NUL")
		off += 110 + int(namesize)
		off += (4 - off%4) % 4
		if name == "TRAILER!!!" {
			require.Zero(t, len(b)%4)
			return out
		}
		out = append(out, entry{name, mode, string(b[off : off+int(size)]), major, minor})
		off += int(size)
		off += (4 - off%4) % 4
	}
}

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	a := NewWriter(&buf)
	a.Dir("bin", 0o755)
	a.File("bin/busybox", 0o755, []byte("\x7fELF..."))
	a.Symlink("bin/sh", "busybox")
	a.CharDev("console", 0o600, 5, 1)
	a.File("init", 0o755, []byte("#!/bin/sh\n"))
	require.NoError(t, a.Close())
	assert.Equal(t, []entry{
		{"bin", TypeDir | 0o755, "", 0, 0},
		{"bin/busybox", TypeRegular | 0o755, "\x7fELF...", 0, 0},
		{"bin/sh", TypeSymlink | 0o777, "busybox", 0, 0},
		{"console", TypeChar | 0o600, "", 5, 1},
		{"init", TypeRegular | 0o755, "#!/bin/sh\n", 0, 0},
	}, readNewc(t, buf.Bytes()))

	for _, bad := range []string{"", "/init"} {
		a := NewWriter(&bytes.Buffer{})
		a.File(bad, 0o644, nil)
		assert.Error(t, a.Close(), "name %q", bad)
	}
}

func TestFromFS(t *testing.T) {
	fsys := fstest.MapFS{
		"init":        {Data: []byte("#!/bin/busybox sh\n"), Mode: 0o755},
		"bin/busybox": {Data: []byte("bb"), Mode: 0o755},
	}
	var buf bytes.Buffer
	require.NoError(t, FromFS(&buf, fsys))
	assert.Equal(t, []entry{
		{"dev", TypeDir | 0o755, "", 0, 0},
		{"dev/console", TypeChar | 0o600, "", 5, 1},
		{"bin", TypeDir | 0o555, "", 0, 0},
		{"bin/busybox", TypeRegular | 0o755, "bb", 0, 0},
		{"init", TypeRegular | 0o755, "#!/bin/busybox sh\n", 0, 0},
	}, readNewc(t, buf.Bytes()), "dev/console added first, the rest in lexical order")

	// A real directory, with a symbolic link.
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "dev"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a"), []byte("x"), 0o644))
	require.NoError(t, os.Symlink("a", filepath.Join(dir, "b")))
	buf.Reset()
	require.NoError(t, FromFS(&buf, os.DirFS(dir)))
	got := readNewc(t, buf.Bytes())
	require.Len(t, got, 4)
	assert.Equal(t, entry{"b", TypeSymlink | 0o777, "a", 0, 0}, got[1])
	assert.Equal(t, []string{"dev", "dev/console"}, []string{got[2].name, got[3].name}, "added to the directory's own dev, after it")
}
