package bzimage

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"math"
	"math/bits"

	"github.com/ulikunitz/xz/lzma"
)

// Linux compresses an x86 kernel with xz's x86 branch filter (BCJ) in
// front of LZMA2 (scripts/xz_wrap.sh: xz --x86 --lzma2), which the xz
// package's reader does not take: it reads streams whose one filter is
// LZMA2. So xzReader reads the xz container itself (the .xz file format,
// version 1.x: stream header, blocks, index, stream footer), decodes each
// block's LZMA2 data with the lzma package, and undoes the x86 filter
// here. It reads the first stream only; what follows it is ignored, as
// for every format here.

const (
	xzFilterX86   = 0x04
	xzFilterLZMA2 = 0x21
)

var (
	xzMagic       = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	xzFooterMagic = []byte("YZ")
	crc64Table    = crc64.MakeTable(crc64.ECMA)
)

// xzRecord is one block's entry in the stream's index.
type xzRecord struct{ unpadded, uncompressed uint64 }

// xzReader reads the decompressed data of the xz stream at the start of a
// payload, one block at a time, checking each block's check and, at the
// end, the index and the stream footer.
type xzReader struct {
	r       *bytes.Reader
	flags   [2]byte // stream flags: 0, check type
	budget  int64   // bytes it may still produce; it stops past this
	out     []byte  // decoded, not yet read
	records []xzRecord
	err     error // sticky: io.EOF after the stream footer
}

// newXZReader reads the stream header at the start of p.
func newXZReader(p []byte, limit int64) (*xzReader, error) {
	const headerLen = 12
	if len(p) < headerLen {
		return nil, fmt.Errorf("stream header truncated: %d bytes, want %d", len(p), headerLen)
	}
	if !bytes.Equal(p[:6], xzMagic) {
		return nil, fmt.Errorf("stream header magic % x, want % x", p[:6], xzMagic)
	}
	if got, want := binary.LittleEndian.Uint32(p[8:]), crc32.ChecksumIEEE(p[6:8]); got != want {
		return nil, fmt.Errorf("stream header CRC32 %#08x, want %#08x", got, want)
	}
	if p[6] != 0 || p[7]&0xf0 != 0 {
		return nil, fmt.Errorf("stream flags % x: reserved bits set", p[6:8])
	}
	if _, err := xzCheckSize(p[7]); err != nil {
		return nil, err
	}
	x := &xzReader{r: bytes.NewReader(p[headerLen:]), flags: [2]byte{p[6], p[7]}, budget: limit}
	if limit < math.MaxInt64 {
		x.budget++ // produce one byte past the limit, for the caller to see
	}
	return x, nil
}

// Read implements io.Reader.
func (x *xzReader) Read(b []byte) (int, error) {
	for len(x.out) == 0 {
		if x.err != nil {
			return 0, x.err
		}
		if x.budget <= 0 {
			x.err = errors.New("output limit reached")
			return 0, x.err
		}
		x.err = x.next()
	}
	n := copy(b, x.out)
	x.out = x.out[n:]
	return n, nil
}

// next decodes the next block into x.out, or reads the index and the
// stream footer and returns io.EOF.
func (x *xzReader) next() error {
	size, err := x.r.ReadByte()
	if err != nil {
		return fmt.Errorf("block %d: %w", len(x.records), io.ErrUnexpectedEOF)
	}
	if size == 0 {
		if err := x.index(); err != nil {
			return fmt.Errorf("index: %w", err)
		}
		return io.EOF
	}
	if err := x.block(size); err != nil {
		return fmt.Errorf("block %d: %w", len(x.records), err)
	}
	return nil
}

