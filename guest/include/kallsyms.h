/*
 * The kernel's own symbol table: every text symbol of the image with its
 * address and size, so that the kernel can print addresses as
 * symbol+offset/size. The Makefile generates it between two links.
 */
#ifndef _KALLSYMS_H
#define _KALLSYMS_H

#include <types.h>

#define KSYM_NAME_LEN		128
/* "name+0xoffset/0xsize", NUL included. */
#define KSYM_SYMBOL_LEN		(KSYM_NAME_LEN + 2 * (2 + 16) + 3)

/*
 * The name of the symbol that contains addr, with its size and addr's
 * offset in it; NULL if no symbol does.
 */
const char *kallsyms_lookup(unsigned long addr, unsigned long *symbolsize,
			    unsigned long *offset);

/*
 * Formats address into buffer (KSYM_SYMBOL_LEN bytes) as
 * "name+0xoffset/0xsize", or as "0x<address>" when no symbol contains it.
 */
int sprint_symbol(char *buffer, unsigned long address);

/*
 * The same for a return address: the symbol is looked up for the call
 * instruction before it, which may be the last one of a function.
 */
int sprint_backtrace(char *buffer, unsigned long address);

#endif /* _KALLSYMS_H */
