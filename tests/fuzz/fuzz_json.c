/*
 * JSON: json_parse against a small reference recursive-descent validator
 * (RFC 8259 grammar, same depth limit), then every token through json_type,
 * json_skip, json_raw, json_str, json_str_eq and json_get, and
 * json_put_string of every string (and of the raw input) re-parsed and
 * unescaped back to the same bytes.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/buf.h"
#include "../../common/json.h"

/* ---- reference validator ---- */

struct ref {
	const uint8_t *p;
	size_t n, i;
};

static void ref_ws(struct ref *r)
{
	while (r->i < r->n && (r->p[r->i] == ' ' || r->p[r->i] == '\t' || r->p[r->i] == '\n' || r->p[r->i] == '\r'))
		r->i++;
}

static bool ref_lit(struct ref *r, const char *s)
{
	size_t k = strlen(s);
	if (r->n - r->i < k || memcmp(r->p + r->i, s, k) != 0)
		return false;
	r->i += k;
	return true;
}

static bool ref_digits(struct ref *r)
{
	size_t s = r->i;
	while (r->i < r->n && r->p[r->i] >= '0' && r->p[r->i] <= '9')
		r->i++;
	return r->i > s;
}

static bool ref_number(struct ref *r)
{
	if (r->i < r->n && r->p[r->i] == '-')
		r->i++;
	if (r->i < r->n && r->p[r->i] == '0')
		r->i++;
	else if (!(r->i < r->n && r->p[r->i] >= '1' && r->p[r->i] <= '9') || !ref_digits(r))
		return false;
	if (r->i < r->n && r->p[r->i] == '.') {
		r->i++;
		if (!ref_digits(r))
			return false;
	}
	if (r->i < r->n && (r->p[r->i] == 'e' || r->p[r->i] == 'E')) {
		r->i++;
		if (r->i < r->n && (r->p[r->i] == '+' || r->p[r->i] == '-'))
			r->i++;
		if (!ref_digits(r))
			return false;
	}
	return true;
}

static bool ref_string(struct ref *r)
{
	if (r->i >= r->n || r->p[r->i] != '"')
		return false;
	r->i++;
	while (r->i < r->n) {
		uint8_t c = r->p[r->i++];
		if (c == '"')
			return true;
		if (c < 0x20)
			return false;
		if (c != '\\')
			continue;
		if (r->i >= r->n)
			return false;
		c = r->p[r->i++];
		if (c == 'u') {
			for (int k = 0; k < 4; k++, r->i++)
				if (r->i >= r->n || !strchr("0123456789abcdefABCDEF", r->p[r->i]) || !r->p[r->i])
					return false;
		} else if (!c || !strchr("\"\\/bfnrt", c)) {
			return false;
		}
	}
	return false;
}

static bool ref_value(struct ref *r, int depth);

static bool ref_container(struct ref *r, int depth, char close, bool object)
{
	if (depth > JSON_MAX_DEPTH)
		return false;
	r->i++;
	ref_ws(r);
	if (r->i < r->n && r->p[r->i] == close) {
		r->i++;
		return true;
	}
	for (;;) {
		ref_ws(r);
		if (object) {
			if (!ref_string(r))
				return false;
			ref_ws(r);
			if (r->i >= r->n || r->p[r->i] != ':')
				return false;
			r->i++;
			ref_ws(r);
		}
		if (!ref_value(r, depth))
			return false;
		ref_ws(r);
		if (r->i >= r->n)
			return false;
		if (r->p[r->i] == close) {
			r->i++;
			return true;
		}
		if (r->p[r->i] != ',')
			return false;
		r->i++;
	}
}

static bool ref_value(struct ref *r, int depth)
{
	if (r->i >= r->n)
		return false;
	switch (r->p[r->i]) {
	case '{':
		return ref_container(r, depth + 1, '}', true);
	case '[':
		return ref_container(r, depth + 1, ']', false);
	case '"':
		return ref_string(r);
	case 't':
		return ref_lit(r, "true");
	case 'f':
		return ref_lit(r, "false");
	case 'n':
		return ref_lit(r, "null");
	default:
		return ref_number(r);
	}
}

static bool ref_valid(const uint8_t *p, size_t n)
{
	struct ref r = {p, n, 0};
	ref_ws(&r);
	if (!ref_value(&r, 0))
		return false;
	ref_ws(&r);
	return r.i == n;
}

