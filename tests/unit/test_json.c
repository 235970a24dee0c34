/* common/json: parsing with the grammar walk, lookups, unescaping, writing. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/json.h"
#include "check.h"

/* json_parse on a private exact-size copy, so ASan sees reads past the end. */
static int parse_n(struct json_doc *d, const char *s, size_t n, int max_tokens, char **copy)
{
	*copy = malloc(n ? n : 1);
	memcpy(*copy, s, n);
	return json_parse(d, *copy, n, max_tokens);
}

static int rc_of(const char *s)
{
	struct json_doc d;
	char *copy;
	int rc = parse_n(&d, s, strlen(s), 4096, &copy);
	json_free(&d);
	free(copy);
	return rc;
}

static void valid(const char *name, const char *s) { CHECK(name, rc_of(s) == JSON_OK); }
static void invalid(const char *name, const char *s) { CHECK(name, rc_of(s) == JSON_MALFORMED); }

static void test_grammar(void)
{
	valid("json: empty object", "{}");
	valid("json: empty array", "[]");
	valid("json: simple object", "{\"a\":1}");
	valid("json: nested document", "{\"a\":[1,2,{\"b\":null}],\"c\":true,\"d\":false,\"e\":\"s\",\"f\":{}}");
	valid("json: whitespace everywhere", " \t\r\n{ \"a\" :\n1 , \"b\"\t: [ 1 , 2 ] } \n");
	valid("json: numbers", "[0,-0,1,-1,12.5,0.001,1e10,1E+2,-1e-2,123456789012345678901234567890]");
	valid("json: escapes in strings", "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00\"]");
	valid("json: UTF-8 in strings", "[\"caf\xC3\xA9 \xE2\x82\xAC\"]");
	valid("json: top-level string", "\"just a string\"");
	valid("json: top-level number", "42");
	valid("json: top-level number with whitespace", " -1.5e3 ");
	valid("json: top-level true", "true");
	valid("json: top-level null", "null");
	valid("json: empty key", "{\"\":1}");
	valid("json: duplicate keys are JSON", "{\"a\":1,\"a\":2}");

	invalid("json: empty input", "");
	invalid("json: whitespace only", " \n ");
	invalid("json: missing comma in object", "{\"a\":1 \"b\":2}");
	invalid("json: missing comma in array", "[1 2]");
	invalid("json: missing comma between strings", "[\"a\" \"b\"]");
	invalid("json: trailing comma in array", "[1,]");
	invalid("json: trailing comma in object", "{\"a\":1,}");
	invalid("json: leading comma", "[,1]");
	invalid("json: double comma", "[1,,2]");
	invalid("json: tru", "[tru]");
	invalid("json: top-level tru", "tru");
	invalid("json: truex", "[truex]");
	invalid("json: nul", "{\"a\":nul}");
	invalid("json: True capitalised", "[True]");
	invalid("json: leading zero 01", "[01]");
	invalid("json: top-level 01", "01");
	invalid("json: -01", "[-01]");
	invalid("json: 1.", "[1.]");
	invalid("json: .5", "[.5]");
	invalid("json: +1", "[+1]");
	invalid("json: 1e", "[1e]");
	invalid("json: 1e+", "[1e+]");
	invalid("json: lone minus", "[-]");
	invalid("json: hex number", "[0x10]");
	invalid("json: control char in string", "[\"a\x01b\"]");
	invalid("json: raw newline in string", "[\"a\nb\"]");
	invalid("json: raw tab in string", "[\"a\tb\"]");
	invalid("json: control char in key", "{\"a\x1f\":1}");
	invalid("json: bad escape \\x", "[\"\\x41\"]");
	invalid("json: bad escape \\'", "[\"\\'\"]");
	invalid("json: short \\u escape", "[\"\\u12\"]");
	invalid("json: non-hex \\u escape", "[\"\\u12G4\"]");
	invalid("json: unterminated string", "[\"abc]");
	invalid("json: unterminated array", "[1,2");
	invalid("json: unterminated object", "{\"a\":1");
	invalid("json: trailing garbage", "{} x");
	invalid("json: two documents", "{} {}");
	invalid("json: two top-level numbers", "1 2");
	invalid("json: extra closing brace", "{}}");
	invalid("json: extra closing bracket", "[1]]");
	invalid("json: mismatched brackets", "[1}");
	invalid("json: key without value", "{\"a\"}");
	invalid("json: key with colon but no value", "{\"a\":}");
	invalid("json: missing colon", "{\"a\" 1}");
	invalid("json: number as key", "{1:2}");
	invalid("json: colon in array", "[1:2]");
	invalid("json: chained colons", "{\"a\":\"b\":\"c\"}");
	invalid("json: object as key", "{{}:1}");
	invalid("json: single quotes", "['a']");
	invalid("json: comment", "[1 /* c */]");
	CHECK("json: NUL after the document is garbage", json_parse(&(struct json_doc){0}, "{}\0", 3, 16) == JSON_MALFORMED);
	CHECK("json: NUL inside a string rejected", json_parse(&(struct json_doc){0}, "[\"a\0b\"]", 7, 16) == JSON_MALFORMED);

	/* Depth: JSON_MAX_DEPTH nested containers are fine, one more is not. */
	char deep[2 * (JSON_MAX_DEPTH + 1) + 1];
	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		deep[i] = '[', deep[2 * JSON_MAX_DEPTH - 1 - i] = ']';
	deep[2 * JSON_MAX_DEPTH] = 0;
	CHECK("json: depth JSON_MAX_DEPTH accepted", rc_of(deep) == JSON_OK);
	for (int i = 0; i <= JSON_MAX_DEPTH; i++)
		deep[i] = '[', deep[2 * JSON_MAX_DEPTH + 1 - i] = ']';
	deep[2 * JSON_MAX_DEPTH + 2] = 0;
	CHECK("json: depth JSON_MAX_DEPTH + 1 rejected", rc_of(deep) == JSON_MALFORMED);
	struct buf b = {0};
	for (int i = 0; i <= JSON_MAX_DEPTH; i++)
		buf_append_str(&b, "{\"k\":");
	buf_append_str(&b, "1");
	for (int i = 0; i <= JSON_MAX_DEPTH; i++)
		buf_append_str(&b, "}");
	buf_append(&b, "", 1);
	CHECK("json: objects nested past JSON_MAX_DEPTH rejected", rc_of((const char *)buf_head(&b)) == JSON_MALFORMED);
	/* Brackets inside strings (escaped quotes too) are no nesting. */
	buf_reset(&b);
	buf_append_str(&b, "[\"\\\"");
	for (int i = 0; i <= 2 * JSON_MAX_DEPTH; i++)
		buf_append_str(&b, "[{");
	buf_append_str(&b, "\\\\\",\"\\\"]\"]");
	buf_append(&b, "", 1);
	CHECK("json: brackets in strings do not count as depth", rc_of((const char *)buf_head(&b)) == JSON_OK);
	invalid("json: closing bracket first", "][");
	invalid("json: more closing than opening", "[1]]");
	buf_free(&b);

	struct json_doc d;
	char *copy;
	CHECK("json: more tokens than allowed gives JSON_TOO_BIG", parse_n(&d, "[1,2,3,4]", 9, 4, &copy) == JSON_TOO_BIG);
	free(copy);
	CHECK("json: exactly max tokens accepted", parse_n(&d, "[1,2,3,4]", 9, 5, &copy) == JSON_OK && d.ntok == 5);
	json_free(&d);
	free(copy);
	CHECK("json: json_free clears tokens", d.tok == NULL && d.ntok == 0);
	/* json.c parses up to 64 tokens in one pass, more by counting first:
	 * both sides of that line give the same tokens and the same verdicts */
	for (int n = 61; n <= 66; n++) {
		struct buf a = {0};
		buf_append_str(&a, "[");
		for (int i = 1; i < n; i++)
			buf_printf(&a, "%s%d", i > 1 ? "," : "", i);
		buf_append_str(&a, "]");
		char what[96];
		snprintf(what, sizeof what, "json: %d tokens parsed whole, the last one right", n);
		int rc = parse_n(&d, (const char *)buf_head(&a), buf_used(&a), 65536, &copy);
		CHECK(what, rc == JSON_OK && d.ntok == n && d.tok[n - 1].end - d.tok[n - 1].start == (n - 1 > 9 ? 2 : 1));
		json_free(&d);
		free(copy);
		snprintf(what, sizeof what, "json: %d tokens against a limit of %d: JSON_TOO_BIG", n, n - 1);
		CHECK(what, parse_n(&d, (const char *)buf_head(&a), buf_used(&a), n - 1, &copy) == JSON_TOO_BIG);
		free(copy);
		snprintf(what, sizeof what, "json: %d tokens with a missing comma: malformed", n);
		char *p = (char *)buf_head(&a);
		size_t k = buf_used(&a);
		while (p[--k] != ',')
			; /* the last separator: "[1,...,64 65]" (the buffer has no NUL) */
		p[k] = ' ';
		CHECK(what, parse_n(&d, p, buf_used(&a), 65536, &copy) == JSON_MALFORMED);
		free(copy);
		buf_free(&a);
	}
}

