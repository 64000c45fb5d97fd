/* Command-line options: space-separated name=value words. */
#include <cmdline.h>
#include <kernel.h>
#include <string.h>

/* Finds the last name=value word; returns the value and sets *len. */
static const char *find_option(const char *name, size_t *len)
{
	const char *p = (const char *)xen_start_info->cmd_line;
	const char *end = p + strnlen(p, MAX_GUEST_CMDLINE);
	size_t nlen = strlen(name);
	const char *val = NULL;

	while (p < end) {
		const char *word;

		while (p < end && *p == ' ')
			p++;
		word = p;
		while (p < end && *p != ' ')
			p++;
		if ((size_t)(p - word) > nlen && word[nlen] == '=' &&
		    !strncmp(word, name, nlen)) {
			val = word + nlen + 1;
			*len = p - val;
		}
	}
	return val;
}

unsigned long get_option_ulong(const char *name, unsigned long def)
{
	unsigned long v = 0, base = 10;
	const char *s;
	size_t len, i = 0;

	s = find_option(name, &len);
	if (!s)
		return def;
	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	if (i == len)
		goto bad;
	for (; i < len; i++) {
		char c = s[i];
		unsigned long d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			goto bad;
		v = v * base + d;
	}
	return v;

bad:
	printk("cmdline: %s= is not a number, using %lu\n", name, def);
	return def;
}

const char *get_option_str(const char *name, char *buf, size_t size,
			   const char *def)
{
	const char *s;
	size_t len;

	s = find_option(name, &len);
	if (!s || size == 0)
		return def;
	if (len >= size)
		len = size - 1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return buf;
}
