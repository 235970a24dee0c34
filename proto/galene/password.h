/*
 * Galène group-file passwords: the parsed form of a user's "password" field
 * and the check of a candidate password against it (router only; workers
 * never see either).
 *
 * Forms accepted (the JSON string form is plain):
 *   "secret"                                   plain, compared in constant time
 *   {"type":"plain","key":"secret"}            the same, spelled out
 *   {"type":"wildcard"}                        any password, the empty one too
 *   {"type":"pbkdf2","hash":"sha-256","key":HEX,"salt":HEX,"iterations":N}
 *                                              PBKDF2-HMAC-SHA256, dkLen = len(key)
 *   {"type":"bcrypt","key":"$2a$08$..."}       bcrypt ($2a$, $2b$, $2y$; all
 *                                              checked as $2b$, as Galène does)
 *   an object without "type" (or with "")      never matches (Galène's rule)
 *
 * Threads: pw_check() reads only its arguments and keeps no state, so a
 * costly check (pw_costly(): bcrypt, pbkdf2) can run on a worker thread off
 * the router's loop. Give that thread its own copy (pw_copy()) and the
 * candidate password, so a group file reloaded meanwhile cannot free what
 * it reads; pw_free() the copy when the result is back. Measured on the
 * shared 2-core VM: plain 2.5 us, pbkdf2 with galenectl's 4096 iterations
 * 3.7 ms, bcrypt with galenectl's cost 8 50 ms per check.
 */
#ifndef SB_GALENE_PASSWORD_H
#define SB_GALENE_PASSWORD_H
#include <stdbool.h>
#include <stddef.h>

#include "../../common/json.h"

enum pw_type { PW_NONE, PW_PLAIN, PW_WILDCARD, PW_PBKDF2, PW_BCRYPT };

/* Limits on what a group file may hold (a larger value is a load error). */
#define PW_MAX_LEN 4096          /* plain password and candidate bytes */
#define PW_PBKDF2_MAX_KEY 64     /* derived key bytes */
#define PW_PBKDF2_MAX_SALT 64
#define PW_PBKDF2_MAX_ITER 10000000u

struct pw_spec {
	enum pw_type type;
	/* PW_PLAIN: the password; PW_PBKDF2: the derived key; PW_BCRYPT: the
	 * 60-character hash, NUL-terminated. */
	unsigned char *key;
	size_t keylen;
	unsigned char *salt; /* PW_PBKDF2 */
	size_t saltlen;
	unsigned iterations; /* PW_PBKDF2 */
};

/* Parses the password value at token tok. On error returns -1 and writes
 * "<field>: <reason>" (field relative to the password, "" for itself). */
int pw_parse(struct pw_spec *out, const struct json_doc *d, int tok, char *err, size_t errcap);
void pw_free(struct pw_spec *p);
int pw_copy(struct pw_spec *dst, const struct pw_spec *src);

/* True when a check costs real CPU time (run it off the router's loop). */
bool pw_costly(const struct pw_spec *p);

enum pw_result { PW_ERROR = -1, PW_MISMATCH = 0, PW_MATCH = 1 };
/* Checks candidate pw (len bytes, any bytes) against p. */
int pw_check(const struct pw_spec *p, const char *pw, size_t len);

/* Constant-time equality of two byte strings of any lengths (the length
 * does not leak either: both sides are hashed first). */
bool pw_equal(const void *a, size_t alen, const void *b, size_t blen);

#endif