// block decodes the block whose header starts with size (already read).
func (x *xzReader) block(size byte) error {
	hlen := (int(size) + 1) * 4
	h := make([]byte, hlen)
	h[0] = size
	if _, err := io.ReadFull(x.r, h[1:]); err != nil {
		return fmt.Errorf("header: %w", io.ErrUnexpectedEOF)
	}
	if got, want := binary.LittleEndian.Uint32(h[hlen-4:]), crc32.ChecksumIEEE(h[:hlen-4]); got != want {
		return fmt.Errorf("header CRC32 %#08x, want %#08x", got, want)
	}
	flags := h[1]
	if flags&0x3c != 0 {
		return fmt.Errorf("header flags %#02x: reserved bits set", flags)
	}
	hr := bytes.NewReader(h[2 : hlen-4])
	var compressed, uncompressed uint64
	var err error
	hasCompressed, hasUncompressed := flags&0x40 != 0, flags&0x80 != 0
	if hasCompressed {
		if compressed, err = xzVarint(hr); err != nil || compressed == 0 {
			return fmt.Errorf("header: bad compressed size")
		}
	}
	if hasUncompressed {
		if uncompressed, err = xzVarint(hr); err != nil {
			return fmt.Errorf("header: bad uncompressed size")
		}
	}
	x86, x86Start, dict, err := xzFilters(hr, int(flags&3)+1)
	if err != nil {
		return err
	}
	for hr.Len() > 0 {
		if b, _ := hr.ReadByte(); b != 0 {
			return errors.New("header padding is not zero")
		}
	}

	// Each block starts with an empty dictionary, allocated whole.
	before := x.r.Len()
	cut := clampDict(dict, x.budget)
	lr, err := lzma.Reader2Config{DictCap: int(cut)}.NewReader2(x.r)
	if err != nil {
		return fmt.Errorf("LZMA2: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(lr, x.budget))
	x.budget -= int64(len(out))
	if x.budget <= 0 {
		x.out = out // the caller stops here; nothing after is checked
		return nil
	}
	if err != nil {
		if cut != dict {
			err = cutError(err, "dictionary", cut, dict)
		}
		return fmt.Errorf("LZMA2 data, %d bytes into the block: %w", len(out), err)
	}
	used := uint64(before - x.r.Len())
	if hasCompressed && used != compressed {
		return fmt.Errorf("compressed size %d, header says %d", used, compressed)
	}
	if hasUncompressed && uint64(len(out)) != uncompressed {
		return fmt.Errorf("uncompressed size %d, header says %d", len(out), uncompressed)
	}
	if x86 {
		unfilterX86(out, x86Start)
	}
	for pad := (4 - (uint64(hlen)+used)%4) % 4; pad > 0; pad-- {
		if b, err := x.r.ReadByte(); err != nil || b != 0 {
			return errors.New("block padding missing or not zero")
		}
	}
	checkLen, _ := xzCheckSize(x.flags[1])
	check := make([]byte, checkLen)
	if _, err := io.ReadFull(x.r, check); err != nil {
		return fmt.Errorf("check: %w", io.ErrUnexpectedEOF)
	}
	if want := xzCheck(x.flags[1], out); !bytes.Equal(check, want) {
		return fmt.Errorf("check % x, want % x (the data is corrupt)", check, want)
	}
	x.records = append(x.records, xzRecord{uint64(hlen) + used + uint64(checkLen), uint64(len(out))})
	x.out = out
	return nil
}

// xzFilters reads a block's n filter flags: the chain must be LZMA2,
// optionally after the x86 filter. It returns whether the x86 filter is
// there, its start offset, and the LZMA2 dictionary size.
func xzFilters(hr *bytes.Reader, n int) (x86 bool, x86Start uint32, dict uint64, err error) {
	for i := range n {
		id, err1 := xzVarint(hr)
		psize, err2 := xzVarint(hr)
		if err1 != nil || err2 != nil || psize > uint64(hr.Len()) {
			return false, 0, 0, errors.New("header: filter flags truncated")
		}
		props := make([]byte, psize)
		hr.Read(props)
		last := i == n-1
		switch {
		case id == xzFilterX86 && !last && !x86 && (psize == 0 || psize == 4):
			x86 = true
			if psize == 4 {
				x86Start = binary.LittleEndian.Uint32(props)
			}
		case id == xzFilterLZMA2 && last && psize == 1:
			d := props[0]
			if d > 40 {
				return false, 0, 0, fmt.Errorf("LZMA2 dictionary size %d out of range (want 0 to 40)", d)
			}
			if d == 40 {
				dict = math.MaxUint32
			} else {
				dict = uint64(2|d&1) << (d/2 + 11)
			}
		default:
			return false, 0, 0, fmt.Errorf("filter %#x (%d bytes of properties) as filter %d of %d: "+
				"want the x86 filter (0x04) then LZMA2 (0x21), or LZMA2 alone", id, psize, i+1, n)
		}
	}
	return x86, x86Start, dict, nil
}

// index reads the index, whose indicator byte was read, and the stream
// footer, and checks them against the blocks read.
func (x *xzReader) index() error {
	start := x.r.Len() + 1 // counting the indicator
	crc := crc32.NewIEEE()
	tr := io.TeeReader(x.r, crc)
	crc.Write([]byte{0})
	br := lzma.ByteReader(tr)
	n, err := xzVarint(br)
	if err != nil {
		return err
	}
	if n != uint64(len(x.records)) {
		return fmt.Errorf("%d records, want one for each of the %d blocks", n, len(x.records))
	}
	for i, rec := range x.records {
		u, err1 := xzVarint(br)
		c, err2 := xzVarint(br)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("record %d truncated", i)
		}
		if got := (xzRecord{u, c}); got != rec {
			return fmt.Errorf("record %d is %+v, the block was %+v", i, got, rec)
		}
	}
	for (start-x.r.Len())%4 != 0 {
		if b, err := br.ReadByte(); err != nil || b != 0 {
			return errors.New("padding missing or not zero")
		}
	}
	want := crc.Sum32()
	var f [4 + 12]byte // index CRC32, then the stream footer
	if _, err := io.ReadFull(x.r, f[:]); err != nil {
		return fmt.Errorf("CRC32 and stream footer: %w", io.ErrUnexpectedEOF)
	}
	if got := binary.LittleEndian.Uint32(f[:4]); got != want {
		return fmt.Errorf("CRC32 %#08x, want %#08x", got, want)
	}
	size := start - x.r.Len() - 12 // the index with its CRC32
	footer := f[4:]
	if got, want := binary.LittleEndian.Uint32(footer), crc32.ChecksumIEEE(footer[4:10]); got != want {
		return fmt.Errorf("stream footer CRC32 %#08x, want %#08x", got, want)
	}
	if got := binary.LittleEndian.Uint32(footer[4:]); (uint64(got)+1)*4 != uint64(size) {
		return fmt.Errorf("stream footer gives an index of %d bytes, it has %d", (uint64(got)+1)*4, size)
	}
	if !bytes.Equal(footer[8:10], x.flags[:]) || !bytes.Equal(footer[10:12], xzFooterMagic) {
		return fmt.Errorf("stream footer ends % x, want % x % x (the header's flags, then \"YZ\")",
			footer[8:12], x.flags, xzFooterMagic)
	}
	return nil
}

// xzVarint reads a multibyte integer of the xz format: up to 9 bytes,
// 7 bits each, least significant first, no needless zero byte.
func xzVarint(r io.ByteReader) (uint64, error) {
	var v uint64
	for i := range 9 {
		b, err := r.ReadByte()
		if err != nil {
			return 0, io.ErrUnexpectedEOF
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			if b == 0 && i > 0 {
				return 0, errors.New("integer with a needless zero byte")
			}
			return v, nil
		}
	}
	return 0, errors.New("integer over 9 bytes")
}

// xzCheckSize returns the size of the check of type t.
func xzCheckSize(t byte) (int, error) {
	switch t {
	case 0x00:
		return 0, nil
	case 0x01:
		return 4, nil // CRC32
	case 0x04:
		return 8, nil // CRC64
	case 0x0a:
		return 32, nil // SHA-256
	}
	return 0, fmt.Errorf("check type %#x: want none (0), CRC32 (1), CRC64 (4) or SHA-256 (10)", t)
}

// xzCheck returns the check of type t over b, as stored.
func xzCheck(t byte, b []byte) []byte {
	var h hash.Hash
	switch t {
	case 0x01:
		h = crc32.NewIEEE()
	case 0x04:
		h = crc64.New(crc64Table)
	case 0x0a:
		h = sha256.New()
	default:
		return nil
	}
	h.Write(b)
	s := h.Sum(nil)
	if t != 0x0a { // CRCs are stored little-endian; Sum is big-endian
		for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
			s[i], s[j] = s[j], s[i]
		}
	}
	return s
}

