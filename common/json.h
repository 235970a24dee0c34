/*
 * JSON reading (jsmn tokens plus a grammar check jsmn does not do) and
 * writing (string escaping). A parsed document keeps pointers into the text.
 */
#ifndef SB_JSON_H
#define SB_JSON_H
#include <stdbool.h>
#include <stddef.h>

#define JSMN_HEADER
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include "buf.h"

/* Deeper documents count as malformed: the grammar walk recurses per level,
 * and jsmn closes a bracket in up to (depth) steps, so text made of deep
 * "teeth" costs it depth/2 steps a byte (512: some six times a flat array). */
#define JSON_MAX_DEPTH 512

enum json_err { JSON_OK = 0, JSON_MALFORMED = -1, JSON_TOO_BIG = -2, JSON_NOMEM = -3 };
enum json_type { JSON_OBJECT, JSON_ARRAY, JSON_STRING, JSON_NUMBER, JSON_TRUE, JSON_FALSE, JSON_NULL };

struct json_doc {
	const char *js;
	size_t len;
	jsmntok_t *tok;
	int ntok;
};

/* Parses exactly one JSON value (surrounding whitespace allowed). */
int json_parse(struct json_doc *d, const char *js, size_t len, int max_tokens);
void json_free(struct json_doc *d);

enum json_type json_type(const struct json_doc *d, int i);
/* Index of the token after the subtree rooted at i. */
int json_skip(const struct json_doc *d, int i);
/* Value token of key in object obj, or -1 (also when obj is no object). */
int json_get(const struct json_doc *d, int obj, const char *key);
/* Number of elements of an array / members of an object. */
static inline int json_size(const struct json_doc *d, int i) { return d->tok[i].size; }
/* Raw text of the value, quotes included for strings. */
void json_raw(const struct json_doc *d, int i, const char **p, size_t *n);
/* Unescaped string value; -1 when not a string, too long or a lone surrogate. */
int json_str(const struct json_doc *d, int i, char *out, size_t cap, size_t *outlen);
/* Compares the unescaped string value with a literal. */
bool json_str_eq(const struct json_doc *d, int i, const char *lit);

/* Appends s as a quoted, escaped JSON string; never fails (common/buf.h): 0. */
int json_put_string(struct buf *b, const char *s, size_t n);

#endif
