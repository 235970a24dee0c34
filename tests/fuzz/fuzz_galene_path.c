/*
 * Galène's request paths (proto/galene/http_path.c) on arbitrary bytes: a
 * path that decodes is cleaned into a path that starts with '/', has no
 * empty, "." or ".." segment and no trailing '/', and cleaning it again
 * changes nothing; escaping it and decoding that gives it back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/galene/http.h"

static void check_clean(const char *p)
{
	if (p[0] != '/')
		abort();
	size_t n = strlen(p);
	if (n > 1 && p[n - 1] == '/')
		abort();
	for (const char *s = p; *s; s++) {
		if (*s != '/')
			continue;
		const char *e = strchr(s + 1, '/');
		size_t len = e ? (size_t)(e - s - 1) : strlen(s + 1);
		if ((len == 0 && n > 1) || (len == 1 && s[1] == '.') || (len == 2 && s[1] == '.' && s[2] == '.'))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[2048], path[2048], again[2048];
	if (size >= sizeof in - 1)
		return 0;
	memcpy(in + 1, data, size);
	in[0] = '/';
	in[size + 1] = 0;
	if (memchr(data, 0, size) || galene_path_decode(in, path, sizeof path) < 0)
		return 0;
	galene_path_clean(path);
	check_clean(path);
	strcpy(again, path);
	galene_path_clean(again);
	if (strcmp(again, path) != 0)
		abort();
	struct buf b = {0};
	if (galene_url_escape(&b, path) < 0 || buf_append(&b, "", 1) < 0)
		abort();
	char back[2048 * 3];
	if (galene_path_decode((const char *)buf_head(&b), back, sizeof back) < 0 || strcmp(back, path) != 0)
		abort();
	buf_free(&b);
	return 0;
}
