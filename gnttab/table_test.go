package gnttab

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pvsim/pvsim/xen"
)

const (
	self    = xen.PVSimDomID
	nrPages = 1024
)

// newTable is a table over MaxFrames fresh frames at pfns 2000 on.
func newTable(t *testing.T) *Table {
	t.Helper()
	pfns := make([]uint64, MaxFrames)
	shared := make([][]byte, MaxFrames)
	for i := range pfns {
		pfns[i], shared[i] = 2000+uint64(i), make([]byte, 4096)
	}
	tab, err := New(self, pfns, shared, nrPages)
	require.NoError(t, err)
	return tab
}

// grant writes grant entry ref: flags, domid, frame.
func grant(tab *Table, ref Ref, flags xen.GrantFlags, dom uint16, frame uint32) {
	off := int(ref) * xen.GrantEntryV1Size
	e := tab.shared[off/4096][off%4096:]
	binary.LittleEndian.PutUint16(e, uint16(flags))
	binary.LittleEndian.PutUint16(e[2:], dom)
	binary.LittleEndian.PutUint32(e[4:], frame)
}

func flagsOf(tab *Table, ref Ref) xen.GrantFlags {
	off := int(ref) * xen.GrantEntryV1Size
	return xen.GrantFlags(binary.LittleEndian.Uint16(tab.shared[off/4096][off%4096:]))
}

const (
	hostRW = xen.GNTMAPHostMap
	hostRO = xen.GNTMAPHostMap | xen.GNTMAPReadonly
)

func TestAcquireRefusals(t *testing.T) {
	for _, tt := range []struct {
		name  string
		entry xen.GrantFlags
		dom   uint16 // the entry's
		frame uint32
		ref   Ref
		mdom  uint16 // the map's
		flags xen.GrantMapFlags
		want  xen.GrantStatus
	}{
		{"no map flags", xen.GTFPermitAccess, self, 5, 8, self, xen.GNTMAPContainsPTE, xen.GNTSTBadGntref},
		{"DOMID_SELF is no domain", xen.GTFPermitAccess, self, 5, 8, xen.DomIDSelf, hostRW, xen.GNTSTBadDomain},
		{"another domain", xen.GTFPermitAccess, self, 5, 8, 3, hostRW, xen.GNTSTBadDomain},
		{"the backend's grant: none", xen.GTFPermitAccess, self, 5, 8, xen.BackendDomID, hostRW, xen.GNTSTGeneralError},
		{"the backend's grant past its table", xen.GTFPermitAccess, self, 5, xen.GrantEntriesPerV1F, xen.BackendDomID, hostRW, xen.GNTSTBadGntref},
		{"ref past the set-up frames", xen.GTFPermitAccess, self, 5, xen.GrantEntriesPerV1F, self, hostRW, xen.GNTSTBadGntref},
		{"invalid entry", xen.GTFInvalid, self, 5, 8, self, hostRW, xen.GNTSTGeneralError},
		{"transfer entry", xen.GTFAcceptTransfer, self, 5, 8, self, hostRW, xen.GNTSTGeneralError},
		{"granted to another domain", xen.GTFPermitAccess, 7, 5, 8, self, hostRW, xen.GNTSTGeneralError},
		{"sub-page grant mapped", xen.GTFPermitAccess | xen.GTFSubPage, self, 5, 8, self, hostRW, xen.GNTSTGeneralError},
		{"read-only grant mapped writable", xen.GTFPermitAccess | xen.GTFReadonly, self, 5, 8, self, hostRW, xen.GNTSTGeneralError},
		{"frame outside the domain", xen.GTFPermitAccess, self, nrPages, 8, self, hostRW, xen.GNTSTBadPage},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tab := newTable(t)
			grant(tab, 8, tt.entry, tt.dom, tt.frame)
			_, _, st := tab.Acquire(tt.ref, tt.mdom, tt.flags)
			assert.Equal(t, tt.want, st, "%v", st)
			assert.Equal(t, tt.entry, flagsOf(tab, 8), "the entry is as it was")
			assert.Zero(t, tab.Mappings())
		})
	}
}

