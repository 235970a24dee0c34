/*
 * Typed reads of JSON values for Galène's strict decoders (group files,
 * passwords, JWT headers and claims): a value of the wrong JSON type is an
 * error, never a silent default, as Go's encoding/json does for Galène.
 */
#ifndef SB_GALENE_JSONVAL_H
#define SB_GALENE_JSONVAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../common/json.h"

/* Unescaped string at tok into a new NUL-terminated allocation (embedded
 * NULs kept, *len says how long). -1 when not a string, longer than max
 * bytes, a lone surrogate, or out of memory. */
int jv_strdup(const struct json_doc *d, int tok, size_t max, char **out, size_t *len);
/* A JSON number that is an integer literal (no fraction, no exponent) in
 * [min, max]. */
int jv_int(const struct json_doc *d, int tok, int64_t min, int64_t max, int64_t *out);
/* A JSON number of any form (fractions and exponents too), as a double. */
int jv_number(const struct json_doc *d, int tok, double *out);
int jv_bool(const struct json_doc *d, int tok, bool *out);
static inline bool jv_is_null(const struct json_doc *d, int tok) { return json_type(d, tok) == JSON_NULL; }

/* Key of an object member token as a NUL-terminated string in buf; -1 when
 * it does not fit or holds a NUL. */
int jv_key(const struct json_doc *d, int tok, char *buf, size_t cap);
/* True when object obj has two members with the same key. */
bool jv_has_duplicate_keys(const struct json_doc *d, int obj);

/* Hex (either case, even length) into a new allocation of *len bytes. */
int jv_hex(const char *s, size_t n, unsigned char **out, size_t *len);

#endif
