#!/bin/sh
# Writes the kallsyms table of a kernel (lib/kallsyms.c) as assembly for
# section .kallsyms, from the output of `nm -n -S` on the kernel, read on
# stdin. The table holds every text symbol that has a size, local ones
# included, in nm's order (by address):
#
#	kallsyms_num_syms	the number of symbols
#	kallsyms_addresses	their addresses, ascending
#	kallsyms_sizes		their sizes in bytes
#	kallsyms_names		pointers to their names
#
# Empty input gives an empty table, for the first link.

LC_ALL=C
export LC_ALL

exec awk '
function start(sym) {
	printf "\n\t.globl %s\n\t.type %s, @object\n\t.balign 8\n%s:\n", sym, sym, sym
}
function end(sym) {
	printf "\t.size %s, . - %s\n", sym, sym
}

BEGIN {
	n = 0
}

NF == 4 && $3 ~ /^[TtWw]$/ {
	addr[n] = $1
	size[n] = $2
	name[n] = $4
	n++
}

END {
	print "\t.section .kallsyms, \"a\""

	start("kallsyms_num_syms")
	printf "\t.quad %d\n", n
	end("kallsyms_num_syms")

	start("kallsyms_addresses")
	for (i = 0; i < n; i++)
		printf "\t.quad 0x%s\n", addr[i]
	end("kallsyms_addresses")

	start("kallsyms_sizes")
	for (i = 0; i < n; i++)
		printf "\t.quad 0x%s\n", size[i]
	end("kallsyms_sizes")

	start("kallsyms_names")
	for (i = 0; i < n; i++)
		printf "\t.quad .Lname%d\n", i
	end("kallsyms_names")

	for (i = 0; i < n; i++)
		printf ".Lname%d:\t.asciz \"%s\"\n", i, name[i]
}
'
