/*
 * Galène's request paths, for the router half of its HTTP surface
 * (http_router.c): percent-decoding, Go's path.Clean (Galène cleans a
 * group's path with it before looking the group up, and redirects to the
 * clean form), and escaping a group name back into a URL. Pure functions,
 * unit-tested and fuzzed (tests/fuzz/fuzz_galene_path.c).
 */
#include <string.h>

#include "../../common/hex.h"
#include "http.h"

/* Rewrites p in place: one '/' between segments, no "." segment, ".."
 * removes the segment before it (never going above "/"), no trailing '/'. */
size_t galene_path_clean(char *p)
{
	size_t out = 0, i = 0, n = strlen(p);
	while (i < n) {
		while (i < n && p[i] == '/')
			i++;
		size_t start = i;
		while (i < n && p[i] != '/')
			i++;
		size_t len = i - start;
		if (len == 0 || (len == 1 && p[start] == '.'))
			continue;
		if (len == 2 && p[start] == '.' && p[start + 1] == '.') {
			while (out > 0 && p[--out] != '/')
				;
			continue;
		}
		p[out++] = '/';
		memmove(p + out, p + start, len);
		out += len;
	}
	if (out == 0)
		p[out++] = '/';
	p[out] = 0;
	return out;
}

int galene_path_decode(const char *src, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; src[i]; i++) {
		int c = (unsigned char)src[i];
		if (c == '%') {
			int hi = hex_digit(src[i + 1]), lo = hi < 0 ? -1 : hex_digit(src[i + 2]);
			if (lo < 0)
				return -1;
			c = hi << 4 | lo;
			i += 2;
		}
		if (c == 0 || o + 1 >= cap)
			return -1;
		out[o++] = (char)c;
	}
	if (cap == 0)
		return -1;
	out[o] = 0;
	return 0;
}

int galene_url_escape(struct buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			     (c && strchr("-._~/", c));
		if ((plain ? buf_append(b, s, 1) : buf_printf(b, "%%%02X", c)) < 0)
			return -1;
	}
	return 0;
}