// TestPinLifecycle: mappings pin a grant, set GTF_reading and GTF_writing
// while there are readers and writers, and clear them with the last.
func TestPinLifecycle(t *testing.T) {
	tab := newTable(t)
	grant(tab, 8, xen.GTFPermitAccess, self, 77)

	rw, frame, st := tab.Acquire(8, self, hostRW)
	require.Equal(t, xen.GNTSTOkay, st)
	assert.Equal(t, uint64(77), frame)
	tab.Commit(rw)
	assert.Equal(t, xen.GTFPermitAccess|xen.GTFReading|xen.GTFWriting, flagsOf(tab, 8))

	// Once pinned, the entry is not checked again (Xen's act->pin): the
	// guest revoking it does not stop a second mapping.
	grant(tab, 8, xen.GTFInvalid|xen.GTFReading|xen.GTFWriting, self, 99)
	ro, frame, st := tab.Acquire(8, self, hostRO)
	require.Equal(t, xen.GNTSTOkay, st)
	assert.Equal(t, uint64(77), frame, "the frame it was pinned with")
	tab.Commit(ro)
	w, r := tab.Pinned(8)
	assert.Equal(t, [2]int{1, 1}, [2]int{w, r})

	m, st := tab.Lookup(rw)
	require.Equal(t, xen.GNTSTOkay, st)
	assert.Equal(t, Mapping{Flags: hostRW, Ref: 8, Dom: self, Frame: 77}, m)

	tab.Release(rw, xen.GNTMAPHostMap)
	assert.Equal(t, xen.GTFInvalid|xen.GTFReading, flagsOf(tab, 8), "the writer gone: GTF_writing cleared")
	_, st = tab.Lookup(rw)
	assert.Equal(t, xen.GNTSTBadHandle, st, "the handle is free")
	tab.Release(ro, xen.GNTMAPHostMap)
	assert.Equal(t, xen.GTFInvalid, flagsOf(tab, 8))
	assert.Zero(t, tab.Mappings())
}

// TestAbandon: a mapping whose PTE could not be written leaves nothing.
func TestAbandon(t *testing.T) {
	tab := newTable(t)
	grant(tab, 9, xen.GTFPermitAccess, self, 5)
	h, _, st := tab.Acquire(9, self, hostRW)
	require.Equal(t, xen.GNTSTOkay, st)
	_, st = tab.Lookup(h)
	assert.Equal(t, xen.GNTSTBadHandle, st, "pending: no handle yet")
	tab.Abandon(h)
	assert.Equal(t, xen.GTFPermitAccess, flagsOf(tab, 9))
	w, r := tab.Pinned(9)
	assert.Zero(t, w+r)
	assert.Zero(t, tab.Mappings())
}

// TestPinOverflow: each pin count is a byte, refused once its top bit is
// set (Xen's GNTPIN_incr2oflow_mask): 128 mappings at most.
func TestPinOverflow(t *testing.T) {
	tab := newTable(t)
	grant(tab, 8, xen.GTFPermitAccess, self, 5)
	for i := range 128 {
		h, _, st := tab.Acquire(8, self, hostRO)
		require.Equal(t, xen.GNTSTOkay, st, "mapping %d", i)
		tab.Commit(h)
	}
	_, _, st := tab.Acquire(8, self, hostRO)
	assert.Equal(t, xen.GNTSTGeneralError, st, "the 129th read-only mapping")
	h, _, st := tab.Acquire(8, self, hostRW)
	assert.Equal(t, xen.GNTSTOkay, st, "the writable count is another byte")
	tab.Abandon(h)
}

// TestHandlesBounded: the maptrack table is MaxMappings long.
func TestHandlesBounded(t *testing.T) {
	tab := newTable(t)
	for ref := Ref(0); ref < 16; ref++ {
		grant(tab, ref, xen.GTFPermitAccess, self, 5)
	}
	for i := range MaxMappings {
		h, _, st := tab.Acquire(Ref(i%16), self, hostRO)
		require.Equal(t, xen.GNTSTOkay, st, "mapping %d", i)
		tab.Commit(h)
	}
	_, _, st := tab.Acquire(0, self, hostRO)
	assert.Equal(t, xen.GNTSTNoSpace, st)
	_, st = tab.Lookup(MaxMappings)
	assert.Equal(t, xen.GNTSTBadHandle, st)
}

