/*
 * Unsigned numbers as text, without the C library's printf: a forked worker
 * formats a few per connection (its id, the client's address, the close
 * line), and printf's code is a dozen pages the worker would otherwise
 * fault in and map anew in every connection (issue 12).
 */
#ifndef SB_NUMFMT_H
#define SB_NUMFMT_H
#include <stddef.h>

/* v in base 10 or 16 (lower case), at least width digits (zero-padded), into
 * out (room for 20 digits, or width); not terminated. Returns the length. */
static inline size_t fmt_uint(char *out, unsigned long long v, unsigned base, int width)
{
	char d[24];
	size_t n = 0;
	do {
		d[sizeof d - 1 - n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v && n < sizeof d);
	while ((int)n < width && n < sizeof d)
		d[sizeof d - 1 - n++] = '0';
	for (size_t i = 0; i < n; i++)
		out[i] = d[sizeof d - n + i];
	return n;
}

#endif
