/*
 * cmdline.h - the kernel command line: space-separated "key" or "key=value"
 * words, e.g. "log=debug ktest=all". Portable (host-tested).
 */
#ifndef KERNEL_CMDLINE_H
#define KERNEL_CMDLINE_H

#include <kernel/types.h>

#define CMDLINE_MAX 1024

/* Copies the command line (truncated to CMDLINE_MAX-1 bytes) for later
 * lookups. */
void cmdline_set(const char *text);
const char *cmdline_get(void);

/* Finds key in line; on success copies its value (empty for a bare key) into
 * val (size bytes, NUL-terminated, truncated) and returns true. The last
 * occurrence wins. */
bool cmdline_find(const char *line, const char *key, char *val, size_t size);

/* Same, on the line given to cmdline_set. */
bool cmdline_get_value(const char *key, char *val, size_t size);
bool cmdline_has(const char *key);

#endif
