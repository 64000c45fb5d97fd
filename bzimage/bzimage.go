// Package bzimage turns a Linux x86 bzImage into the ELF kernel inside it,
// as Xen's PV domain builder does before it loads a kernel.
//
// It owns the part of the boot protocol that a PV loader reads: the setup
// header's "HdrS" magic and version (2.08 or later, the first with the
// payload fields), the start of the protected-mode code at
// (setup_sects+1)*512, the compressed payload that payload_offset and
// payload_length place there, the recognition of that payload's
// compression by its magic, and its decompression under a size limit. It
// neither runs nor interprets the real-mode setup code, and it does not
// parse the ELF it returns (debug/elf or the domain builder does that).
//
// The header offsets and magics are those of the Linux boot protocol
// (Documentation/arch/x86/boot.rst) and of each compression format's own
// specification.
package bzimage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Setup header fields, as offsets into the image (Linux boot protocol).
const (
	offSetupSects    = 0x1f1 // u8: 512-byte setup sectors after the boot sector; 0 means 4
	offHeaderMagic   = 0x202 // "HdrS"
	offVersion       = 0x206 // u16: boot protocol version, major<<8 | minor
	offPayloadOffset = 0x248 // u32: payload, from the protected-mode code (2.08+)
	offPayloadLength = 0x24c // u32: its length in bytes (2.08+)
	headerEnd        = 0x250 // the setup header fields read here end before this

	sectorSize        = 512
	defaultSetupSects = 4      // what setup_sects 0 stands for
	minVersion        = 0x0208 // the first version with payload_offset and payload_length
)

var (
	headerMagic = []byte("HdrS")
	elfMagic    = []byte("\x7fELF")
)

// Is reports whether b is a bzImage that Extract can take apart: it has the
// setup header magic "HdrS" at offset 0x202 and a boot protocol version of
// 2.08 or later at 0x206. It checks nothing else; Extract may still refuse
// b.
func Is(b []byte) bool {
	return len(b) >= offVersion+2 &&
		bytes.Equal(b[offHeaderMagic:offHeaderMagic+4], headerMagic) &&
		binary.LittleEndian.Uint16(b[offVersion:]) >= minVersion
}

// Extract returns the kernel ELF image inside the bzImage b, and the
// compression its payload was stored with.
//
// Extract reads the setup header, finds the payload at payload_offset
// bytes from the protected-mode code, recognises its compression by its
// leading magic, decompresses one compressed stream from the start of the
// payload, and checks that the result begins with the ELF magic. Bytes
// after the end of that stream are ignored: Linux's build appends the
// decompressed size to the payload as 4 bytes. A payload that is itself an
// ELF image (Linux's CONFIG_KERNEL_UNCOMPRESSED) is returned as it is, with
// compression None.
//
// limit must be positive: it bounds the decompressed size, and a payload
// that decompresses to more than limit bytes is refused once limit+1 bytes
// have been produced, so a small payload cannot make Extract produce
// unbounded output. It bounds the decoders' memory too: an lzma or xz
// dictionary or a zstd window that a header declares larger than limit+1
// bytes is cut to that (which changes no result within limit), and a zstd
// frame that declares more content than limit is refused before decoding.
// The returned slice never aliases b.
//
// On error, elf is nil and c is the payload's compression if Extract got
// as far as recognising it, else Unknown. Every error says what was
// expected and what was found.
func Extract(b []byte, limit int64) (elf []byte, c Compression, err error) {
	if limit <= 0 {
		return nil, Unknown, fmt.Errorf("bzimage: limit %d: must be positive", limit)
	}
	p, err := payload(b)
	if err != nil {
		return nil, Unknown, err
	}
	c, ok := detect(p)
	if !ok {
		return nil, Unknown, fmt.Errorf("bzimage: unknown payload compression: payload starts %s, "+
			"want the magic of gzip (1f 8b), xz (fd 37 7a 58 5a 00), lzma (5d 00), bzip2 (42 5a 68), "+
			"zstd (28 b5 2f fd), lz4 legacy (02 21 4c 18) or an uncompressed ELF (7f 45 4c 46)%s",
			show(head(p, 8)), lzoNote(p))
	}
	out, err := decompress(c, p, limit)
	if err != nil {
		return nil, c, err
	}
	if !bytes.HasPrefix(out, elfMagic) {
		return nil, c, fmt.Errorf("bzimage: %s payload decompressed to %d bytes, not an ELF image: "+
			"want the ELF magic % x, found %s", c, len(out), elfMagic, show(head(out, 4)))
	}
	return out, c, nil
}

