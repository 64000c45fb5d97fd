/* Symbol annotations for assembly, so asm code symbolizes like C code. */
#ifndef _LINKAGE_H
#define _LINKAGE_H

#ifdef __ASSEMBLER__

#define SYM_FUNC_START(name)		\
	.globl name;			\
	.type name, @function;		\
	.balign 16;			\
	name:

#define SYM_FUNC_END(name)		\
	.size name, . - name

#endif /* __ASSEMBLER__ */

#endif /* _LINKAGE_H */
