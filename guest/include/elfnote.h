/*
 * ELF notes. A note is a 12-byte header (namesz, descsz, type) followed by
 * the NUL-terminated name and the descriptor, each padded to 4 bytes.
 * Notes called NAME go to section .note.NAME; kernel.lds gathers those
 * sections into the PT_NOTE segment.
 */
#ifndef _ELFNOTE_H
#define _ELFNOTE_H

#ifdef __ASSEMBLER__

/*
 * ELFNOTE name, type, desc...
 * desc is one or more data directives, e.g. ".quad startup_64" or
 * ".asciz \"text\"".
 */
.macro ELFNOTE name, type, desc:vararg
	.pushsection .note.\name, "a", @note
	.balign 4
	.long .Lname_end\@ - .Lname\@
	.long .Ldesc_end\@ - .Ldesc\@
	.long \type
.Lname\@:
	.asciz "\name"
.Lname_end\@:
	.balign 4
.Ldesc\@:
	\desc
.Ldesc_end\@:
	.balign 4
	.popsection
.endm

#else /* !__ASSEMBLER__ */

#include <compiler.h>
#include <types.h>

/*
 * ELFNOTE(name, type, "string"): a note whose descriptor is a
 * NUL-terminated string. At most one per name and type in a file.
 */
#define ELFNOTE(name, type, desc)					\
	static const struct {						\
		uint32_t n_namesz, n_descsz, n_type;			\
		char n_name[ALIGN(sizeof(#name), 4)];			\
		char n_desc[ALIGN(sizeof(desc), 4)];			\
	} __elfnote_##name##_##type					\
	__used __aligned(4) __section(".note." #name) = {		\
		sizeof(#name), sizeof(desc), type, #name, desc		\
	}

#endif /* __ASSEMBLER__ */

#endif /* _ELFNOTE_H */
