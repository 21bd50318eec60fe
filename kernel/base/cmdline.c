/*
 * cmdline.c - parsing the kernel command line.
 *
 * The line comes from the boot loader and is not trusted: it is copied with
 * a bound, and lookups never read past its NUL or write past val[size-1].
 */
#include <kernel/cmdline.h>
#include <rill/string.h>

static char cmdline_buf[CMDLINE_MAX];

void cmdline_set(const char *text)
{
	size_t n = text ? strnlen(text, CMDLINE_MAX - 1) : 0;

	memcpy(cmdline_buf, text ? text : "", n);
	cmdline_buf[n] = '\0';
}

const char *cmdline_get(void)
{
	return cmdline_buf;
}

bool cmdline_find(const char *line, const char *key, char *val, size_t size)
{
	size_t klen = strlen(key);
	bool found = false;
	const char *p = line;

	if (!line || klen == 0)
		return false;
	while (*p) {
		const char *w, *end;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		w = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		end = p;
		if ((size_t)(end - w) < klen || strncmp(w, key, klen) != 0)
			continue;
		if (w + klen == end || w[klen] == '=') {
			const char *v = w + klen == end ? end : w + klen + 1;
			size_t vlen = (size_t)(end - v);

			found = true;
			if (val && size > 0) {
				if (vlen > size - 1)
					vlen = size - 1;
				memcpy(val, v, vlen);
				val[vlen] = '\0';
			}
		}
	}
	return found;
}

bool cmdline_get_value(const char *key, char *val, size_t size)
{
	return cmdline_find(cmdline_buf, key, val, size);
}

bool cmdline_has(const char *key)
{
	return cmdline_find(cmdline_buf, key, NULL, 0);
}
