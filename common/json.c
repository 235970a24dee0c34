/* The jsmn implementation lives in this file only (static functions). */
#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include "json.h"
#include "hex.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* jsmn tokenizes but accepts some non-JSON (missing commas, "tru", 01,
 * control characters in strings); this walk checks the grammar between and
 * inside tokens so that what we forward verbatim is always valid JSON. */
struct walk {
	const struct json_doc *d;
	size_t pos;
	int depth;
};

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static bool skip_ws_to(struct walk *w, size_t end)
{
	for (; w->pos < end; w->pos++)
		if (!is_ws(w->d->js[w->pos]))
			return false;
	return true;
}

/* Skips whitespace and one expected punctuation character. */
static bool expect_punct(struct walk *w, char c, size_t limit)
{
	while (w->pos < limit && is_ws(w->d->js[w->pos]))
		w->pos++;
	if (w->pos >= limit || w->d->js[w->pos] != c)
		return false;
	w->pos++;
	return true;
}

static bool valid_number(const char *p, size_t n)
{
	size_t i = 0;
	if (i < n && p[i] == '-')
		i++;
	if (i >= n)
		return false;
	if (p[i] == '0') {
		i++;
	} else if (p[i] >= '1' && p[i] <= '9') {
		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++;
	} else {
		return false;
	}
	if (i < n && p[i] == '.') {
		size_t s = ++i;
		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == s)
			return false;
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		size_t s = i;
		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == s)
			return false;
	}
	return i == n;
}

static bool valid_primitive(const char *p, size_t n)
{
	if ((n == 4 && memcmp(p, "true", 4) == 0) || (n == 5 && memcmp(p, "false", 5) == 0) ||
	    (n == 4 && memcmp(p, "null", 4) == 0))
		return true;
	return valid_number(p, n);
}

static bool valid_string_body(const char *p, size_t n)
{
	/* eight bytes at a time: a byte below 0x20 sets its top bit in
	 * (x - 0x20 in each byte) & ~x (the classic "has a byte less than") */
	const uint64_t ones = 0x0101010101010101u, tops = 0x8080808080808080u;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t x;
		memcpy(&x, p + i, 8);
		if ((x - 0x20 * ones) & ~x & tops)
			return false;
	}
	for (; i < n; i++)
		if ((unsigned char)p[i] < 0x20)
			return false;
	return true; /* escapes were checked by jsmn in strict mode */
}

static int walk_value(struct walk *w, int i);

static int walk_container(struct walk *w, int i, bool object)
{
	const jsmntok_t *t = &w->d->tok[i];
	if (++w->depth > JSON_MAX_DEPTH)
		return -1;
	w->pos = (size_t)t->start + 1;
	size_t close = (size_t)t->end - 1;
	int j = i + 1;
	for (int k = 0; k < t->size; k++) {
		if (k > 0 && !expect_punct(w, ',', close))
			return -1;
		if (j >= w->d->ntok)
			return -1;
		if (object) {
			if (w->d->tok[j].type != JSMN_STRING || w->d->tok[j].size != 1)
				return -1;
			size_t s = (size_t)w->d->tok[j].start - 1;
			if (!skip_ws_to(w, s) || !valid_string_body(w->d->js + s + 1,
						(size_t)(w->d->tok[j].end - w->d->tok[j].start)))
				return -1;
			w->pos = (size_t)w->d->tok[j].end + 1;
			j++;
			if (!expect_punct(w, ':', close) || j >= w->d->ntok)
				return -1;
		}
		if ((j = walk_value(w, j)) < 0)
			return -1;
	}
	if (!skip_ws_to(w, close) || w->d->js[close] != (object ? '}' : ']'))
		return -1;
	w->pos = close + 1;
	w->depth--;
	return j;
}

static int walk_value(struct walk *w, int i)
{
	const jsmntok_t *t = &w->d->tok[i];
	const char *js = w->d->js;
	switch (t->type) {
	case JSMN_PRIMITIVE:
		if (!skip_ws_to(w, (size_t)t->start) ||
		    !valid_primitive(js + t->start, (size_t)(t->end - t->start)))
			return -1;
		w->pos = (size_t)t->end;
		return i + 1;
	case JSMN_STRING:
		if (t->size != 0 || !skip_ws_to(w, (size_t)t->start - 1) ||
		    !valid_string_body(js + t->start, (size_t)(t->end - t->start)))
			return -1;
		w->pos = (size_t)t->end + 1;
		return i + 1;
	case JSMN_OBJECT:
		if (!skip_ws_to(w, (size_t)t->start))
			return -1;
		return walk_container(w, i, true);
	case JSMN_ARRAY:
		if (!skip_ws_to(w, (size_t)t->start))
			return -1;
		return walk_container(w, i, false);
	default:
		return -1;
	}
}

/* Where the string whose body starts at i ends (its closing quote, or len):
 * a backslash always escapes the next byte. memchr, not a byte loop: this
 * runs over every client message (issue 12, point 2). */