static double cpu_seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Parses n bytes of text made by fill; reports the result and its CPU time. */
static int timed_parse(size_t cap, size_t (*fill)(char *, size_t), double *secs)
{
	char *s = malloc(cap);
	size_t n = fill(s, cap);
	struct json_doc d;
	double t0 = cpu_seconds();
	int rc = json_parse(&d, s, n, 1 << 30);
	*secs = cpu_seconds() - t0;
	json_free(&d);
	free(s);
	return rc;
}

static size_t fill_nested(char *s, size_t cap)
{
	memset(s, '[', cap / 2);
	memset(s + cap / 2, ']', cap / 2);
	return cap / 2 * 2;
}

static size_t fill_unclosed(char *s, size_t cap)
{
	memset(s, '{', cap);
	return cap;
}

/* The costliest shape within the depth limit: teeth of JSON_MAX_DEPTH
 * levels, each closing bracket of a tooth walked up from its deepest token. */
static size_t fill_teeth(char *s, size_t cap)
{
	size_t n = 0, tooth = 2 * (JSON_MAX_DEPTH - 1) + 1;
	s[n++] = '[';
	while (n + tooth + 1 <= cap) {
		memset(s + n, '[', JSON_MAX_DEPTH - 1);
		memset(s + n + JSON_MAX_DEPTH - 1, ']', JSON_MAX_DEPTH - 1);
		n += tooth;
		s[n - 1] = ',';
	}
	s[n - 1] = ']';
	return n;
}