// unfilterX86 undoes, in place, xz's x86 branch filter on b, a whole
// block whose first byte is at offset start.
//
// The filter made the 32-bit operands of E8 (call rel32) and E9 (jmp
// rel32) opcodes absolute, adding the position of the next instruction,
// when the operand's high byte was 00 or FF (a near target); the
// absolute value keeps bit 24 and is sign-extended from it. To skip
// bytes that only look like opcodes, it passes over an E8/E9 that has
// E8/E9 bytes among the 3 before it whose own operands look near, and
// over an E8/E9 after 2 or more of them there. The last 4 bytes of the
// block are never an opcode with its whole operand, so never converted.
func unfilterX86(b []byte, start uint32) {
	near := func(v byte) bool { return v == 0x00 || v == 0xff }
	var prev uint32 // bit k: an E8/E9 passed over at k+1 bytes back
	last := -4      // where the last E8/E9 was looked at
	for i := 0; i+4 < len(b); i++ {
		if b[i]&0xfe != 0xe8 {
			continue
		}
		d := i - last
		last = i
		if d > 3 {
			prev = 0
		} else if prev = prev << (d - 1) & 7; prev != 0 {
			// The farthest such byte is back bytes back, and its
			// operand's high byte is at i+4-back.
			back := bits.Len32(prev)
			if bits.OnesCount32(prev) > 1 || near(b[i+4-back]) {
				prev = prev<<1 | 1
				continue
			}
		}
		if !near(b[i+4]) {
			prev = prev<<1 | 1
			continue
		}
		v := binary.LittleEndian.Uint32(b[i+1:])
		var rel uint32
		for {
			rel = v - (start + uint32(i) + 5)
			if prev == 0 {
				break
			}
			// The byte of the operand that is also the high byte of
			// the earlier E8/E9's operand: where the result makes it
			// look near, the filter had converted once more, with the
			// bits below that byte flipped. Undo each such round.
			sh := 24 - 8*uint(bits.Len32(prev))
			if !near(byte(rel >> sh)) {
				break
			}
			v = rel ^ (1<<(sh+8) - 1)
		}
		rel &= 0x01ffffff
		rel |= -(rel & 0x01000000)
		binary.LittleEndian.PutUint32(b[i+1:], rel)
		i += 4
	}
}
