/* The exception table: where an expected fault resumes. */
#include <extable.h>
#include <ptrace.h>

static unsigned long ex_insn_addr(const struct exception_table_entry *x)
{
	return (unsigned long)&x->insn + x->insn;
}

static unsigned long ex_fixup_addr(const struct exception_table_entry *x)
{
	return (unsigned long)&x->fixup + x->fixup;
}

const struct exception_table_entry *search_exception_tables(unsigned long addr)
{
	const struct exception_table_entry *e;

	/* A kernel has a handful of entries: no need to sort them. */
	for (e = __start___ex_table; e < __stop___ex_table; e++)
		if (ex_insn_addr(e) == addr)
			return e;
	return NULL;
}

int fixup_exception(struct pt_regs *regs)
{
	const struct exception_table_entry *e;

	e = search_exception_tables(regs->ip);
	if (!e)
		return 0;
	regs->ip = ex_fixup_addr(e);
	return 1;
}