static size_t fill_flat_numbers(char *s, size_t cap)
{
	size_t n = 0;
	s[n++] = '[';
	while (n + 3 <= cap)
		s[n++] = '1', s[n++] = ',';
	s[n - 1] = ']';
	return n;
}

static size_t fill_flat_members(char *s, size_t cap)
{
	size_t n = 0;
	s[n++] = '{';
	for (int k = 0; n + 32 <= cap; k++)
		n += (size_t)snprintf(s + n, cap - n, "\"k%d\":[{},\"\\n\"],", k);
	s[n - 1] = '}';
	return n;
}

static size_t fill_long_string(char *s, size_t cap)
{
	size_t i = 1;
	s[0] = '"';
	for (; i + 3 <= cap; i += 2) {
		bool esc = i & 2;
		s[i] = esc ? '\\' : '[', s[i + 1] = esc ? '"' : '}';
	}
	s[i] = '"';
	return i + 1;
}

/* Nesting used to be checked after jsmn, whose closing walk is quadratic in
 * depth: 128 KB of brackets took 4-10 s, a megabyte minutes. The bounds are
 * CPU seconds, generous for a loaded ASan run and far below the old cost. */
static void test_cost(void)
{
	double t;
	CHECK("json: 128 KB of nested brackets rejected fast",
	      timed_parse(128 << 10, fill_nested, &t) == JSON_MALFORMED && t < 1.0);
	CHECK("json: 1 MB of nested brackets rejected fast",
	      timed_parse(1 << 20, fill_nested, &t) == JSON_MALFORMED && t < 1.0);
	CHECK("json: 1 MB of unclosed braces rejected fast",
	      timed_parse(1 << 20, fill_unclosed, &t) == JSON_MALFORMED && t < 1.0);
	int rc = timed_parse(1 << 20, fill_teeth, &t);
	printf("# json: 1 MB of teeth %d deep: %.3f s\n", JSON_MAX_DEPTH, t);
	CHECK("json: 1 MB of teeth at the depth limit parsed fast", rc == JSON_OK && t < 3.0);
	CHECK("json: 1 MB flat array of numbers parsed fast",
	      timed_parse(1 << 20, fill_flat_numbers, &t) == JSON_OK && t < 3.0);
	CHECK("json: 1 MB flat object of members parsed fast",
	      timed_parse(1 << 20, fill_flat_members, &t) == JSON_OK && t < 3.0);
	CHECK("json: 1 MB string of escapes and brackets parsed fast",
	      timed_parse(1 << 20, fill_long_string, &t) == JSON_OK && t < 1.0);
}

