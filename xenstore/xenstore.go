// Package xenstore is the store a domain without a toolstack talks to:
// the xenstore ring protocol (public/io/xs_wire.h) on the page start_info
// names (store_mfn), served as xenstored serves it, over a small store
// that holds what a toolstack writes for a new domain and what the guest
// writes itself.
//
// Why a store and not store_evtchn 0: a PV Linux has no way to do without
// one (xenbus_init takes start_info's ring as given, and its drivers wait
// on it: the balloon driver's watch on memory/target blocks the boot), so
// pvsim answers. What it holds is what xl writes for a domain that Linux
// reads at boot: its domid and name, cpu/N/availability for each vCPU,
// and memory/static-max and memory/target (so the balloon driver has
// nothing to do). Everything else is ENOENT: no devices, no backends.
//
// One domain, no permissions (every node is the domain's), transactions
// that always commit. Nothing the guest controls grows without bound:
// nodes, watches and queued output are capped.
package xenstore

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/pvsim/pvsim/fingerprint"
)

// The ring page, struct xenstore_domain_interface: req[1024], rsp[1024],
// then req_cons, req_prod, rsp_cons, rsp_prod (u32 each).
const (
	ringSize = 1024
	reqOff   = 0
	rspOff   = 1024
	reqCons  = 2048
	reqProd  = 2052
	rspCons  = 2056
	rspProd  = 2060
	// PageUse is the part of the page the ring uses.
	PageUse = 2064
)

// Message types (enum xsd_sockmsg_type).
const (
	typeControl          = 0
	typeDirectory        = 1
	typeRead             = 2
	typeGetPerms         = 3
	typeWatch            = 4
	typeUnwatch          = 5
	typeTransactionStart = 6
	typeTransactionEnd   = 7
	typeIntroduce        = 8
	typeRelease          = 9
	typeGetDomainPath    = 10
	typeWrite            = 11
	typeMkdir            = 12
	typeRm               = 13
	typeSetPerms         = 14
	typeWatchEvent       = 15
	typeError            = 16
	typeIsIntroduced     = 17
	typeResume           = 18
	typeSetTarget        = 19
	typeResetWatches     = 21
)

// headerSize is struct xsd_sockmsg: type, req_id, tx_id, len (u32 each);
// PayloadMax is XENSTORE_PAYLOAD_MAX.
const (
	headerSize = 16
	PayloadMax = 4096
)

// Limits on what the guest can make the store hold.
const (
	MaxNodes   = 1024
	MaxWatches = 128
	maxOut     = 64 << 10 // queued output not yet in the ring
)

// Store is one domain's store and its ring. Not safe for concurrent use:
// the caller serialises Serve.
type Store struct {
	page    []byte
	domPath string // /local/domain/<domid>
	nodes   map[string]string
	watches []watch
	out     []byte // responses and events not yet in the ring
	// in holds the request being read, nin bytes of it so far.
	in  [headerSize + PayloadMax]byte
	nin int
}

type watch struct{ path, token string }

// Config is what a toolstack would have written for the domain.
type Config struct {
	DomID   uint16
	Name    string
	VCPUs   int
	MemoryK uint64 // the domain's memory in KiB
}

// New serves the ring in page, the host view of the domain's store
// frame, over a store with what a toolstack writes for c.
//
// Precondition: page is at least PageUse bytes, 4-byte aligned in host
// memory (a guest frame is), and stays mapped while the Store is used.
func New(page []byte, c Config) *Store {
	s := &Store{page: page[:PageUse], domPath: fmt.Sprintf("/local/domain/%d", c.DomID), nodes: map[string]string{}}
	s.set("domid", fmt.Sprint(c.DomID))
	s.set("name", c.Name)
	for i := range c.VCPUs {
		s.set(fmt.Sprintf("cpu/%d/availability", i), "online")
	}
	s.set("memory/static-max", fmt.Sprint(c.MemoryK))
	s.set("memory/target", fmt.Sprint(c.MemoryK))
	return s
}

// set writes a node relative to the domain's path, making its parents.
func (s *Store) set(rel, value string) { s.write(s.abs(rel), value) }

// abs resolves a path as xenstored does: relative ones are under the
// domain's path.
func (s *Store) abs(p string) string {
	if strings.HasPrefix(p, "/") {
		return p
	}
	return s.domPath + "/" + p
}

// write sets path to value, with its missing parents empty.
func (s *Store) write(path, value string) {
	for p := parent(path); p != "" && p != "/"; p = parent(p) {
		if _, ok := s.nodes[p]; !ok {
			s.nodes[p] = ""
		}
	}
	s.nodes[path] = value
}

