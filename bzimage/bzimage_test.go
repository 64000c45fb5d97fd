package bzimage

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/binary"
	"flag"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

var update = flag.Bool("update", false,
	"rewrite the fuzz seed corpus with the compressors' command-line tools")

// testELF returns a valid ELF64 x86-64 executable: a header, one PT_LOAD
// program header and a segment of n bytes made, from seed, of machine-code
// like bytes dense in E8/E9 opcodes with near and far operands (what xz's
// x86 filter converts), text, and zeros.
func testELF(t testing.TB, n int, seed uint64) []byte {
	t.Helper()
	const ehsize, phsize = 64, 56
	rng := rand.New(rand.NewPCG(seed, 0x627a696d616765))
	seg := make([]byte, n)
	text := []byte("The quick brown fox jumps over the lazy dog. ")
	for i := 0; i < n; {
		switch rng.IntN(4) {
		case 0: // code: opcodes and operands, many of them near
			for end := min(n, i+rng.IntN(256)); i < end; i++ {
				switch rng.IntN(6) {
				case 0:
					seg[i] = 0xe8
				case 1:
					seg[i] = 0xe9
				case 2:
					seg[i] = 0x00
				case 3:
					seg[i] = 0xff
				default:
					seg[i] = byte(rng.Uint32())
				}
			}
		case 1: // text
			for end := min(n, i+rng.IntN(512)); i < end; i++ {
				seg[i] = text[i%len(text)]
			}
		default: // zeros
			i += rng.IntN(1024)
		}
	}
	h := elf.Header64{
		Type: uint16(elf.ET_EXEC), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Entry: 0x1000000, Phoff: ehsize, Ehsize: ehsize, Phentsize: phsize, Phnum: 1,
	}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	ph := elf.Prog64{
		Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R | elf.PF_X), Off: ehsize + phsize,
		Vaddr: 0x1000000, Paddr: 0x1000000, Filesz: uint64(n), Memsz: uint64(n), Align: 16,
	}
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, h)
	binary.Write(&b, binary.LittleEndian, ph)
	b.Write(seg)
	f, err := elf.NewFile(bytes.NewReader(b.Bytes()))
	if err != nil || len(f.Progs) != 1 || f.Progs[0].Filesz != uint64(n) {
		t.Fatalf("testELF: not the ELF meant: %v", err)
	}
	return b.Bytes()
}

// The ELFs the tests compress: big enough for several zstd blocks, small
// enough for the fuzz seeds.
func bigELF(t testing.TB) []byte   { return testELF(t, 200<<10, 1) }
func smallELF(t testing.TB) []byte { return testELF(t, 1500, 2) }

// header describes the setup header fields of a synthetic bzImage.
type header struct {
	setupSects byte   // 0 means 4
	version    uint16 // boot protocol version
	offset     uint32 // payload_offset; the payload is placed there
	lenDelta   int64  // added to the payload's length in payload_length
}

var linuxHeader = header{setupSects: 27, version: 0x020f, offset: 0x3b4}