static void test_access(void)
{
	const char *s = "{\"a\":1,\"b\\u0063\":[true,false,null,-2.5],\"q\\\"k\":\"v\\n\",\"x\":{\"a\":9,\"z\":0},"
			"\"e\\u0301\":\"accent\",\"sl\\/\":3,\"last\":{}}";
	struct json_doc d;
	char *copy;
	int rc = parse_n(&d, s, strlen(s), 256, &copy);
	CHECK("json: access document parses", rc == JSON_OK);
	if (rc != JSON_OK) {
		free(copy);
		return;
	}
	CHECK("json: root is an object of 7 members", json_type(&d, 0) == JSON_OBJECT && json_size(&d, 0) == 7);
	int a = json_get(&d, 0, "a");
	CHECK("json: json_get plain key", a > 0 && json_type(&d, a) == JSON_NUMBER);
	int bc = json_get(&d, 0, "bc");
	CHECK("json: json_get matches an escaped key (b\\u0063)", bc > 0 && json_type(&d, bc) == JSON_ARRAY && json_size(&d, bc) == 4);
	CHECK("json: types of array elements",
	      json_type(&d, bc + 1) == JSON_TRUE && json_type(&d, bc + 2) == JSON_FALSE && json_type(&d, bc + 3) == JSON_NULL &&
		  json_type(&d, bc + 4) == JSON_NUMBER);
	CHECK("json: raw escaped spelling is not the key", json_get(&d, 0, "b\\u0063") == -1);
	int qk = json_get(&d, 0, "q\"k");
	CHECK("json: json_get key with an escaped quote", qk > 0 && json_type(&d, qk) == JSON_STRING);
	CHECK("json: key's raw text (with backslash) does not match", json_get(&d, 0, "q\\\"k") == -1);
	CHECK("json: json_get key with an escaped slash", json_get(&d, 0, "sl/") > 0 && json_get(&d, 0, "sl\\/") == -1);
	CHECK("json: json_get key with \\u0301", json_get(&d, 0, "e\xCC\x81") > 0);
	int x = json_get(&d, 0, "x");
	CHECK("json: nested keys are not top-level keys", json_get(&d, 0, "z") == -1);
	int za = json_get(&d, x, "a");
	const char *p;
	size_t n;
	json_raw(&d, za, &p, &n);
	CHECK("json: json_get in a nested object", za > x && n == 1 && *p == '9');
	CHECK("json: json_get on an array is -1", json_get(&d, bc, "a") == -1);
	CHECK("json: json_get on a bad index is -1", json_get(&d, -1, "a") == -1 && json_get(&d, d.ntok, "a") == -1);
	CHECK("json: json_get of a missing key", json_get(&d, 0, "nope") == -1);
	CHECK("json: json_get of the last member", json_get(&d, 0, "last") == d.ntok - 1);
	CHECK("json: json_skip over the whole document", json_skip(&d, 0) == d.ntok);
	CHECK("json: json_skip over an array", json_skip(&d, bc) == bc + 5);
	CHECK("json: json_skip over a scalar", json_skip(&d, a) == a + 1);
	CHECK("json: json_skip over a nested object", json_skip(&d, x) == x + 5);

	json_raw(&d, qk, &p, &n);
	CHECK("json: json_raw of a string keeps quotes and escapes", n == 5 && memcmp(p, "\"v\\n\"", 5) == 0);
	json_raw(&d, bc + 4, &p, &n);
	CHECK("json: json_raw of a number", n == 4 && memcmp(p, "-2.5", 4) == 0);
	json_raw(&d, x, &p, &n);
	CHECK("json: json_raw of an object", n == 13 && memcmp(p, "{\"a\":9,\"z\":0}", 13) == 0);
	char out[16];
	CHECK("json: json_str_eq unescapes", json_str_eq(&d, qk, "v\n") && !json_str_eq(&d, qk, "v\\n"));
	CHECK("json: json_str_eq on a number is false", !json_str_eq(&d, a, "1"));
	CHECK("json: json_str on a number is -1", json_str(&d, a, out, sizeof out, &n) == -1);
	json_free(&d);
	free(copy);
}

