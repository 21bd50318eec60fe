/*
 * ksyms.c - the kernel's symbol table: names for text addresses.
 *
 * The table is made by the second link pass (tools/gensyms.py from nm of
 * the first link) and placed after all code and data, so adding it moves
 * no text address: the Makefile checks that. Sorted by address.
 */
#include <kernel/ksyms.h>

extern const uint64_t ksyms_count;
extern const uint64_t ksyms_addrs[];
extern const uint64_t ksyms_names[];
extern const char ksyms_strings[];
extern const char __text_start[], __text_end[];

const char *ksym_lookup(uintptr_t addr, uintptr_t *offset)
{
	uint64_t lo = 0, hi = ksyms_count;

	if (addr < (uintptr_t)__text_start || addr >= (uintptr_t)__text_end ||
	    ksyms_count == 0 || addr < ksyms_addrs[0])
		return NULL;
	/* Last symbol with address <= addr. */
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (ksyms_addrs[mid] <= addr)
			lo = mid;
		else
			hi = mid;
	}
	*offset = addr - ksyms_addrs[lo];
	return ksyms_strings + ksyms_names[lo];
}