// bzImage returns an image with h's setup header, payload at h.offset
// from the protected-mode code, and some code after it, as in Linux.
func bzImage(h header, payload []byte) []byte {
	sects := int(h.setupSects)
	if sects == 0 {
		sects = 4
	}
	pm := (sects + 1) * 512
	b := make([]byte, pm+int(h.offset)+len(payload)+0x240)
	for i := range b {
		b[i] = 0xcc // what Extract must not take for payload
	}
	// The offsets of the boot protocol, written out here rather than
	// taken from the package, so that a wrong one there shows.
	clear(b[:0x1f1])
	b[0x1f1] = h.setupSects
	binary.LittleEndian.PutUint16(b[0x1fe:], 0xaa55)
	copy(b[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(b[0x206:], h.version)
	binary.LittleEndian.PutUint32(b[0x248:], h.offset)
	binary.LittleEndian.PutUint32(b[0x24c:], uint32(int64(len(payload))+h.lenDelta))
	copy(b[pm+int(h.offset):], payload)
	return b
}

// sizeAppend appends len(data) as 4 bytes, little-endian, to payload, as
// Linux's build does after compressing the kernel.
func sizeAppend(payload, data []byte) []byte {
	return binary.LittleEndian.AppendUint32(bytes.Clone(payload), uint32(len(data)))
}

// The Go writers' encodings of data.

func gzipped(t testing.TB, data []byte) []byte {
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func xzed(t testing.TB, data []byte, c xz.WriterConfig) []byte {
	var b bytes.Buffer
	w, err := c.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func lzmaed(t testing.TB, data []byte, c lzma.WriterConfig) []byte {
	var b bytes.Buffer
	w, err := c.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zstded(t testing.TB, data []byte, opts ...zstd.EOption) []byte {
	opts = append([]zstd.EOption{zstd.WithEncoderLevel(zstd.SpeedBestCompression)}, opts...)
	e, err := zstd.NewWriter(nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	return e.EncodeAll(data, nil)
}

// zstdStreamed encodes data with the streaming writer, which does not
// know the content size to put it in the frame header.
func zstdStreamed(t testing.TB, data []byte, opts ...zstd.EOption) []byte {
	var b bytes.Buffer
	e, err := zstd.NewWriter(&b, opts...)
	if err != nil {
		t.Fatal(err)
	}
	e.Write(data)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func lz4ed(t testing.TB, data []byte) []byte {
	var b bytes.Buffer
	w := lz4.NewWriter(&b)
	if err := w.Apply(lz4.LegacyOption(true), lz4.CompressionLevelOption(lz4.Level9)); err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// linuxRecipes are the commands Linux's build (scripts/Makefile.lib,
// scripts/xz_wrap.sh) compresses an x86 kernel with, each reading the
// kernel on standard input; all but gzip's output get the size appended.
var linuxRecipes = []struct {
	c          Compression
	ext        string
	cmd        []string
	sizeAppend bool
}{
	{Gzip, "gz", []string{"gzip", "-n", "-f", "-9"}, false},
	{Bzip2, "bz2", []string{"bzip2", "-9"}, true},
	{LZMA, "lzma", []string{"lzma", "-9"}, true},
	{XZ, "xz", []string{"xz", "--check=crc32", "--x86", "--lzma2=,dict=32MiB"}, true},
	{LZ4, "lz4", []string{"lz4", "-l", "-9", "-", "-"}, true},
	{Zstd, "zst", []string{"zstd", "-22", "--ultra"}, true},
}

// linuxCompress runs recipe i on data.
func linuxCompress(t testing.TB, i int, data []byte) []byte {
	r := linuxRecipes[i]
	cmd := exec.Command(r.cmd[0], r.cmd[1:]...)
	cmd.Stdin = bytes.NewReader(data)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v", strings.Join(r.cmd, " "), err)
	}
	if r.sizeAppend {
		return sizeAppend(out.Bytes(), data)
	}
	return out.Bytes()
}

// linuxFixtures holds bigELF compressed by each recipe, made once per
// run with the compressors' command-line tools (nothing of theirs is
// kept in the repository).
var linuxFixtures struct {
	sync.Mutex
	made map[int][]byte
}

// linuxFixture returns bigELF compressed by recipe i's command-line tool,
// or nil and why not when the tool is not installed: the caller skips,
// saying so.
func linuxFixture(t testing.TB, i int) ([]byte, string) {
	t.Helper()
	r := linuxRecipes[i]
	if _, err := exec.LookPath(r.cmd[0]); err != nil {
		return nil, fmt.Sprintf("SKIP: %s is not installed: no %v payload made as Linux's build makes it", r.cmd[0], r.c)
	}
	linuxFixtures.Lock()
	defer linuxFixtures.Unlock()
	if b, ok := linuxFixtures.made[i]; ok {
		return b, ""
	}
	if linuxFixtures.made == nil {
		linuxFixtures.made = map[int][]byte{}
	}
	b := linuxCompress(t, i, bigELF(t))
	linuxFixtures.made[i] = b
	return b, ""
}

func TestExtract(t *testing.T) {
	big, small := bigELF(t), smallELF(t)
	type row struct {
		name string
		c    Compression
		h    header
		data []byte // the ELF
		pay  []byte // its payload
	}
	rows := []row{
		{"none", None, linuxHeader, small, small},
		{"gzip", Gzip, linuxHeader, big, gzipped(t, big)},
		{"gzip/size appended", Gzip, linuxHeader, big, sizeAppend(gzipped(t, big), big)},
		{"xz", XZ, linuxHeader, big, xzed(t, big, xz.WriterConfig{})},
		{"xz/crc32, size appended", XZ, linuxHeader, big,
			sizeAppend(xzed(t, big, xz.WriterConfig{CheckSum: xz.CRC32}), big)},
		{"xz/sha256, blocks of 16 KiB", XZ, linuxHeader, big,
			xzed(t, big, xz.WriterConfig{CheckSum: xz.SHA256, BlockSize: 16 << 10})},
		{"xz/no check", XZ, linuxHeader, small, xzed(t, small, xz.WriterConfig{NoCheckSum: true})},
		{"lzma/EOS marker, size appended", LZMA, linuxHeader, big,
			sizeAppend(lzmaed(t, big, lzma.WriterConfig{EOSMarker: true}), big)},
		{"lzma/size in header", LZMA, linuxHeader, big, lzmaed(t, big, lzma.WriterConfig{SizeInHeader: true, Size: int64(len(big))})},
		{"zstd", Zstd, linuxHeader, big, zstded(t, big)},
		{"zstd/streamed, no content size", Zstd, linuxHeader, big, zstdStreamed(t, big)},
		{"zstd/checksum, size appended", Zstd, linuxHeader, big,
			sizeAppend(zstded(t, big, zstd.WithEncoderCRC(true)), big)},
		{"zstd/two frames and a skippable one", Zstd, linuxHeader, big, bytes.Join([][]byte{
			zstded(t, big[:1000]),
			{0x5a, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'a', 'b', 'c'},
			zstded(t, big[1000:], zstd.WithEncoderCRC(false)),
			{1, 2, 3, 4},
		}, nil)},
		{"lz4", LZ4, linuxHeader, big, lz4ed(t, big)},
		{"lz4/size appended", LZ4, linuxHeader, big, sizeAppend(lz4ed(t, big), big)},
		{"setup_sects 0 is 4", Gzip, header{setupSects: 0, version: 0x0208, offset: 0x100}, small, gzipped(t, small)},
		{"payload_offset 0", Gzip, header{setupSects: 1, version: 0x0208}, small, gzipped(t, small)},
	}
	skips := map[string]string{} // rows that cannot run here, and why
	for i, r := range linuxRecipes {
		pay, skip := linuxFixture(t, i)
		name := "linux " + r.c.String()
		rows = append(rows, row{name, r.c, linuxHeader, big, pay})
		if skip != "" {
			skips[name] = skip
		}
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			if why, ok := skips[r.name]; ok {
				t.Skip(why)
			}
			img := bzImage(r.h, r.pay)
			if !Is(img) {
				t.Errorf("Is = false, want true")
			}
			got, c, err := Extract(img, int64(len(r.data)))
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if c != r.c {
				t.Errorf("compression %v, want %v", c, r.c)
			}
			if !bytes.Equal(got, r.data) {
				t.Errorf("got %d bytes, not the %d-byte ELF", len(got), len(r.data))
			}
			// One byte less than the ELF's size is over the limit.
			if _, c, err := Extract(img, int64(len(r.data))-1); err == nil ||
				!strings.Contains(err.Error(), fmt.Sprintf("the limit of %d bytes", len(r.data)-1)) || c != r.c {
				t.Errorf("Extract with limit %d: %v, %v; want an error over the limit", len(r.data)-1, c, err)
			}
		})
	}
}

// TestExtractNoAlias checks that the ELF returned is a copy.
func TestExtractNoAlias(t *testing.T) {
	small := smallELF(t)
	img := bzImage(linuxHeader, small)
	got, _, err := Extract(img, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	got[0] = 0
	if !bytes.Equal(img[(27+1)*512+0x3b4:][:len(small)], small) {
		t.Error("writing to the result changed the image")
	}
}

func TestExtractErrors(t *testing.T) {
	big, small := bigELF(t), smallELF(t)
	script := []byte("#!/bin/sh\necho this is no kernel\n")
	garbage := make([]byte, 4096)
	rand.NewChaCha8([32]byte{3}).Read(garbage)
	cut := func(b []byte) []byte { return b[:len(b)/2] }
	// flip changes one byte in the middle of a compressed stream.
	flip := func(b []byte) []byte {
		b = bytes.Clone(b)
		b[len(b)/2] ^= 0x55
		return b
	}
	bz, bzSkip := linuxFixture(t, 1)
	xzLinux, xzSkip := linuxFixture(t, 3)
	// withFixture is the image of f(fixture), or nil when the fixture
	// could not be made (the row skips).
	withFixture := func(fixture []byte, f func([]byte) []byte) []byte {
		if fixture == nil {
			return nil
		}
		return bzImage(linuxHeader, f(fixture))
	}
	rows := []struct {
		name  string
		img   []byte
		limit int64
		c     Compression // the compression Extract should have recognised
		want  []string    // in the error
	}{
		{"empty", nil, 1 << 20, Unknown, []string{`want the setup header magic "HdrS" at offset 0x202, found `}},
		{"zeros", make([]byte, 4096), 1 << 20, Unknown, []string{`"HdrS"`, "found 00 00 00 00"}},
		{"an ELF", big, 1 << 20, Unknown, []string{`"HdrS"`}},
		{"short", bzImage(linuxHeader, small)[:0x204], 1 << 20, Unknown, []string{"found 48 64"}},
		{"header truncated", bzImage(linuxHeader, small)[:0x220], 1 << 20, Unknown,
			[]string{"image of 544 bytes ends inside the setup header (want at least 0x250 bytes)"}},
		{"boot protocol 2.07", bzImage(header{setupSects: 4, version: 0x0207}, gzipped(t, small)), 1 << 20, Unknown,
			[]string{"boot protocol 2.07 is too old: want 2.08 or later"}},
		{"boot protocol 1.00", bzImage(header{setupSects: 4, version: 0x0100}, gzipped(t, small)), 1 << 20, Unknown,
			[]string{"boot protocol 1.00 is too old"}},
		{"payload past the end", bzImage(header{setupSects: 27, version: 0x020f, offset: 0x3b4, lenDelta: 0x10000},
			gzipped(t, small)), 1 << 20, Unknown, []string{"payload [0x3bb4, ", "is beyond the image's", "payload_offset 0x3b4"}},
		{"payload_offset past the end", func() []byte {
			b := bzImage(linuxHeader, gzipped(t, small))
			binary.LittleEndian.PutUint32(b[0x248:], math.MaxUint32)
			return b
		}(), 1 << 20, Unknown, []string{"is beyond the image's", "payload_offset 0xffffffff"}},
		{"payload_length 0", bzImage(header{setupSects: 4, version: 0x0208, lenDelta: -int64(len(small))}, small),
			1 << 20, Unknown, []string{"payload_length is 0"}},
		{"unknown magic", bzImage(linuxHeader, []byte("hello, world")), 1 << 20, Unknown,
			[]string{"unknown payload compression: payload starts 68 65 6c 6c 6f 2c 20 77, want"}},
		{"lzo", bzImage(linuxHeader, []byte("\x89LZO\x00\r\n\x1a\n")), 1 << 20, Unknown,
			[]string{"payload starts 89 4c 5a 4f 00 0d 0a 1a", "lzo is not supported"}},
		{"limit 0", bzImage(linuxHeader, gzipped(t, small)), 0, Unknown, []string{"limit 0: must be positive"}},
		{"zstd content size over the limit", bzImage(linuxHeader, bytes.Join([][]byte{
			zstded(t, small[:500]), zstded(t, small[500:])}, nil)), 1000, Zstd,
			[]string{fmt.Sprintf("zstd payload: frame 1 declares %d bytes of content, more than the limit of 1000 bytes",
				len(small)-500)}},
		{"uncompressed over the limit", bzImage(linuxHeader, small), 100, None,
			[]string{"uncompressed payload of 1620 bytes is over the limit of 100 bytes"}},

		// Payloads that decompress to no ELF.
		{"gzip, not an ELF", bzImage(linuxHeader, gzipped(t, script)), 1 << 20, Gzip,
			[]string{fmt.Sprintf("gzip payload decompressed to %d bytes, not an ELF image: want the ELF magic 7f 45 4c 46, found 23 21 2f 62", len(script))}},
		{"xz, not an ELF", bzImage(linuxHeader, xzed(t, script, xz.WriterConfig{})), 1 << 20, XZ,
			[]string{fmt.Sprintf("xz payload decompressed to %d bytes, not an ELF", len(script)), "not an ELF"}},
		{"zstd, empty", bzImage(linuxHeader, zstded(t, nil)), 1 << 20, Zstd,
			[]string{"zstd payload decompressed to 0 bytes, not an ELF image: want the ELF magic 7f 45 4c 46, found nothing"}},
		{"lz4, not an ELF", bzImage(linuxHeader, lz4ed(t, script)), 1 << 20, LZ4, []string{fmt.Sprintf("lz4 payload decompressed to %d bytes, not an ELF", len(script))}},
		{"lzma, not an ELF", bzImage(linuxHeader, lzmaed(t, script, lzma.WriterConfig{EOSMarker: true})), 1 << 20, LZMA,
			[]string{fmt.Sprintf("lzma payload decompressed to %d bytes, not an ELF", len(script))}},

		// Data after the magic that is no stream of that format.
		{"gzip garbage", bzImage(linuxHeader, append([]byte{0x1f, 0x8b}, garbage...)), 1 << 20, Gzip, []string{"gzip payload: "}},
		{"bzip2 garbage", bzImage(linuxHeader, append([]byte("BZh9"), garbage...)), 1 << 20, Bzip2, []string{"bzip2 payload: "}},
		{"xz garbage", bzImage(linuxHeader, append(bytes.Clone(xzMagic), garbage...)), 1 << 20, XZ,
			[]string{"xz payload: stream header CRC32"}},
		{"lzma garbage", bzImage(linuxHeader, append([]byte{0x5d, 0, 0, 0x80, 0}, garbage...)), 1 << 20, LZMA,
			[]string{"lzma payload: "}},
		{"zstd garbage", bzImage(linuxHeader, append([]byte{0x28, 0xb5, 0x2f, 0xfd}, garbage...)), 1 << 20, Zstd,
			[]string{"zstd payload: "}},
		{"lz4 garbage", bzImage(linuxHeader, append([]byte{0x02, 0x21, 0x4c, 0x18}, garbage...)), 1 << 20, LZ4,
			[]string{"lz4 payload: "}},

		// Streams cut short.
		{"gzip cut", bzImage(linuxHeader, cut(gzipped(t, big))), 1 << 20, Gzip, []string{"gzip payload: after "}},
		{"bzip2 cut", withFixture(bz, cut), 1 << 20, Bzip2, []string{"bzip2 payload: "}},
		{"xz cut", withFixture(xzLinux, cut), 1 << 20, XZ, []string{"xz payload: "}},
		{"lzma cut", bzImage(linuxHeader, cut(lzmaed(t, big, lzma.WriterConfig{EOSMarker: true}))), 1 << 20, LZMA,
			[]string{"lzma payload: "}},
		{"zstd cut", bzImage(linuxHeader, cut(zstded(t, big))), 1 << 20, Zstd, []string{"zstd payload: "}},
		{"lz4 cut", bzImage(linuxHeader, cut(lz4ed(t, big))), 1 << 20, LZ4, []string{"lz4 payload: "}},

		// Streams with a byte changed, in the formats that check their
		// data (lzma and lz4 legacy frames have no checksum).
		{"gzip corrupt", bzImage(linuxHeader, flip(gzipped(t, big))), 1 << 20, Gzip, []string{"gzip payload: "}},
		{"bzip2 corrupt", withFixture(bz, flip), 1 << 20, Bzip2, []string{"bzip2 payload: "}},
		{"xz corrupt", withFixture(xzLinux, flip), 1 << 20, XZ, []string{"xz payload: "}},
		{"zstd corrupt", bzImage(linuxHeader, flip(zstded(t, big, zstd.WithEncoderCRC(true)))), 1 << 20, Zstd,
			[]string{"zstd payload: "}},

		// xz streams this package refuses.
		{"xz, other filter", bzImage(linuxHeader, xzBlockHeader(t, xzed(t, small, xz.WriterConfig{}),
			func(h []byte) []byte { return append([]byte{h[0], h[1] | 1, 0x03, 1, 0}, h[2:]...) })), 1 << 20, XZ,
			[]string{"filter 0x3 (1 bytes of properties) as filter 1 of 2: want the x86 filter (0x04) then LZMA2 (0x21)"}},
		{"xz, index corrupt", bzImage(linuxHeader, func() []byte {
			b := xzed(t, small, xz.WriterConfig{})
			b[len(b)-12-1] ^= 1 // the index's CRC32, before the footer
			return b
		}()), 1 << 20, XZ, []string{"xz payload: after ", "index: CRC32"}},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			if r.img == nil && r.c == Bzip2 {
				t.Skip(bzSkip)
			}
			if r.img == nil && r.c == XZ {
				t.Skip(xzSkip)
			}
			got, c, err := Extract(r.img, r.limit)
			if err == nil {
				t.Fatalf("Extract: %d bytes, no error; want an error", len(got))
			}
			if got != nil {
				t.Errorf("Extract returned %d bytes with its error", len(got))
			}
			if c != r.c {
				t.Errorf("compression %v, want %v", c, r.c)
			}
			for _, w := range r.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not say %q", err, w)
				}
			}
		})
	}
}

// xzBlockHeader returns the xz stream s with its first block header
// replaced by edit's result from the header's size byte, flags and
// fields, padded and with its CRC32 recomputed.
func xzBlockHeader(t testing.TB, s []byte, edit func(fields []byte) []byte) []byte {
	hlen := (int(s[12]) + 1) * 4
	fields := bytes.TrimRight(s[12:12+hlen-4], "\x00")
	h := edit(bytes.Clone(fields))
	for len(h)%4 != 0 {
		h = append(h, 0)
	}
	h[0] = byte(len(h) / 4) // (len(h)+4)/4 - 1: the size with the CRC32, in 4 bytes, less 1
	h = binary.LittleEndian.AppendUint32(h, crc32.ChecksumIEEE(h))
	if (int(h[0])+1)*4 != len(h) {
		t.Fatalf("block header of %d bytes", len(h))
	}
	// The index records the header's size: a different size would no
	// longer match it; the tests only change blocks they want refused.
	return bytes.Join([][]byte{s[:12], h, s[12+hlen:]}, nil)
}

// TestDictClamp checks that a dictionary or window size that a header
// declares far beyond what the payload decompresses to is neither refused
// nor allocated.
func TestDictClamp(t *testing.T) {
	small := smallELF(t)
	withDict := func(dict uint32) []byte {
		b := lzmaed(t, small, lzma.WriterConfig{EOSMarker: true, DictCap: 1 << 16})
		binary.LittleEndian.PutUint32(b[1:5], dict)
		return b
	}
	xzDict := func(prop byte) []byte {
		return xzBlockHeader(t, xzed(t, small, xz.WriterConfig{DictCap: 1 << 16}), func(h []byte) []byte {
			// flags, then LZMA2's filter flags: 21 01 <dictionary size>
			if i := bytes.Index(h, []byte{0x21, 0x01}); i >= 0 {
				h[i+2] = prop
			}
			return h
		})
	}
	zstdWindowed := func(desc byte) []byte {
		b := zstdStreamed(t, small, zstd.WithWindowSize(1<<16), zstd.WithSingleSegment(false))
		if b[4]&0x20 != 0 {
			t.Fatalf("frame header descriptor %#x: single segment, no window descriptor", b[4])
		}
		b[5] = desc
		return b
	}
	for _, r := range []struct {
		name string
		pay  []byte
	}{
		// The low byte stays 0, as lzma's magic 5d 00 wants.
		{"lzma 2 GiB - 256", withDict(0x7fffff00)},
		{"lzma 4 GiB - 256", withDict(0xffffff00)},
		{"xz 4 GiB - 1", xzDict(40)},
		{"xz 3 GiB", xzDict(39)},
		// The window descriptor follows the magic and the frame header
		// descriptor: exponent<<3 | mantissa, for 2^(10+exponent) bytes.
		{"zstd 2 TiB", zstdWindowed(31 << 3)},
		{"zstd 384 MiB", zstdWindowed(18<<3 | 4)},
	} {
		t.Run(r.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			got, _, err := Extract(bzImage(linuxHeader, r.pay), 1<<20)
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if !bytes.Equal(got, small) {
				t.Errorf("got %d bytes, not the ELF", len(got))
			}
			if a := after.TotalAlloc - before.TotalAlloc; a > 64<<20 {
				t.Errorf("Extract allocated %d MiB for a %d-byte ELF", a>>20, len(small))
			}
		})
	}
}

// TestOverLimitFarMatch checks that a stream that goes over the limit is
// refused as such when the dictionary or window was cut to the limit and
// the decoder, running ahead, meets a match farther back than that: the data
// repeats 100 KiB of random bytes, and the limits fall before, inside
// and after the repeat.
func TestOverLimitFarMatch(t *testing.T) {
	r := make([]byte, 100<<10)
	rand.NewChaCha8([32]byte{9}).Read(r)
	data := bytes.Join([][]byte{elfMagic, r, r}, nil)
	for _, p := range []struct {
		c   Compression
		pay []byte
	}{
		{LZMA, lzmaed(t, data, lzma.WriterConfig{EOSMarker: true, DictCap: 1 << 20})},
		{XZ, xzed(t, data, xz.WriterConfig{DictCap: 1 << 20})},
		{Zstd, zstdStreamed(t, data, zstd.WithWindowSize(1<<20))},
	} {
		img := bzImage(linuxHeader, p.pay)
		for limit := int64(10 << 10); limit < int64(len(data)); limit += 10 << 10 {
			_, c, err := Extract(img, limit)
			if err == nil || c != p.c || !strings.Contains(err.Error(), "more than the limit") {
				t.Errorf("%v, limit %d: %v, %v; want an error saying the data goes over the limit", p.c, limit, c, err)
			}
		}
		if got, _, err := Extract(img, int64(len(data))); err != nil || !bytes.Equal(got, data) {
			t.Errorf("%v, limit %d: %d bytes, %v; want the %d bytes", p.c, len(data), len(got), err, len(data))
		}
	}
}

// TestSeedCorpus checks that the committed fuzz seeds made by Linux's
// recipes are bzImages of smallELF, so that the fuzzer starts from
// payloads that decompress.
func TestSeedCorpus(t *testing.T) {
	small := smallELF(t)
	for _, r := range linuxRecipes {
		name := "linux-" + r.c.String()
		s, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzExtract", name))
		if err != nil {
			t.Fatal(err)
		}
		q, ok := strings.CutPrefix(string(s), "go test fuzz v1\n[]byte(")
		q, ok2 := strings.CutSuffix(q, ")\n")
		b, err := strconv.Unquote(q)
		if !ok || !ok2 || err != nil {
			t.Fatalf("%s: not one []byte in the fuzz corpus format (%v)", name, err)
		}
		got, c, err := Extract([]byte(b), 1<<20)
		if err != nil || c != r.c || !bytes.Equal(got, small) {
			t.Errorf("%s: %d bytes, %v, %v; want smallELF's %d bytes, %v", name, len(got), c, err, len(small), r.c)
		}
	}
}

func TestIs(t *testing.T) {
	small := smallELF(t)
	for _, r := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"2.08", bzImage(header{version: 0x0208}, small), true},
		{"2.15", bzImage(header{version: 0x020f}, small), true},
		{"3.00", bzImage(header{version: 0x0300}, small), true},
		{"2.07", bzImage(header{version: 0x0207}, small), false},
		{"no HdrS", bzImage(header{version: 0x020f}, small)[:0x202], false},
		{"version cut off", bzImage(header{version: 0x020f}, small)[:0x207], false},
		{"just the fields", bzImage(header{version: 0x020f}, small)[:0x208], true},
		{"hdrs", bytes.Replace(bzImage(header{version: 0x020f}, small), []byte("HdrS"), []byte("hdrs"), 1), false},
		{"nil", nil, false},
	} {
		if got := Is(r.b); got != r.want {
			t.Errorf("%s: Is = %v, want %v", r.name, got, r.want)
		}
	}
}