/* Unescapes the single top-level string of s. */
static int unescape(const char *s, char *out, size_t cap, size_t *n)
{
	struct json_doc d;
	char *copy;
	int rc = parse_n(&d, s, strlen(s), 4, &copy);
	if (rc == JSON_OK)
		rc = json_str(&d, 0, out, cap, n);
	else
		rc = -2;
	json_free(&d);
	free(copy);
	return rc;
}

static void test_unescape(void)
{
	char out[64];
	size_t n = 0;
	CHECK("json: simple escapes",
	      unescape("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", out, sizeof out, &n) == 0 && n == 8 && memcmp(out, "\"\\/\b\f\n\r\t", 8) == 0);
	CHECK("json: \\u0041 is A", unescape("\"\\u0041\"", out, sizeof out, &n) == 0 && n == 1 && out[0] == 'A');
	CHECK("json: \\u0000 gives a NUL byte", unescape("\"a\\u0000b\"", out, sizeof out, &n) == 0 && n == 3 && out[1] == 0);
	CHECK("json: \\u00e9 is 2-byte UTF-8", unescape("\"\\u00e9\"", out, sizeof out, &n) == 0 && n == 2 && memcmp(out, "\xC3\xA9", 2) == 0);
	CHECK("json: \\u07FF is 2-byte UTF-8", unescape("\"\\u07FF\"", out, sizeof out, &n) == 0 && n == 2 && memcmp(out, "\xDF\xBF", 2) == 0);
	CHECK("json: \\u20AC is 3-byte UTF-8", unescape("\"\\u20AC\"", out, sizeof out, &n) == 0 && n == 3 && memcmp(out, "\xE2\x82\xAC", 3) == 0);
	CHECK("json: \\uFFFF is 3-byte UTF-8", unescape("\"\\uffff\"", out, sizeof out, &n) == 0 && n == 3 && memcmp(out, "\xEF\xBF\xBF", 3) == 0);
	CHECK("json: surrogate pair is one 4-byte character",
	      unescape("\"x\\ud83d\\ude00y\"", out, sizeof out, &n) == 0 && n == 6 && memcmp(out, "x\xF0\x9F\x98\x80y", 6) == 0);
	CHECK("json: highest surrogate pair is U+10FFFF",
	      unescape("\"\\uDBFF\\uDFFF\"", out, sizeof out, &n) == 0 && n == 4 && memcmp(out, "\xF4\x8F\xBF\xBF", 4) == 0);
	CHECK("json: lone high surrogate refused", unescape("\"\\ud800\"", out, sizeof out, &n) == -1);
	CHECK("json: lone high surrogate before text refused", unescape("\"\\ud800abcdef\"", out, sizeof out, &n) == -1);
	CHECK("json: lone low surrogate refused", unescape("\"\\udc00\"", out, sizeof out, &n) == -1);
	CHECK("json: high surrogate then non-surrogate refused", unescape("\"\\ud800\\u0041\"", out, sizeof out, &n) == -1);
	CHECK("json: two high surrogates refused", unescape("\"\\ud800\\ud800\"", out, sizeof out, &n) == -1);
	CHECK("json: high surrogate then \\n refused", unescape("\"\\ud800\\n\"", out, sizeof out, &n) == -1);
	CHECK("json: reversed pair refused", unescape("\"\\ude00\\ud83d\"", out, sizeof out, &n) == -1);
	CHECK("json: output exactly fits", unescape("\"abc\\u20ac\"", out, 6, &n) == 0 && n == 6);
	CHECK("json: output one byte short refused", unescape("\"abc\\u20ac\"", out, 5, &n) == -1);
	CHECK("json: empty string", unescape("\"\"", out, 0, &n) == 0 && n == 0);
	CHECK("json: UTF-8 passes through", unescape("\"\xC3\xA9\"", out, sizeof out, &n) == 0 && n == 2);

	/* json_str_eq and json_get with long escaped strings (past any scratch buffer). */
	struct buf lb = {0};
	char lit[400];
	memset(lit, 'k', sizeof lit - 1);
	lit[sizeof lit - 1] = 0;
	buf_append_str(&lb, "{\"\\u006b");
	buf_append(&lb, lit, sizeof lit - 2);
	buf_append_str(&lb, "\":1}");
	struct json_doc d;
	char *copy;
	int rc = parse_n(&d, (const char *)buf_head(&lb), buf_used(&lb), 8, &copy);
	CHECK("json: json_get finds a 399-byte escaped key", rc == JSON_OK && json_get(&d, 0, lit) == 2);
	lit[398] = 'x';
	CHECK("json: json_get refuses a 399-byte key differing in its last byte", rc == JSON_OK && json_get(&d, 0, lit) == -1);
	lit[398] = 0;
	CHECK("json: json_get refuses a prefix of a long key", rc == JSON_OK && json_get(&d, 0, lit) == -1);
	if (rc == JSON_OK)
		json_free(&d);
	free(copy);
	buf_free(&lb);

	/* Unescaping never needs more room than the raw text. */
	CHECK("json: \\u escapes shrink", unescape("\"\\u0061\\u00e9\\u20ac\\ud83d\\ude00\"", out, 10, &n) == 0 && n == 10);
}

