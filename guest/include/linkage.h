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

/*
 * Code that is not called the C way, such as exception entry: sized and
 * typed like a function, so that it symbolizes as one.
 */
#define SYM_CODE_START(name)		SYM_FUNC_START(name)
#define SYM_CODE_END(name)		SYM_FUNC_END(name)

#endif /* __ASSEMBLER__ */

#endif /* _LINKAGE_H */
