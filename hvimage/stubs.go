package hvimage

import (
	"encoding/binary"

	"github.com/pvsim/pvsim/x86"
)

// Exception entry stubs. Vector v enters at TextVA + v*stubSize; the stub
// pushes a zero error code where the CPU pushes none, then the vector, and
// jumps to the common tail, which exits to the VMM with `out %al,
// $TrapPort`. When the VMM resumes the vCPU, the tail drops vector and
// error code and returns with iretq, to wherever the VMM left the frame
// pointing.
const (
	stubSize      = 16
	NrStubs       = x86.NrExceptions
	stubCommonOff = NrStubs * stubSize

	// TrapPort is the I/O port the stubs write to exit to the VMM.
	TrapPort = 0xe0
	// TrapResumeVA is where a vCPU that exited from a stub resumes: the
	// tail's `add $16, %rsp; iretq`.
	TrapResumeVA = TextVA + stubCommonOff + 2
)

// Offsets in the frame a stub leaves at RSP when it exits: vector, error
// code, then what the CPU pushed.
const (
	FrameVector = 0
	FrameError  = 8
	FrameRIP    = 16
	FrameCS     = 24
	FrameRFLAGS = 32
	FrameRSP    = 40
	FrameSS     = 48
	FrameSize   = 56
)

// buildStubs writes the stubs and their common tail into the text page.
func buildStubs(text []byte) {
	for v := x86.Vector(0); v < NrStubs; v++ {
		s := text[int(v)*stubSize:]
		n := 0
		if !v.HasErrorCode() {
			n += copy(s[n:], []byte{0x6a, 0x00}) // push $0
		}
		n += copy(s[n:], []byte{0x6a, byte(v)}) // push $v
		s[n] = 0xe9                             // jmp rel32 to the common tail
		binary.LittleEndian.PutUint32(s[n+1:], uint32(int32(stubCommonOff-(int(v)*stubSize+n+5))))
	}
	copy(text[stubCommonOff:], []byte{
		0xe6, TrapPort, // out %al, $TrapPort
		0x48, 0x83, 0xc4, 0x10, // add $16, %rsp
		0x48, 0xcf, // iretq
	})
}