// TestSetup: the table grows to what setup_table asks, up to MaxFrames.
func TestSetup(t *testing.T) {
	tab := newTable(t)
	nr, max := tab.Frames()
	assert.Equal(t, [2]int{InitialFrames, MaxFrames}, [2]int{nr, max})
	_, _, st := tab.Acquire(xen.GrantEntriesPerV1F, self, hostRO)
	assert.Equal(t, xen.GNTSTBadGntref, st, "a ref in the second frame, not set up")

	frames, st := tab.Setup(2)
	require.Equal(t, xen.GNTSTOkay, st)
	assert.Equal(t, []uint64{2000, 2001}, frames)
	grant(tab, xen.GrantEntriesPerV1F, xen.GTFPermitAccess, self, 5)
	h, _, st := tab.Acquire(xen.GrantEntriesPerV1F, self, hostRO)
	assert.Equal(t, xen.GNTSTOkay, st, "now set up")
	tab.Abandon(h)

	frames, st = tab.Setup(1)
	assert.Equal(t, []uint64{2000}, frames, "no shrinking")
	nr, _ = tab.Frames()
	assert.Equal(t, 2, nr)
	_, st = tab.Setup(MaxFrames + 1)
	assert.Equal(t, xen.GNTSTGeneralError, st)
}

// TestClone: a clone over other memory keeps the pins and handles, and
// the two change apart.
func TestClone(t *testing.T) {
	tab := newTable(t)
	grant(tab, 8, xen.GTFPermitAccess, self, 5)
	h, _, _ := tab.Acquire(8, self, hostRW)
	tab.Commit(h)
	shared := make([][]byte, MaxFrames)
	for i := range shared {
		shared[i] = append([]byte(nil), tab.shared[i]...)
	}
	c := tab.Clone(shared)
	c.Release(h, xen.GNTMAPHostMap)
	assert.Zero(t, c.Mappings())
	assert.Equal(t, 1, tab.Mappings())
	assert.Equal(t, xen.GTFPermitAccess|xen.GTFReading|xen.GTFWriting, flagsOf(tab, 8), "the original's memory is untouched")
}

// FuzzGrantOps: any sequence of operations on any entries keeps the pin
// counts equal to the mappings held and, in entries the guest did not
// overwrite, the in-use flags in step with the pins.
func FuzzGrantOps(f *testing.F) {
	f.Add([]byte{0, 8, 2, 1, 8, 6, 2, 0, 0})
	f.Add([]byte{3, 2, 0, 8, 2, 0, 9, 4, 1, 0, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		tab := newTable(t)
		var held []Handle
		scribbled := map[Ref]bool{} // in-use flags the guest overwrote
		for len(ops) >= 3 {
			op, a, b := ops[0], ops[1], ops[2]
			ops = ops[3:]
			ref := Ref(a % 16)
			switch op % 4 {
			case 0: // the guest writes an entry: keeping Xen's flags, or not
				inUse := xen.GTFReading | xen.GTFWriting
				flags := xen.GrantFlags(b)&^inUse | flagsOf(tab, ref)&inUse
				if b&1 != 0 {
					flags, scribbled[ref] = xen.GrantFlags(b), true
				}
				grant(tab, ref, flags, uint16(b>>7), uint32(b))
			case 1: // map
				flags := xen.GrantMapFlags(b) & (xen.GNTMAPHostMap | xen.GNTMAPReadonly | xen.GNTMAPDeviceMap)
				if h, _, st := tab.Acquire(ref, self, flags); st == xen.GNTSTOkay {
					if b&0x80 != 0 {
						tab.Abandon(h)
					} else {
						tab.Commit(h)
						held = append(held, h)
					}
				}
			case 2: // unmap
				if len(held) > 0 {
					i := int(b) % len(held)
					tab.Release(held[i], xen.GNTMAPHostMap|xen.GNTMAPDeviceMap)
					held = append(held[:i], held[i+1:]...)
				}
			case 3:
				tab.Setup(uint32(b % 6))
			}
		}
		require.Equal(t, len(held), tab.Mappings())
		pins := map[Ref][2]int{}
		for _, h := range held {
			m, st := tab.Lookup(h)
			require.Equal(t, xen.GNTSTOkay, st)
			p := pins[m.Ref]
			if m.Flags&xen.GNTMAPReadonly != 0 {
				p[1] += bits(m.Flags)
			} else {
				p[0] += bits(m.Flags)
			}
			pins[m.Ref] = p
		}
		for ref := Ref(0); ref < 16; ref++ {
			a := tab.active[ref]
			hw, hr := int(a.pin&pinMask), int(a.pin>>8&pinMask)
			dw, dr := int(a.pin>>16&pinMask), int(a.pin>>24&pinMask)
			assert.Equal(t, pins[ref], [2]int{hw + dw, hr + dr}, "ref %d pins", ref)
			if scribbled[ref] {
				continue
			}
			fl := flagsOf(tab, ref)
			assert.Equal(t, a.pin != 0, fl&xen.GTFReading != 0, "ref %d GTF_reading", ref)
			if a.pin&pinWritable != 0 {
				assert.NotZero(t, fl&xen.GTFWriting, "ref %d GTF_writing", ref)
			}
		}
	})
}