// payload returns the part of b that the setup header names as the
// compressed kernel, after checking the header.
func payload(b []byte) ([]byte, error) {
	if len(b) < offHeaderMagic+4 || !bytes.Equal(b[offHeaderMagic:offHeaderMagic+4], headerMagic) {
		return nil, fmt.Errorf("bzimage: not a bzImage: want the setup header magic %q at offset %#x, found %s",
			headerMagic, offHeaderMagic, show(head(tail(b, offHeaderMagic), 4)))
	}
	if len(b) < offVersion+2 {
		return nil, fmt.Errorf("bzimage: image of %d bytes ends inside the setup header (want at least %#x bytes)",
			len(b), headerEnd)
	}
	if v := binary.LittleEndian.Uint16(b[offVersion:]); v < minVersion {
		return nil, fmt.Errorf("bzimage: boot protocol %d.%02d is too old: want 2.08 or later, "+
			"the first with payload_offset and payload_length", v>>8, v&0xff)
	}
	if len(b) < headerEnd {
		return nil, fmt.Errorf("bzimage: image of %d bytes ends inside the setup header (want at least %#x bytes)",
			len(b), headerEnd)
	}
	sects := uint64(b[offSetupSects])
	if sects == 0 {
		sects = defaultSetupSects
	}
	pm := (sects + 1) * sectorSize
	off := uint64(binary.LittleEndian.Uint32(b[offPayloadOffset:]))
	n := uint64(binary.LittleEndian.Uint32(b[offPayloadLength:]))
	start, end := pm+off, pm+off+n // at most 2^17 + 2^33: no overflow
	if n == 0 {
		return nil, fmt.Errorf("bzimage: payload_length is 0: no kernel in the image")
	}
	if end > uint64(len(b)) {
		return nil, fmt.Errorf("bzimage: payload [%#x, %#x) is beyond the image's %#x bytes "+
			"(setup_sects %d: protected-mode code at %#x; payload_offset %#x, payload_length %#x)",
			start, end, len(b), b[offSetupSects], pm, off, n)
	}
	return b[start:end], nil
}

// decompress returns the decompressed payload p, of at most limit bytes.
func decompress(c Compression, p []byte, limit int64) ([]byte, error) {
	if c == None {
		if int64(len(p)) > limit {
			return nil, fmt.Errorf("bzimage: uncompressed payload of %d bytes is over the limit of %d bytes",
				len(p), limit)
		}
		return bytes.Clone(p), nil
	}
	r, done, err := open(c, p, limit)
	if err != nil {
		return nil, fmt.Errorf("bzimage: %s payload: %w", c, err)
	}
	defer done()
	n := limit
	if n < math.MaxInt64 {
		n++ // one byte more than allowed tells an over-limit payload apart
	}
	out, err := io.ReadAll(&io.LimitedReader{R: r, N: n})
	if int64(len(out)) > limit {
		return nil, fmt.Errorf("bzimage: %s payload decompresses to more than the limit of %d bytes", c, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("bzimage: %s payload: after %d decompressed bytes: %w", c, len(out), err)
	}
	return out, nil
}

// show formats b for an error: its bytes in hex, or "nothing".
func show(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	return fmt.Sprintf("% x", b)
}

// head returns at most the first n bytes of b.
func head(b []byte, n int) []byte { return b[:min(n, len(b))] }

// tail returns b from off on, or nothing if b is shorter.
func tail(b []byte, off int) []byte {
	if off > len(b) {
		return nil
	}
	return b[off:]
}