/* json_put_string then json_parse + json_str gives back the same bytes. */
static bool roundtrip(const char *s, size_t n, struct buf *b)
{
	buf_reset(b);
	if (json_put_string(b, s, n) < 0)
		return false;
	struct json_doc d;
	char *copy;
	bool ok = false;
	if (parse_n(&d, (const char *)buf_head(b), buf_used(b), 4, &copy) == JSON_OK && d.ntok == 1) {
		char *out = malloc(n + 1);
		size_t k;
		ok = json_str(&d, 0, out, n, &k) == 0 && k == n && memcmp(out, s, n) == 0;
		free(out);
	}
	json_free(&d);
	free(copy);
	return ok;
}

static void test_write(void)
{
	struct buf b = {0};
	json_put_string(&b, "plain", 5);
	CHECK("json: plain string quoted", buf_used(&b) == 7 && memcmp(buf_head(&b), "\"plain\"", 7) == 0);
	buf_reset(&b);
	json_put_string(&b, "q\"b\\n\nt\tc\x01\x1f\x7f", 12);
	const char *want = "\"q\\\"b\\\\n\\nt\\tc\\u0001\\u001f\x7f\"";
	CHECK("json: quote, backslash and controls escaped; DEL kept", buf_used(&b) == strlen(want) && memcmp(buf_head(&b), want, strlen(want)) == 0);
	buf_reset(&b);
	json_put_string(&b, "\b\f\r", 3);
	CHECK("json: short escapes for \\b \\f \\r", buf_used(&b) == 8 && memcmp(buf_head(&b), "\"\\b\\f\\r\"", 8) == 0);
	buf_reset(&b);
	json_put_string(&b, "", 0);
	CHECK("json: empty string written as \"\"", buf_used(&b) == 2 && memcmp(buf_head(&b), "\"\"", 2) == 0);
	buf_reset(&b);
	json_put_string(&b, NULL, 0); /* msgpack-c gives an empty string a NULL pointer */
	CHECK("json: NULL empty string written as \"\" (no pointer sum; UBSan)", buf_used(&b) == 2 && memcmp(buf_head(&b), "\"\"", 2) == 0);
	buf_reset(&b);
	buf_append_str(&b, "{\"k\":");
	json_put_string(&b, "a\"b", 3);
	buf_append_str(&b, "}");
	CHECK("json: appends after existing bytes", buf_used(&b) == 12 && memcmp(buf_head(&b), "{\"k\":\"a\\\"b\"}", 12) == 0);

	char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (char)i;
	CHECK("json: round trip of every byte value", roundtrip(all, 256, &b));
	static const char text[] = "caf\xC3\xA9 \xF0\x9F\x98\x80 \"q\" \\";
	CHECK("json: round trip of UTF-8 text", roundtrip(text, sizeof text - 1, &b));
	CHECK("json: round trip of a NUL byte", roundtrip("\0", 1, &b));
	CHECK("json: round trip of an empty string", roundtrip("", 0, &b));
	char ctl[32 * 3];
	for (int i = 0; i < 32 * 3; i++)
		ctl[i] = (char)(i % 32);
	CHECK("json: round trip of control characters", roundtrip(ctl, sizeof ctl, &b));
	char *big = malloc(100000);
	for (int i = 0; i < 100000; i++)
		big[i] = (char)(" a\"\\\n\x01z"[i % 8]);
	CHECK("json: round trip of a 100 KB string", roundtrip(big, 100000, &b));
	free(big);
	buf_free(&b);
}

void test_json(void)
{
	test_grammar();
	test_cost();
	test_access();
	test_unescape();
	test_write();
}
