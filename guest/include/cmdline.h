/*
 * Options from the guest command line (start_info.cmd_line), written as
 * space-separated name=value words: "strategy=none iters=100". When a name
 * appears more than once, the last one wins.
 */
#ifndef _CMDLINE_H
#define _CMDLINE_H

#include <types.h>

/*
 * The value of name= as a number (decimal, or hex with 0x), or def when the
 * option is absent or not a number.
 */
unsigned long get_option_ulong(const char *name, unsigned long def);

/*
 * Copies the value of name= into buf (cut to size - 1 bytes, always
 * terminated) and returns buf; returns def when the option is absent.
 */
const char *get_option_str(const char *name, char *buf, size_t size,
			   const char *def);

#endif /* _CMDLINE_H */
