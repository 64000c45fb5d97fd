/*
 * The exception table. _ASM_EXTABLE(from, to) says that if the instruction
 * at from raises an exception, execution resumes at to instead: the trap
 * handler finds from in the table and moves regs->ip to to. Entries are
 * pairs of 32-bit offsets from the entry itself, as in Linux; kernel.lds
 * gathers them between __start___ex_table and __stop___ex_table.
 */
#ifndef _EXTABLE_H
#define _EXTABLE_H

#ifdef __ASSEMBLER__

#define _ASM_EXTABLE(from, to)			\
	.pushsection __ex_table, "a";		\
	.balign 4;				\
	.long (from) - .;			\
	.long (to) - .;				\
	.popsection

#else /* !__ASSEMBLER__ */

#define _ASM_EXTABLE(from, to)					\
	" .pushsection __ex_table, \"a\"\n"			\
	" .balign 4\n"						\
	" .long (" #from ") - .\n"				\
	" .long (" #to ") - .\n"				\
	" .popsection\n"

struct pt_regs;

struct exception_table_entry {
	int insn, fixup;
};

extern const struct exception_table_entry __start___ex_table[];
extern const struct exception_table_entry __stop___ex_table[];

/* The entry for the instruction at addr, or NULL. */
const struct exception_table_entry *search_exception_tables(unsigned long addr);

/* Moves regs->ip to the fixup of the faulting instruction; 0 if it has none. */
int fixup_exception(struct pt_regs *regs);

#endif /* __ASSEMBLER__ */

#endif /* _EXTABLE_H */
