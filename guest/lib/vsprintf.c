/* vsnprintf() and snprintf(): the printf subset described in printk.h. */
#include <printk.h>

#define LEFT	0x1	/* '-': pad on the right */
#define ZEROPAD	0x2	/* '0': pad numbers with zeros */
#define UPPER	0x4	/* %X */

struct outbuf {
	char *buf;
	size_t size;
	size_t len;	/* characters produced so far, stored or not */
};

static void put(struct outbuf *out, char c)
{
	if (out->len + 1 < out->size)
		out->buf[out->len] = c;
	out->len++;
}

static void pad(struct outbuf *out, char c, int n)
{
	while (n-- > 0)
		put(out, c);
}

static void put_str(struct outbuf *out, const char *s, int width,
		    unsigned int flags)
{
	int len = 0;

	if (!s)
		s = "(null)";
	while (s[len])
		len++;
	if (!(flags & LEFT))
		pad(out, ' ', width - len);
	while (*s)
		put(out, *s++);
	if (flags & LEFT)
		pad(out, ' ', width - len);
}

static void put_num(struct outbuf *out, unsigned long long num, bool neg,
		    unsigned int base, int width, unsigned int flags)
{
	const char *digits = flags & UPPER ? "0123456789ABCDEF"
					   : "0123456789abcdef";
	char tmp[24];
	int n = 0, len;

	do {
		tmp[n++] = digits[num % base];
		num /= base;
	} while (num);
	len = n + neg;

	if (!(flags & (LEFT | ZEROPAD)))
		pad(out, ' ', width - len);
	if (neg)
		put(out, '-');
	if ((flags & (LEFT | ZEROPAD)) == ZEROPAD)
		pad(out, '0', width - len);
	while (n)
		put(out, tmp[--n]);
	if (flags & LEFT)
		pad(out, ' ', width - len);
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list args)
{
	struct outbuf out = { .buf = buf, .size = size };

	for (; *fmt; fmt++) {
		unsigned int flags = 0, base = 10;
		int width = 0, lng = 0;
		unsigned long long num;
		bool neg = false;

		if (*fmt != '%') {
			put(&out, *fmt);
			continue;
		}

		for (;; fmt++) {
			if (fmt[1] == '-')
				flags |= LEFT;
			else if (fmt[1] == '0')
				flags |= ZEROPAD;
			else
				break;
		}
		while (fmt[1] >= '0' && fmt[1] <= '9')
			width = width * 10 + (*++fmt - '0');
		if (fmt[1] == 'z') {
			lng = 1;		/* size_t is unsigned long */
			fmt++;
		}
		while (fmt[1] == 'l' && lng < 2) {
			lng++;
			fmt++;
		}

		switch (*++fmt) {
		case 'c':
			if (!(flags & LEFT))
				pad(&out, ' ', width - 1);
			put(&out, (char)va_arg(args, int));
			if (flags & LEFT)
				pad(&out, ' ', width - 1);
			continue;
		case 's':
			put_str(&out, va_arg(args, const char *), width, flags);
			continue;
		case 'p':
			put(&out, '0');
			put(&out, 'x');
			put_num(&out, (unsigned long)va_arg(args, void *),
				false, 16, 16, ZEROPAD);
			continue;
		case 'd':
		case 'i': {
			long long v = lng == 2 ? va_arg(args, long long) :
				      lng == 1 ? va_arg(args, long) :
						 va_arg(args, int);
			neg = v < 0;
			num = neg ? -(unsigned long long)v : (unsigned long long)v;
			break;
		}
		case 'X':
			flags |= UPPER;
			/* fall through */
		case 'x':
			base = 16;
			/* fall through */
		case 'u':
			num = lng == 2 ? va_arg(args, unsigned long long) :
			      lng == 1 ? va_arg(args, unsigned long) :
					 va_arg(args, unsigned int);
			break;
		case '%':
			put(&out, '%');
			continue;
		case '\0':
			/* A lone '%' ends the format. */
			fmt--;
			continue;
		default:
			/* Unknown conversion: print it as written. */
			put(&out, '%');
			put(&out, *fmt);
			continue;
		}
		put_num(&out, num, neg, base, width, flags);
	}

	if (size)
		buf[out.len < size ? out.len : size - 1] = '\0';
	return out.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list args;
	int len;

	va_start(args, fmt);
	len = vsnprintf(buf, size, fmt, args);
	va_end(args);
	return len;
}