static size_t string_end(const char *js, size_t len, size_t i)
{
	const char *q = i < len ? memchr(js + i, '"', len - i) : NULL;
	size_t end = q ? (size_t)(q - js) : len; /* the next quote: each byte is searched once */
	for (;;) {
		const char *bs = i < end ? memchr(js + i, '\\', end - i) : NULL;
		if (!bs)
			return end < len ? end : len;
		i = (size_t)(bs - js) + 2; /* past the escaped byte */
		if (i > end) {            /* it was the quote: find the next one */
			q = i < len ? memchr(js + i, '"', len - i) : NULL;
			end = q ? (size_t)(q - js) : len;
		}
	}
}

/* Nesting depth, checked in one linear pass before jsmn runs: jsmn closes a
 * bracket by walking parent links up from its newest token, so n nested
 * brackets cost it n²/2 steps (seconds for a few hundred KB). Inside strings
 * a backslash always escapes the next byte (that is all JSON allows). */
static bool depth_ok(const char *js, size_t len)
{
	int depth = 0;
	for (size_t i = 0; i < len; i++) {
		switch (js[i]) {
		case '"':
			i = string_end(js, len, i + 1);
			break;
		case '[':
		case '{':
			if (++depth > JSON_MAX_DEPTH)
				return false;
			break;
		case ']':
		case '}':
			if (--depth < 0)
				return false;
			break;
		default:
			break;
		}
	}
	return true;
}

/* A lone top-level number or literal: jsmn (strict) wants a delimiter after
 * every primitive, which the end of the text is not. */
static int parse_bare_primitive(struct json_doc *d, size_t start, size_t end)
{
	while (end > start && is_ws(d->js[end - 1]))
		end--;
	if (!valid_primitive(d->js + start, end - start))
		return JSON_MALFORMED;
	d->tok = calloc(1, sizeof(jsmntok_t));
	if (!d->tok)
		return JSON_NOMEM;
	d->tok[0].type = JSMN_PRIMITIVE;
	d->tok[0].start = (int)start;
	d->tok[0].end = (int)end;
	d->tok[0].parent = -1;
	d->ntok = 1;
	return JSON_OK;
}

/* The usual small document in one jsmn pass, into scratch tokens then a
 * copy of the right size: the count-then-parse of counted_parse costs a
 * second pass over every client message (issue 12, point 2). 0: not done
 * here (more tokens than the scratch holds, or malformed: counted_parse
 * gives the verdict, so errors are reported exactly as before). */
static int small_parse(struct json_doc *d, int max_tokens)
{
	static _Thread_local jsmntok_t scratch[64];
	unsigned cap = max_tokens < 64 ? (unsigned)(max_tokens > 0 ? max_tokens : 0) : 64;
	jsmn_parser p;
	jsmn_init(&p);
	int n = cap ? jsmn_parse(&p, d->js, d->len, scratch, cap) : 0;
	if (n <= 0)
		return 0;
	d->tok = malloc(sizeof(jsmntok_t) * (size_t)n);
	if (!d->tok)
		return JSON_NOMEM;
	memcpy(d->tok, scratch, sizeof(jsmntok_t) * (size_t)n);
	d->ntok = n;
	return n;
}

/* Any size: counts the tokens first, then parses into exactly that many. */
static int counted_parse(struct json_doc *d, int max_tokens)
{
	jsmn_parser p;
	jsmn_init(&p);
	int n = jsmn_parse(&p, d->js, d->len, NULL, 0);
	if (n == JSMN_ERROR_NOMEM || n > max_tokens)
		return JSON_TOO_BIG;
	if (n <= 0)
		return JSON_MALFORMED;
	d->tok = malloc(sizeof(jsmntok_t) * (size_t)n);
	if (!d->tok)
		return JSON_NOMEM;
	jsmn_init(&p);
	d->ntok = jsmn_parse(&p, d->js, d->len, d->tok, (unsigned)n);
	if (d->ntok != n) {
		json_free(d);
		return JSON_MALFORMED;
	}
	return n;
}

int json_parse(struct json_doc *d, const char *js, size_t len, int max_tokens)
{
	memset(d, 0, sizeof *d);
	d->js = js;
	d->len = len;
	if (len > (size_t)INT32_MAX / 2)
		return JSON_TOO_BIG; /* jsmn keeps offsets in ints */
	size_t first = 0;
	while (first < len && is_ws(js[first]))
		first++;
	if (first < len && js[first] != '{' && js[first] != '[' && js[first] != '"')
		return parse_bare_primitive(d, first, len);
	if (!depth_ok(js, len))
		return JSON_MALFORMED;
	int n = small_parse(d, max_tokens);
	if (n == 0)
		n = counted_parse(d, max_tokens);
	if (n < 0)
		return n;
	struct walk w = {d, 0, 0};
	if (walk_value(&w, 0) != n || !skip_ws_to(&w, len)) {
		json_free(d);
		return JSON_MALFORMED;
	}
	return JSON_OK;
}

void json_free(struct json_doc *d)
{
	free(d->tok);
	d->tok = NULL;
	d->ntok = 0;
}

