/* Formatted output to the Xen console. */
#ifndef _PRINTK_H
#define _PRINTK_H

#include <compiler.h>
#include <stdarg.h>
#include <types.h>

/*
 * Supported conversions: %d %i %u %x %X %p %s %c %%, with the flags '-' and
 * '0', a field width, and the length modifiers l, ll and z.
 */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list args)
	__printf(3, 0);
int snprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);

/*
 * Writes one message with a single console_io call. Messages from different
 * vCPUs never interleave. Long messages are cut at PRINTK_MAX bytes.
 */
#define PRINTK_MAX	512
int printk(const char *fmt, ...) __printf(1, 2);

#endif /* _PRINTK_H */
