/*
 * JSON Web Tokens for Galène groups (router only): the group's "authKeys"
 * (JWKs) and the check of a token a client offers on join.
 *
 * Keys, as Galène accepts them: every key names its "kty" and "alg";
 * "oct" with HS256/HS384/HS512 and a "k" of exactly 32/48/64 bytes, "EC"
 * with ES256, "crv":"P-256", "x", "y" (a point on the curve), "RSA" with
 * RS256, "n" (at least 1024 bits) and "e". "kid" is optional; other members
 * (use, key_ops, ...) are allowed and ignored. base64url everywhere is the
 * strict unpadded form (libsodium): padding, stray characters or non-zero
 * trailing bits are errors.
 *
 * Tokens: compact JWS only. The header's "alg" picks the keys with that
 * alg (and that kid, when the header has one); "none" and any alg without
 * a key fail. Claims: "exp" required, "nbf" and "iat" optional, all checked
 * with 5 s of leeway; "aud" (a string or an array) must hold a URL whose
 * path is /group/<name>/ (or, with "include-subgroups": true, a /group/...
 * prefix of it ending in /) and, when a canonical host is configured, whose
 * host is that host; "sub" becomes the username; "permissions" (an array of
 * strings) is taken verbatim.
 *
 * Threads: jwt_verify() reads only its arguments, so it may run on a
 * worker thread while the keys stay alive (hold a gf_ref on the group).
 * Measured on the shared 2-core VM (whole verification, parse included):
 * HS256 25 us, RS256 (1024-bit key) 75 us, ES256 260 us; the router should
 * send ES256 and RS256 checks off its loop with the password checks.
 */
#ifndef SB_GALENE_JWT_H
#define SB_GALENE_JWT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../common/json.h"

enum jwk_alg { JWK_HS256, JWK_HS384, JWK_HS512, JWK_ES256, JWK_RS256 };

struct jwk {
	enum jwk_alg alg;
	char *kid;             /* NULL when the key has none */
	unsigned char *secret; /* HS*: the key bytes */
	size_t secretlen;
	void *pkey;            /* ES256 / RS256: an OpenSSL EVP_PKEY */
};

/* Parses the JWK object at tok; on error -1 and "<member>: <reason>". */
int jwk_parse(struct jwk *k, const struct json_doc *d, int tok, char *err, size_t errcap);
void jwk_free(struct jwk *k);

#define JWT_MAX_LEN 16384
#define JWT_MAX_PERMS 32
#define JWT_LEEWAY_S 5

struct jwt_claims {
	char *sub;      /* NULL when absent */
	char **perms;   /* verbatim; NULL when absent */
	size_t nperms;
	bool has_perms;
	bool include_subgroups;
	double exp;     /* seconds since the epoch */
};

enum jwt_result {
	JWT_OK = 0,
	JWT_MALFORMED = 1, /* not a JWT at all: the caller may try it as a stateful token */
	JWT_INVALID = 2,   /* a JWT, refused (signature, time, audience, claims) */
	JWT_NOMEM = 3,
};

/* Verifies token (len bytes) for group; host is the canonical host to
 * require in "aud" or NULL for any; now in seconds since the epoch. On
 * JWT_OK fills *out (free with jwt_claims_free); otherwise err says why. */
int jwt_verify(const char *token, size_t len, const struct jwk *keys, size_t nkeys, const char *host,
	       const char *group, double now, struct jwt_claims *out, char *err, size_t errcap);
void jwt_claims_free(struct jwt_claims *c);

/* Strict unpadded base64url into a new allocation; -1 when invalid. */
int b64url_decode(const char *s, size_t n, unsigned char **out, size_t *outlen);

#endif
