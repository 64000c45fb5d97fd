/* printk: format into a buffer, then one console_io write under a lock. */
#include <hypercall.h>
#include <printk.h>
#include <spinlock.h>

static DEFINE_SPINLOCK(printk_lock);

int printk(const char *fmt, ...)
{
	char buf[PRINTK_MAX];
	va_list args;
	int len;

	va_start(args, fmt);
	len = vsnprintf(buf, sizeof(buf), fmt, args);
	va_end(args);
	if (len >= (int)sizeof(buf))
		len = sizeof(buf) - 1;

	spin_lock(&printk_lock);
	HYPERVISOR_console_io(CONSOLEIO_write, len, buf);
	spin_unlock(&printk_lock);

	return len;
}