// bits is how many of host_map and device_map flags has.
func bits(flags xen.GrantMapFlags) int {
	n := 0
	if flags&xen.GNTMAPHostMap != 0 {
		n++
	}
	if flags&xen.GNTMAPDeviceMap != 0 {
		n++
	}
	return n
}

func TestAcquireForCopy(t *testing.T) {
	tab := newTable(t)
	grant(tab, 10, xen.GTFPermitAccess, self, 100)
	grant(tab, 11, xen.GTFPermitAccess|xen.GTFReadonly, self, 101)
	grant(tab, 12, xen.GTFPermitAccess, 7, 102)          // for another domain
	grant(tab, 13, xen.GTFPermitAccess, self, nrPages+5) // outside the domain
	for _, tt := range []struct {
		name     string
		ref      Ref
		dom      uint16
		readonly bool
		want     xen.GrantStatus
	}{
		{"read a grant", 10, self, true, xen.GNTSTOkay},
		{"write a grant", 10, self, false, xen.GNTSTOkay},
		{"read a read-only grant", 11, self, true, xen.GNTSTOkay},
		{"write a read-only grant", 11, self, false, xen.GNTSTGeneralError},
		{"a grant to another domain", 12, self, true, xen.GNTSTGeneralError},
		{"a frame outside the domain", 13, self, true, xen.GNTSTBadPage},
		{"past the table", 600, self, true, xen.GNTSTBadGntref},
		{"not a domain", 10, 9, true, xen.GNTSTBadDomain},
		{"the backend's table", 10, xen.BackendDomID, true, xen.GNTSTGeneralError},
	} {
		t.Run(tt.name, func(t *testing.T) {
			frame, st := tab.AcquireForCopy(tt.ref, tt.dom, tt.readonly)
			require.Equal(t, tt.want, st)
			if st != xen.GNTSTOkay {
				hw, hr := tab.Pinned(tt.ref)
				assert.Zero(t, hw+hr, "a refusal pins nothing")
				return
			}
			hw, hr := tab.Pinned(tt.ref)
			assert.Equal(t, [2]int{b2i(!tt.readonly), b2i(tt.readonly)}, [2]int{hw, hr}, "pinned as a host mapping while it copies")
			want := xen.GTFPermitAccess | xen.GTFReading
			if !tt.readonly {
				want |= xen.GTFWriting
			}
			assert.Equal(t, want, flagsOf(tab, tt.ref)&^xen.GTFReadonly)
			assert.Equal(t, uint64(100+tt.ref-10), frame)
			tab.ReleaseCopy(tt.ref, tt.readonly)
			hw, hr = tab.Pinned(tt.ref)
			assert.Zero(t, hw+hr)
			assert.Zero(t, flagsOf(tab, tt.ref)&(xen.GTFReading|xen.GTFWriting), "in-use flags cleared after the copy")
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