enum json_type json_type(const struct json_doc *d, int i)
{
	const jsmntok_t *t = &d->tok[i];
	switch (t->type) {
	case JSMN_OBJECT:
		return JSON_OBJECT;
	case JSMN_ARRAY:
		return JSON_ARRAY;
	case JSMN_STRING:
		return JSON_STRING;
	default:
		switch (d->js[t->start]) {
		case 't':
			return JSON_TRUE;
		case 'f':
			return JSON_FALSE;
		case 'n':
			return JSON_NULL;
		default:
			return JSON_NUMBER;
		}
	}
}

int json_skip(const struct json_doc *d, int i)
{
	/* Every token of the subtree starts before the root's end. */
	int end = d->tok[i].end;
	int j = i + 1;
	while (j < d->ntok && d->tok[j].start < end)
		j++;
	return j;
}

int json_get(const struct json_doc *d, int obj, const char *key)
{
	if (obj < 0 || obj >= d->ntok || d->tok[obj].type != JSMN_OBJECT)
		return -1;
	int j = obj + 1;
	for (int k = 0; k < d->tok[obj].size; k++) {
		if (json_str_eq(d, j, key))
			return j + 1;
		j = json_skip(d, j + 1);
	}
	return -1;
}

void json_raw(const struct json_doc *d, int i, const char **p, size_t *n)
{
	const jsmntok_t *t = &d->tok[i];
	int quote = t->type == JSMN_STRING ? 1 : 0;
	*p = d->js + t->start - quote;
	*n = (size_t)(t->end - t->start + 2 * quote);
}


static long read_u16hex(const char *p)
{
	long v = 0;
	for (int k = 0; k < 4; k++) {
		int h = hex_digit(p[k]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static size_t put_utf8(char *o, unsigned long cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Decodes one escape at p (after the backslash); returns bytes of input used. */
static int decode_escape(const char *p, const char *end, char *o, size_t *olen)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *hit = strchr(from, *p);
	if (*p != 'u') {
		if (!hit || !*p)
			return -1;
		o[0] = to[hit - from];
		*olen = 1;
		return 1;
	}
	if (end - p < 5)
		return -1;
	long cp = read_u16hex(p + 1);
	int used = 5;
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return -1;
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		if (end - p < 11 || p[5] != '\\' || p[6] != 'u')
			return -1;
		long lo = read_u16hex(p + 7);
		if (lo < 0xDC00 || lo > 0xDFFF)
			return -1;
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
		used = 11;
	}
	if (cp < 0)
		return -1;
	*olen = put_utf8(o, (unsigned long)cp);
	return used;
}

int json_str(const struct json_doc *d, int i, char *out, size_t cap, size_t *outlen)
{
	const jsmntok_t *t = &d->tok[i];
	if (t->type != JSMN_STRING)
		return -1;
	const char *p = d->js + t->start, *end = d->js + t->end;
	size_t n = 0;
	while (p < end) {
		char tmp[4];
		size_t k = 1;
		if (*p == '\\') {
			int used = decode_escape(p + 1, end, tmp, &k);
			if (used < 0)
				return -1;
			p += 1 + used;
		} else {
			tmp[0] = *p++;
		}
		if (n + k > cap)
			return -1;
		memcpy(out + n, tmp, k);
		n += k;
	}
	*outlen = n;
	return 0;
}

bool json_str_eq(const struct json_doc *d, int i, const char *lit)
{
	const jsmntok_t *t = &d->tok[i];
	size_t litlen = strlen(lit);
	if (t->type != JSMN_STRING)
		return false;
	size_t raw = (size_t)(t->end - t->start);
	/* Fast path: no escapes, compare in place. Only then: the raw text
	 * "q\"k" spells the key q"k, not the literal q\"k. */
	if (!memchr(d->js + t->start, '\\', raw))
		return raw == litlen && memcmp(d->js + t->start, lit, litlen) == 0;
	/* Unescaping never lengthens a string, so a longer literal cannot match;
	 * a long one that can gets a heap buffer instead of a false "no". */
	if (litlen > raw)
		return false;
	char tmp[256], *out = litlen <= sizeof tmp ? tmp : malloc(litlen);
	if (!out)
		return false;
	size_t n;
	bool eq = json_str(d, i, out, litlen, &n) == 0 && n == litlen && memcmp(out, lit, n) == 0;
	if (out != tmp)
		free(out);
	return eq;
}

int json_put_string(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	if (buf_reserve(b, n + 2) < 0)
		return -1;
	b->data[b->len++] = '"';
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if (buf_append(b, s + run, i - run) < 0)
			return -1;
		run = i + 1;
		char esc[6] = {'\\', 0, 0, 0, 0, 0};
		size_t k = 2;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		default:
			esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
			esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
			k = 6;
		}
		if (buf_append(b, esc, k) < 0)
			return -1;
	}
	/* s may be NULL when n is 0 (msgpack's empty string): no pointer sums then */
	if (n > run && buf_append(b, s + run, n - run) < 0)
		return -1;
	return buf_append(b, "\"", 1);
}
