/* Typed JSON value reads for Galène's strict decoders (see jsonval.h). */
#include "jsonval.h"
#include "../../common/hex.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int jv_strdup(const struct json_doc *d, int tok, size_t max, char **out, size_t *len)
{
	if (json_type(d, tok) != JSON_STRING)
		return -1;
	size_t raw = (size_t)(d->tok[tok].end - d->tok[tok].start);
	size_t cap = raw < max ? raw : max; /* unescaping never lengthens */
	char *s = malloc(cap + 1);
	if (!s)
		return -1;
	size_t n;
	if (json_str(d, tok, s, cap, &n) != 0) {
		free(s);
		return -1;
	}
	s[n] = 0;
	*out = s;
	*len = n;
	return 0;
}

int jv_int(const struct json_doc *d, int tok, int64_t min, int64_t max, int64_t *out)
{
	if (json_type(d, tok) != JSON_NUMBER)
		return -1;
	const char *p;
	size_t n;
	json_raw(d, tok, &p, &n);
	char buf[32];
	if (n >= sizeof buf || memchr(p, '.', n) || memchr(p, 'e', n) || memchr(p, 'E', n))
		return -1;
	memcpy(buf, p, n);
	buf[n] = 0;
	errno = 0;
	char *end;
	long long v = strtoll(buf, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int jv_number(const struct json_doc *d, int tok, double *out)
{
	if (json_type(d, tok) != JSON_NUMBER)
		return -1;
	const char *p;
	size_t n;
	json_raw(d, tok, &p, &n);
	char buf[64];
	if (n >= sizeof buf)
		return -1;
	memcpy(buf, p, n);
	buf[n] = 0;
	char *end;
	double v = strtod(buf, &end);
	if (*end)
		return -1;
	*out = v;
	return 0;
}

int jv_bool(const struct json_doc *d, int tok, bool *out)
{
	enum json_type t = json_type(d, tok);
	if (t != JSON_TRUE && t != JSON_FALSE)
		return -1;
	*out = t == JSON_TRUE;
	return 0;
}

int jv_key(const struct json_doc *d, int tok, char *buf, size_t cap)
{
	size_t n;
	if (cap == 0 || json_str(d, tok, buf, cap - 1, &n) != 0 || memchr(buf, 0, n))
		return -1;
	buf[n] = 0;
	return 0;
}

struct key {
	char *s;
	size_t n;
};

static int cmp_key(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	int c = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);
	return c ? c : (x->n > y->n) - (x->n < y->n);
}

bool jv_has_duplicate_keys(const struct json_doc *d, int obj)
{
	/* Unescaped keys, sorted: O(n log n), as a file may list thousands
	 * of users. An unreadable key counts as a duplicate (refused). */
	size_t n = (size_t)json_size(d, obj);
	if (n < 2)
		return false;
	struct key *k = calloc(n, sizeof *k);
	bool dup = !k;
	size_t got = 0;
	for (int j = obj + 1; !dup && got < n; got++, j = json_skip(d, j + 1))
		dup = jv_strdup(d, j, SIZE_MAX, &k[got].s, &k[got].n) != 0;
	if (!dup) {
		qsort(k, n, sizeof *k, cmp_key);
		for (size_t i = 1; i < n && !dup; i++)
			dup = cmp_key(&k[i - 1], &k[i]) == 0;
	}
	for (size_t i = 0; k && i < n; i++)
		free(k[i].s);
	free(k);
	return dup;
}


int jv_hex(const char *s, size_t n, unsigned char **out, size_t *len)
{
	if (n % 2)
		return -1;
	unsigned char *b = malloc(n / 2 + 1);
	if (!b)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		int hi = hex_digit(s[i]), lo = hex_digit(s[i + 1]);
		if (hi < 0 || lo < 0) {
			free(b);
			return -1;
		}
		b[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	*out = b;
	*len = n / 2;
	return 0;
}