func parent(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

func (s *Store) word(off int) *uint32 { return (*uint32)(unsafe.Pointer(&s.page[off])) }

// Serve reads what the guest has put in the request ring, answers every
// request that is whole, and moves what it can of the answers (and watch
// events) into the response ring, as xenstored does when the guest
// notifies the store's event channel. It consumes a partial request too,
// keeping it until the rest comes: Linux notifies only when it writes to
// a ring the server had emptied. It reports whether it put anything in
// the response ring: then the guest is to be notified. A request longer
// than PayloadMax, or a ring whose indexes are more than its size apart,
// is a broken ring: what it holds is dropped, as xenstored drops the
// connection.
func (s *Store) Serve() bool {
	cons := atomic.LoadUint32(s.word(reqCons))
	prod := atomic.LoadUint32(s.word(reqProd))
	if prod-cons > ringSize {
		atomic.StoreUint32(s.word(reqCons), prod)
		s.nin = 0
		return s.flush()
	}
	for ; cons != prod; cons++ {
		s.in[s.nin] = s.page[reqOff+int(cons%ringSize)]
		s.nin++
		if s.nin < headerSize {
			continue
		}
		n := int(binary.LittleEndian.Uint32(s.in[12:]))
		switch {
		case n > PayloadMax:
			s.nin, cons = 0, prod-1 // broken: drop the rest
		case s.nin == headerSize+n:
			s.handle(binary.LittleEndian.Uint32(s.in[0:]), binary.LittleEndian.Uint32(s.in[4:]),
				binary.LittleEndian.Uint32(s.in[8:]), string(s.in[headerSize:s.nin]))
			s.nin = 0
		}
	}
	atomic.StoreUint32(s.word(reqCons), cons)
	return s.flush()
}

// flush moves queued output into the response ring, as far as it has
// room.
func (s *Store) flush() bool {
	cons := atomic.LoadUint32(s.word(rspCons))
	prod := atomic.LoadUint32(s.word(rspProd))
	if prod-cons > ringSize {
		return false // the guest broke its ring: nothing more goes in
	}
	room := ringSize - (prod - cons)
	n := min(uint32(len(s.out)), room)
	for i := uint32(0); i < n; i++ {
		s.page[rspOff+int((prod+i)%ringSize)] = s.out[i]
	}
	s.out = s.out[n:]
	if len(s.out) == 0 {
		s.out = nil
	}
	atomic.StoreUint32(s.word(rspProd), prod+n)
	return n > 0
}

// reply queues a message.
func (s *Store) reply(typ, reqID, txID uint32, payload string) {
	if len(s.out)+headerSize+len(payload) > maxOut {
		return // the guest does not read its answers: drop, as a full socket would
	}
	var h [headerSize]byte
	binary.LittleEndian.PutUint32(h[0:], typ)
	binary.LittleEndian.PutUint32(h[4:], reqID)
	binary.LittleEndian.PutUint32(h[8:], txID)
	binary.LittleEndian.PutUint32(h[12:], uint32(len(payload)))
	s.out = append(append(s.out, h[:]...), payload...)
}

func (s *Store) fail(reqID, txID uint32, errno string) {
	s.reply(typeError, reqID, txID, errno+"\x00")
}

// args splits a payload into its NUL-terminated strings.
func args(p string) []string {
	p = strings.TrimSuffix(p, "\x00")
	return strings.Split(p, "\x00")
}

// handle answers one request.
func (s *Store) handle(typ, reqID, txID uint32, p string) {
	ok := func() { s.reply(typ, reqID, txID, "OK\x00") }
	switch typ {
	case typeRead:
		v, found := s.nodes[s.abs(args(p)[0])]
		if !found {
			s.fail(reqID, txID, "ENOENT")
			return
		}
		s.reply(typ, reqID, txID, v)
	case typeDirectory:
		dir := s.abs(args(p)[0])
		if _, found := s.nodes[dir]; !found && dir != "/" {
			s.fail(reqID, txID, "ENOENT")
			return
		}
		s.reply(typ, reqID, txID, strings.Join(s.children(dir), ""))
	case typeWrite:
		path, value, _ := strings.Cut(p, "\x00")
		if !s.room(s.abs(path)) {
			s.fail(reqID, txID, "ENOSPC")
			return
		}
		s.write(s.abs(path), value)
		ok()
		s.fire(s.abs(path), false)
	case typeMkdir:
		path := s.abs(args(p)[0])
		if _, found := s.nodes[path]; !found {
			if !s.room(path) {
				s.fail(reqID, txID, "ENOSPC")
				return
			}
			s.write(path, "")
			s.fire(path, false)
		}
		ok()
	case typeRm:
		path := s.abs(args(p)[0])
		if _, found := s.nodes[path]; !found {
			s.fail(reqID, txID, "ENOENT")
			return
		}
		for n := range s.nodes {
			if n == path || strings.HasPrefix(n, path+"/") {
				delete(s.nodes, n)
			}
		}
		ok()
		s.fire(path, true)
	case typeGetPerms:
		if _, found := s.nodes[s.abs(args(p)[0])]; !found {
			s.fail(reqID, txID, "ENOENT")
			return
		}
		s.reply(typ, reqID, txID, "n"+strings.TrimPrefix(s.domPath, "/local/domain/")+"\x00")
	case typeSetPerms:
		ok()
	case typeWatch:
		a := args(p)
		if len(a) < 2 {
			s.fail(reqID, txID, "EINVAL")
			return
		}
		if len(s.watches) >= MaxWatches {
			s.fail(reqID, txID, "E2BIG")
			return
		}
		s.watches = append(s.watches, watch{a[0], a[1]})
		ok()
		// xenstored fires a new watch once at once.
		s.reply(typeWatchEvent, 0, 0, a[0]+"\x00"+a[1]+"\x00")
	case typeUnwatch:
		a := args(p)
		for i, w := range s.watches {
			if len(a) >= 2 && w.path == a[0] && w.token == a[1] {
				s.watches = append(s.watches[:i], s.watches[i+1:]...)
				ok()
				return
			}
		}
		s.fail(reqID, txID, "ENOENT")
	case typeResetWatches:
		s.watches = nil
		ok()
	case typeTransactionStart:
		s.reply(typ, reqID, txID, "1\x00")
	case typeTransactionEnd:
		ok()
	case typeGetDomainPath:
		s.reply(typ, reqID, txID, s.domPath+"\x00")
	case typeIsIntroduced:
		s.reply(typ, reqID, txID, "T\x00")
	case typeControl, typeIntroduce, typeRelease, typeResume, typeSetTarget:
		s.fail(reqID, txID, "EACCES") // a privileged domain's
	default:
		s.fail(reqID, txID, "EINVAL")
	}
}

// room reports whether path can be written without passing MaxNodes.
func (s *Store) room(path string) bool {
	n := len(s.nodes)
	for p := path; p != "" && p != "/"; p = parent(p) {
		if _, ok := s.nodes[p]; !ok {
			n++
		}
	}
	return n <= MaxNodes
}

// children are the names of dir's children, each NUL-terminated, sorted.
func (s *Store) children(dir string) []string {
	prefix := strings.TrimSuffix(dir, "/") + "/"
	var c []string
	for n := range s.nodes {
		if rest, ok := strings.CutPrefix(n, prefix); ok && !strings.Contains(rest, "/") {
			c = append(c, rest+"\x00")
		}
	}
	sort.Strings(c)
	return c
}

// fire sends a watch event for every watch on path or a parent of it,
// naming path, as xenstored does after a change; for a removal
// (recursive), watches under path fire too, each naming its own node.
func (s *Store) fire(path string, recursive bool) {
	for _, w := range s.watches {
		wp := s.abs(w.path)
		name := ""
		switch {
		case path == wp || strings.HasPrefix(path, wp+"/"):
			name = path
		case recursive && strings.HasPrefix(wp, path+"/"):
			name = wp
		default:
			continue
		}
		if !strings.HasPrefix(w.path, "/") {
			name = strings.TrimPrefix(name, s.domPath+"/")
		}
		s.reply(typeWatchEvent, 0, 0, name+"\x00"+w.token+"\x00")
	}
}

// Fingerprint adds the store's state to h, for a search that names a
// domain's state (package fingerprint): every node, the watches, the
// replies not yet in the ring and the request being read. The ring is the
// guest's memory's.
func (s *Store) Fingerprint(h *fingerprint.Hash) {
	paths := slices.Sorted(maps.Keys(s.nodes))
	h.Uint64(uint64(len(paths)))
	for _, p := range paths {
		h.String(p)
		h.String(s.nodes[p])
	}
	h.Uint64(uint64(len(s.watches)))
	for _, w := range s.watches {
		h.String(w.path)
		h.String(w.token)
	}
	h.Uint64(uint64(len(s.out)))
	h.Write(s.out)
	h.Uint64(uint64(s.nin))
	h.Write(s.in[:s.nin])
}