func TestCompressionString(t *testing.T) {
	want := map[Compression]string{
		Unknown: "unknown", None: "uncompressed", Gzip: "gzip", Bzip2: "bzip2", XZ: "xz",
		LZMA: "lzma", Zstd: "zstd", LZ4: "lz4", -1: "Compression(-1)", 99: "Compression(99)",
	}
	for c, w := range want {
		if got := c.String(); got != w {
			t.Errorf("Compression(%d).String() = %q, want %q", int(c), got, w)
		}
	}
}

// TestUnfilterX86 checks the x86 filter's inverse on its corner cases
// against what xz --x86 made: runs of E8/E9 bytes with near and far
// operands, at every offset, with the filter's start offset 0 and 4096.
func TestUnfilterX86(t *testing.T) {
	data := x86Cases()
	for _, r := range []struct{ file, filter string }{
		{"x86.xz", "--x86"},
		{"x86-start.xz", "--x86=start=4096"},
	} {
		t.Run(r.file, func(t *testing.T) {
			path := filepath.Join("testdata", r.file)
			if *update {
				cmd := exec.Command("xz", "--format=xz", "--check=crc32", r.filter, "--lzma2=preset=0")
				cmd.Stdin = bytes.NewReader(data)
				cmd.Stderr = os.Stderr
				b, err := cmd.Output()
				if err == nil {
					err = os.WriteFile(path, b, 0o644)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			r, err := newXZReader(b, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if _, err := got.ReadFrom(r); err != nil {
				t.Fatal(err)
			}
			g := got.Bytes()
			for i := range data {
				if i >= len(g) || g[i] != data[i] {
					t.Fatalf("differs from byte %d: got % x, want % x", i, head(tail(g, i), 8), head(data[i:], 8))
				}
			}
			if len(g) != len(data) {
				t.Fatalf("got %d bytes, want %d", len(g), len(data))
			}
		})
	}
}

// x86Cases returns every sequence of up to 4 bytes from {E8, E9, 00, FF,
// 12} followed by a near positive, a near negative and a far operand,
// each at 4 offsets.
func x86Cases() []byte {
	alphabet := []byte{0xe8, 0xe9, 0x00, 0xff, 0x12}
	var b []byte
	var gen func(prefix []byte)
	gen = func(prefix []byte) {
		for pad := range 4 {
			for _, operand := range [][]byte{{0x10, 0x20, 0x00, 0x00}, {0xf0, 0xff, 0xff, 0xff}, {0x34, 0x00, 0xff, 0x56}} {
				b = append(b, prefix...)
				b = append(b, operand...)
				b = append(b, make([]byte, pad+6)...)
			}
		}
		if len(prefix) < 4 {
			for _, a := range alphabet {
				gen(append(bytes.Clone(prefix), a))
			}
		}
	}
	gen(nil)
	return b
}

func FuzzExtract(f *testing.F) {
	const limit = 1 << 20
	if *update {
		writeSeeds(f)
	}
	f.Add(bzImage(linuxHeader, gzipped(f, smallELF(f))))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, c, err := Extract(b, limit)
		if err != nil {
			if got != nil {
				t.Errorf("%d bytes returned with the error %v", len(got), err)
			}
			return
		}
		if len(got) > limit || !bytes.HasPrefix(got, elfMagic) || c == Unknown || !Is(b) {
			t.Errorf("Extract = %d bytes starting % x, %v, and Is = %v; want at most %d bytes of ELF "+
				"with a known compression, from a bzImage", len(got), head(got, 4), c, Is(b), limit)
		}
	})
}

// writeSeeds rewrites the committed seed corpus: smallELF in a small
// bzImage compressed by each of Linux's recipes, and two headers Extract
// refuses.
func writeSeeds(f *testing.F) {
	dir := filepath.Join("testdata", "fuzz", "FuzzExtract")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.Fatal(err)
	}
	small := smallELF(f)
	h := header{setupSects: 1, version: 0x020f, offset: 16}
	seeds := map[string][]byte{
		"uncompressed": bzImage(h, small),
		"old-protocol": bzImage(header{setupSects: 1, version: 0x0207, offset: 16}, gzipped(f, small)),
	}
	for i, r := range linuxRecipes {
		seeds["linux-"+r.c.String()] = bzImage(h, linuxCompress(f, i, small))
	}
	for name, b := range seeds {
		s := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			f.Fatal(err)
		}
	}
}
