package hv

import "unsafe"

// unsafePointer returns a pointer to the first byte of b.
func unsafePointer(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }
