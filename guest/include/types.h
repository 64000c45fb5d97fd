/*
 * Basic types for a freestanding kernel. The guest is built with -nostdinc,
 * so nothing comes from a C library: everything is spelled with the
 * compiler's predefined type macros.
 */
#ifndef _TYPES_H
#define _TYPES_H

typedef __INT8_TYPE__		int8_t;
typedef __INT16_TYPE__		int16_t;
typedef __INT32_TYPE__		int32_t;
typedef __INT64_TYPE__		int64_t;
typedef __UINT8_TYPE__		uint8_t;
typedef __UINT16_TYPE__		uint16_t;
typedef __UINT32_TYPE__		uint32_t;
typedef __UINT64_TYPE__		uint64_t;
typedef __UINTPTR_TYPE__	uintptr_t;
typedef __SIZE_TYPE__		size_t;
typedef __PTRDIFF_TYPE__	ptrdiff_t;

typedef uint8_t			u8;
typedef uint16_t		u16;
typedef uint32_t		u32;
typedef uint64_t		u64;
typedef int8_t			s8;
typedef int16_t			s16;
typedef int32_t			s32;
typedef int64_t			s64;

typedef _Bool			bool;
#define true			1
#define false			0

#define NULL			((void *)0)

#define offsetof(type, member)	__builtin_offsetof(type, member)

#endif /* _TYPES_H */
