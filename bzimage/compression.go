package bzimage

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz/lzma"
)

// Compression is the format a bzImage's payload is stored in.
type Compression int

// The payload formats Extract recognises. Each is told by the magic the
// payload starts with.
const (
	Unknown Compression = iota // not recognised
	None                       // an uncompressed ELF image: 7f 45 4c 46
	Gzip                       // gzip (RFC 1952): 1f 8b
	Bzip2                      // bzip2: "BZh"
	XZ                         // xz: fd 37 7a 58 5a 00
	LZMA                       // legacy .lzma ("LZMA alone"): properties byte 5d, then 00
	Zstd                       // Zstandard (RFC 8878): 28 b5 2f fd
	LZ4                        // LZ4 legacy frame, as lz4 -l writes it: 02 21 4c 18
)

var compressionNames = [...]string{
	Unknown: "unknown",
	None:    "uncompressed",
	Gzip:    "gzip",
	Bzip2:   "bzip2",
	XZ:      "xz",
	LZMA:    "lzma",
	Zstd:    "zstd",
	LZ4:     "lz4",
}

// String returns the format's usual lower-case name, as Linux's
// CONFIG_KERNEL_* options spell it.
func (c Compression) String() string {
	if c >= 0 && int(c) < len(compressionNames) {
		return compressionNames[c]
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// magics are the leading bytes of each format. LZMA's is the properties
// byte of lc=3, lp=0, pb=2 (what every lzma encoder writes by default)
// and the low byte of a dictionary size that is a multiple of 256, as the
// Linux boot decompressor tells it.
var magics = []struct {
	c     Compression
	magic []byte
}{
	{Gzip, []byte{0x1f, 0x8b}},
	{XZ, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
	{LZMA, []byte{0x5d, 0x00}},
	{Bzip2, []byte("BZh")},
	{Zstd, []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{LZ4, []byte{0x02, 0x21, 0x4c, 0x18}},
	{None, elfMagic},
}

// detect returns the compression whose magic p starts with.
func detect(p []byte) (Compression, bool) {
	for _, m := range magics {
		if bytes.HasPrefix(p, m.magic) {
			return m.c, true
		}
	}
	return Unknown, false
}

// lzoNote names LZO, which Linux and Xen know and this package does not,
// when p starts with lzop's magic.
func lzoNote(p []byte) string {
	if bytes.HasPrefix(p, []byte{0x89, 'L', 'Z', 'O', 0x00}) {
		return " (this is lzo's magic: lzo is not supported)"
	}
	return ""
}

// open returns a reader of the decompressed stream at the start of p, and
// a function to call when done with it. c must not be None or Unknown.
func open(c Compression, p []byte, limit int64) (io.Reader, func(), error) {
	nop := func() {}
	switch c {
	case Gzip:
		r, err := gzip.NewReader(bytes.NewReader(p))
		if err != nil {
			return nil, nil, err
		}
		r.Multistream(false) // stop at the end of the first member
		return r, nop, nil
	case Bzip2:
		return bzip2.NewReader(bytes.NewReader(p[:bzip2End(p)])), nop, nil
	case XZ:
		r, err := newXZReader(p, limit)
		if err != nil {
			return nil, nil, err
		}
		return r, nop, nil
	case LZMA:
		q, cut, declared := lzmaClampDict(p, limit)
		r, err := lzma.NewReader(bytes.NewReader(q))
		if err != nil {
			return nil, nil, err
		}
		if cut != declared {
			return &cutReader{r, "dictionary", cut, declared}, nop, nil
		}
		return r, nop, nil
	case Zstd:
		q, cut, declared, err := zstdClampWindow(p, limit)
		if err != nil {
			return nil, nil, err
		}
		d, err := zstd.NewReader(bytes.NewReader(q), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, nil, err
		}
		if cut != declared {
			return &cutReader{d, "window", cut, declared}, d.Close, nil
		}
		return d, d.Close, nil
	case LZ4:
		// The library's legacy-frame reader stops at the decompressed
		// size Linux appends, as it stops at the end of the input.
		r := lz4.NewReader(bytes.NewReader(p))
		if err := r.Apply(lz4.ConcurrencyOption(1)); err != nil {
			return nil, nil, err
		}
		return r, nop, nil
	}
	return nil, nil, fmt.Errorf("no decompressor for %v", c)
}

// The decoder of bzip2 takes anything after a stream for the start of
// another stream, and zstd's anything after a frame for another frame, so
// the 4 bytes that Linux appends would fail them. bzip2End and zstdEnd
// find where the compressed data ends by the format's own framing; where
// they find no end they return len(p), and the decoder reports what is
// wrong.

// bzip2EOS is the 48-bit end-of-stream magic of bzip2 (the square root of
// pi in BCD). It is followed by the 32-bit stream CRC and by padding to a
// byte boundary; neither it nor the blocks are byte-aligned.
const bzip2EOS = 0x177245385090

// bzip2End returns the end of the last bzip2 stream in p: the byte after
// the last end-of-stream marker and CRC.
func bzip2End(p []byte) int {
	var w [8]byte
	for i := len(p) - 6; i >= 0; i-- {
		copy(w[:], p[i:]) // short at the end: zero-padded
		v := binary.BigEndian.Uint64(w[:])
		for s := 7; s >= 0; s-- { // later bit offsets first
			if (v<<s)>>16 != bzip2EOS {
				continue
			}
			if end := (8*i + s + 48 + 32 + 7) / 8; end <= len(p) {
				return end
			}
		}
	}
	return len(p)
}

// zstdEnd returns the end of the zstd frames (and skippable frames) at the
// start of p, walking each frame's header and block headers.
func zstdEnd(p []byte) int {
	end := 0
	for end < len(p) {
		n, _, ok := zstdFrame(p[end:])
		if !ok {
			break
		}
		end += n
	}
	if end == 0 {
		return len(p)
	}
	return end
}

// zstdHeader is what a zstd frame header says (RFC 8878 §3.1.1.1).
type zstdHeader struct {
	skippable bool
	winAt     int    // offset of the window descriptor, or -1 (single segment)
	window    uint64 // window size, if winAt >= 0
	size      uint64 // frame content size, if sizeKnown
	sizeKnown bool
}

// zstdFrame returns the length of the zstd frame or skippable frame at
// the start of p, and its header, if p holds one whole.
func zstdFrame(p []byte) (int, zstdHeader, bool) {
	var h zstdHeader
	if len(p) >= 8 && p[0]&0xf0 == 0x50 && bytes.Equal(p[1:4], []byte{0x2a, 0x4d, 0x18}) {
		n := 8 + int64(binary.LittleEndian.Uint32(p[4:]))
		h.skippable = true
		return int(n), h, n <= int64(len(p))
	}
	if len(p) < 5 || !bytes.Equal(p[:4], []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		return 0, h, false
	}
	fhd := p[4]
	if fhd&0x08 != 0 { // reserved bit
		return 0, h, false
	}
	o := 5
	h.winAt = -1
	if fhd&0x20 == 0 { // not single segment: a window descriptor
		if o >= len(p) {
			return 0, h, false
		}
		h.winAt = o
		h.window = zstdWindow(p[o])
		o++
	}
	o += [4]int{0, 1, 2, 4}[fhd&3] // dictionary ID
	fcs := [4]int{0, 2, 4, 8}[fhd>>6]
	if fcs == 0 && h.winAt < 0 {
		fcs = 1
	}
	if o+fcs > len(p) {
		return 0, h, false
	}
	if fcs > 0 {
		var b [8]byte
		copy(b[:], p[o:o+fcs])
		h.size, h.sizeKnown = binary.LittleEndian.Uint64(b[:]), true
		if fcs == 2 {
			h.size += 256
		}
	}
	o += fcs
	for {
		if o+3 > len(p) {
			return 0, h, false
		}
		bh := int(p[o]) | int(p[o+1])<<8 | int(p[o+2])<<16
		o += 3
		switch bh >> 1 & 3 {
		case 0, 2: // raw, compressed
			o += bh >> 3
		case 1: // RLE: one byte, repeated
			o++
		default:
			return 0, h, false
		}
		if o > len(p) {
			return 0, h, false
		}
		if bh&1 != 0 { // last block
			break
		}
	}
	if fhd&0x04 != 0 { // content checksum
		o += 4
	}
	return o, h, o <= len(p)
}

// zstdWindow returns the window size that descriptor d stands for.
func zstdWindow(d byte) uint64 {
	base := uint64(1) << (10 + d>>3)
	return base + base/8*uint64(d&7)
}

// zstdClampWindow returns the zstd frames at the start of p (as zstdEnd
// finds them), with the window of each that declares more than limit+1
// bytes cut to the least it can declare above that, and the first such
// window's sizes as cut and declared. The decoder allocates the whole
// window as the frame starts (up to 3.75 TB, by the format; the library
// refuses more than 512 MiB); as with clampDict, a frame within the limit
// never looks back past it. A frame that declares more content than limit
// is refused.
func zstdClampWindow(p []byte, limit int64) (q []byte, cut, declared uint64, err error) {
	need := uint64(min(limit, math.MaxInt64-1) + 1)
	q = p[:zstdEnd(p)]
	copied := false
	for at, i := 0, 0; at < len(q); i++ {
		n, h, ok := zstdFrame(q[at:])
		if !ok {
			break
		}
		if h.sizeKnown && h.size > uint64(limit) {
			return nil, 0, 0, fmt.Errorf("frame %d declares %d bytes of content, more than the limit of %d bytes",
				i, h.size, limit)
		}
		if h.winAt >= 0 && h.window > need {
			d := byte(0)
			for zstdWindow(d) < need {
				d++
			}
			if !copied {
				q, copied = bytes.Clone(q), true
			}
			q[at+h.winAt] = d
			if cut == declared {
				cut, declared = zstdWindow(d), h.window
			}
		}
		at += n
	}
	return q, cut, declared, nil
}

// clampDict returns the dictionary size to decode a stream with, whose
// header declares dict, when at most need bytes will be decoded. LZMA
// and LZMA2 decoders allocate the whole dictionary that a header declares
// (up to 4 GiB, in a few bytes of input); a stream looks back at most as
// far as it has decoded, so a dictionary of need bytes changes no result
// within need.
//
// The decoder runs ahead of its reader by up to the dictionary's size, so
// a stream that decodes to more than need bytes may fail, past need, on
// a distance beyond the cut dictionary before its reader has need bytes:
// cutError says so.
func clampDict(dict uint64, need int64) uint64 {
	if dict <= uint64(need) {
		return dict
	}
	return max(uint64(need), lzma.MinDictCap)
}

// cutError returns err, from decoding with a dictionary or window (what)
// of cut bytes where the header declared declared, saying what it means.
func cutError(err error, what string, cut, declared uint64) error {
	return fmt.Errorf("%w (with the %s cut from the header's %d bytes to %d, all that the limit needs: "+
		"the data is corrupt or decodes to more than the limit)", err, what, declared, cut)
}

// cutReader adds cutError's explanation to the errors of r.
type cutReader struct {
	r             io.Reader
	what          string
	cut, declared uint64
}

func (c *cutReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if err != nil && err != io.EOF {
		err = cutError(err, c.what, c.cut, c.declared)
	}
	return n, err
}

// lzmaClampDict returns p, or a copy of p whose .lzma header declares the
// dictionary clampDict gives for decoding at most limit+1 bytes, and the
// dictionary sizes used and declared.
func lzmaClampDict(p []byte, limit int64) (q []byte, cut, declared uint64) {
	const headerLen = 13 // properties, dictionary size (LE32), size (LE64)
	if len(p) < headerLen {
		return p, 0, 0
	}
	declared = uint64(binary.LittleEndian.Uint32(p[1:5]))
	cut = clampDict(declared, min(limit, math.MaxInt64-1)+1)
	if cut == declared {
		return p, cut, declared
	}
	q = bytes.Clone(p)
	binary.LittleEndian.PutUint32(q[1:5], uint32(cut))
	return q, cut, declared
}
