// Package x86 holds the x86-64 architecture as small typed values: exception
// vectors and their error-code rules, the bits of RFLAGS, CR0, CR4 and EFER,
// the #PF error code, segment descriptors and interrupt gates built by
// functions, and an exception as the CPU delivers it. It knows nothing of
// KVM or of Xen; hv, ptops and mmu take their hardware facts from here.
package x86