/* ---- checks on a parsed document ---- */

/* json_put_string(s) parses back to exactly s. */
static void check_roundtrip(const char *s, size_t n)
{
	struct buf b = {0};
	if (json_put_string(&b, s, n) < 0)
		abort();
	struct json_doc d;
	if (json_parse(&d, (const char *)buf_head(&b), buf_used(&b), 4) != JSON_OK || d.ntok != 1 ||
	    json_type(&d, 0) != JSON_STRING)
		abort();
	char *out = malloc(n + 1);
	size_t k;
	if (json_str(&d, 0, out, n, &k) != 0 || k != n || (n && memcmp(out, s, n) != 0))
		abort();
	free(out);
	json_free(&d);
	buf_free(&b);
}

/* Unescaped value of string token i into a new allocation; NULL on a lone surrogate. */
static char *unescaped(const struct json_doc *d, int i, size_t *n)
{
	size_t raw = (size_t)(d->tok[i].end - d->tok[i].start);
	char *s = malloc(raw + 1);
	if (json_str(d, i, s, raw, n) != 0) {
		free(s);
		return NULL;
	}
	s[*n] = 0;
	return s;
}

/* Checked members per object: each check is linear in the object, so all of
 * them would make the harness itself quadratic on an object of many keys. */
#define CHECKED_MEMBERS 64

static void check_object(const struct json_doc *d, int obj)
{
	int j = obj + 1, size = json_size(d, obj);
	for (int k = 0; k < size; k++) {
		size_t kn;
		char *key = k < CHECKED_MEMBERS || k == size - 1 ? unescaped(d, j, &kn) : NULL;
		if (key && strlen(key) == kn) {
			/* json_get finds the first member with this key. */
			int want = -1, m = obj + 1;
			for (int q = 0; q < json_size(d, obj) && want < 0; q++) {
				size_t qn;
				char *other = unescaped(d, m, &qn);
				if (other && qn == kn && memcmp(other, key, kn) == 0)
					want = m + 1;
				free(other);
				m = json_skip(d, m + 1);
			}
			if (json_get(d, obj, key) != want || want < 0)
				abort();
		}
		free(key);
		j = json_skip(d, j + 1);
	}
	if (j != json_skip(d, obj))
		abort();
}

static void check_tokens(const struct json_doc *d)
{
	for (int i = 0; i < d->ntok; i++) {
		enum json_type t = json_type(d, i);
		int end = json_skip(d, i);
		if (end <= i || end > d->ntok)
			abort();
		const char *p;
		size_t n;
		json_raw(d, i, &p, &n);
		if (p < d->js || p + n > d->js + d->len || n == 0)
			abort();
		if (t == JSON_ARRAY) {
			int j = i + 1;
			for (int k = 0; k < json_size(d, i); k++)
				j = json_skip(d, j);
			if (j != end)
				abort();
		} else if (t == JSON_OBJECT) {
			check_object(d, i);
		} else if (end != i + 1) {
			abort();
		}
		char tmp[8];
		size_t tn;
		if (t != JSON_STRING) {
			if (json_str(d, i, tmp, sizeof tmp, &tn) != -1 || json_str_eq(d, i, ""))
				abort();
			continue;
		}
		char *s = unescaped(d, i, &tn);
		if (!s)
			continue; /* a lone surrogate: valid JSON, refused by json_str */
		if (strlen(s) == tn && !json_str_eq(d, i, s))
			abort();
		check_roundtrip(s, tn);
		free(s);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_doc d;
	int rc = json_parse(&d, (const char *)data, size, INT_MAX);
	bool want = ref_valid(data, size);
	if (rc != JSON_OK && rc != JSON_MALFORMED)
		abort();
	if ((rc == JSON_OK) != want)
		abort();
	if (rc == JSON_OK) {
		if (d.ntok < 1 || json_skip(&d, 0) != d.ntok)
			abort();
		check_tokens(&d);
		json_free(&d);
	}
	/* Any bytes at all, written as a JSON string, read back the same. */
	check_roundtrip((const char *)data, size);

	/* A small token budget never breaks anything either. */
	rc = json_parse(&d, (const char *)data, size, 3);
	if (rc == JSON_OK) {
		if (d.ntok > 3)
			abort();
		json_free(&d);
	}
	return 0;
}
