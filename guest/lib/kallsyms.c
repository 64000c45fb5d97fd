/*
 * Looking up the kernel's own symbols. The table comes from
 * scripts/kallsyms.sh, run by the Makefile on a first link of the kernel:
 * its text symbols with a size, sorted by address.
 */
#include <kallsyms.h>
#include <printk.h>

extern const unsigned long kallsyms_num_syms;
extern const unsigned long kallsyms_addresses[];
extern const unsigned long kallsyms_sizes[];
extern const char *const kallsyms_names[];

const char *kallsyms_lookup(unsigned long addr, unsigned long *symbolsize,
			    unsigned long *offset)
{
	unsigned long low = 0, high = kallsyms_num_syms, mid, i;

	if (!high || addr < kallsyms_addresses[0])
		return NULL;

	/* The last symbol at or below addr. */
	while (high - low > 1) {
		mid = low + (high - low) / 2;
		if (kallsyms_addresses[mid] <= addr)
			low = mid;
		else
			high = mid;
	}

	/* Of several symbols at that address, the first that covers addr. */
	for (i = low; ; i--) {
		if (addr - kallsyms_addresses[i] < kallsyms_sizes[i]) {
			*symbolsize = kallsyms_sizes[i];
			*offset = addr - kallsyms_addresses[i];
			return kallsyms_names[i];
		}
		if (i == 0 || kallsyms_addresses[i - 1] != kallsyms_addresses[low])
			return NULL;
	}
}

static int __sprint_symbol(char *buffer, unsigned long address,
			   int symbol_offset)
{
	unsigned long size, offset;
	const char *name;

	address += symbol_offset;
	name = kallsyms_lookup(address, &size, &offset);
	if (!name)
		return snprintf(buffer, KSYM_SYMBOL_LEN, "0x%lx",
				address - symbol_offset);
	return snprintf(buffer, KSYM_SYMBOL_LEN, "%s+0x%lx/0x%lx", name,
			offset - symbol_offset, size);
}

int sprint_symbol(char *buffer, unsigned long address)
{
	return __sprint_symbol(buffer, address, 0);
}

int sprint_backtrace(char *buffer, unsigned long address)
{
	return __sprint_symbol(buffer, address, -1);
}
