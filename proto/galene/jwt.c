/*
 * JWT verification for Galène groups (see jwt.h): JWK decoding into
 * OpenSSL keys, the compact JWS signature check (HMAC, ECDSA P-256 with
 * SHA-256, RSASSA-PKCS1-v1_5 with SHA-256) and the claims Galène checks.
 */
#include "jwt.h"

#include <math.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jsonval.h"

static int fail(char *err, size_t cap, const char *why)
{
	snprintf(err, cap, "%s", why);
	return -1;
}

int b64url_decode(const char *s, size_t n, unsigned char **out, size_t *outlen)
{
	if (n % 4 == 1)
		return -1;
	/* Checked here: libsodium 1.0.18 takes some bytes >= 0x80 for
	 * alphabet characters (found by tests/fuzz/fuzz_jwt.c). */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return -1;
	}
	size_t cap = n / 4 * 3 + 3;
	unsigned char *b = malloc(cap);
	if (!b)
		return -1;
	const char *end;
	/* libsodium refuses non-zero trailing bits. */
	if (sodium_base642bin(b, cap, s, n, NULL, outlen, &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    end != s + n) {
		free(b);
		return -1;
	}
	*out = b;
	return 0;
}

/* The base64url member name of object obj into a new allocation. */
static int b64_member(const struct json_doc *d, int obj, const char *name, unsigned char **out, size_t *len)
{
	int v = json_get(d, obj, name);
	char *s;
	size_t n;
	if (v < 0 || jv_strdup(d, v, 8192, &s, &n) != 0)
		return -1;
	int rc = b64url_decode(s, n, out, len);
	free(s);
	return rc;
}

static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *pkey = NULL;
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	if (pkey) {
		/* Refuses points off the curve (and nonsense RSA numbers). */
		EVP_PKEY_CTX *check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
		if (!check || EVP_PKEY_public_check(check) != 1) {
			EVP_PKEY_free(pkey);
			pkey = NULL;
		}
		EVP_PKEY_CTX_free(check);
	}
	return pkey;
}

static int parse_ec(struct jwk *k, const struct json_doc *d, int tok, char *err, size_t cap)
{
	int crv = json_get(d, tok, "crv");
	if (crv < 0 || !json_str_eq(d, crv, "P-256"))
		return fail(err, cap, "crv: must be \"P-256\"");
	unsigned char *x = NULL, *y = NULL, pub[65];
	size_t xn = 0, yn = 0;
	int rc = -1;
	if (b64_member(d, tok, "x", &x, &xn) != 0 || xn == 0 || xn > 32)
		fail(err, cap, "x: must be base64url of at most 32 bytes");
	else if (b64_member(d, tok, "y", &y, &yn) != 0 || yn == 0 || yn > 32)
		fail(err, cap, "y: must be base64url of at most 32 bytes");
	else
		rc = 0;
	if (rc == 0) {
		memset(pub, 0, sizeof pub);
		pub[0] = 4; /* uncompressed point: 04 || x || y, each left-padded */
		memcpy(pub + 1 + 32 - xn, x, xn);
		memcpy(pub + 33 + 32 - yn, y, yn);
		OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
		if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub) ||
		    !(k->pkey = pkey_fromdata("EC", bld)))
			rc = fail(err, cap, "x, y: not a point on P-256");
		OSSL_PARAM_BLD_free(bld);
	}
	free(x);
	free(y);
	return rc;
}

static int parse_rsa(struct jwk *k, const struct json_doc *d, int tok, char *err, size_t cap)
{
	unsigned char *n = NULL, *e = NULL;
	size_t nn = 0, en = 0;
	int rc = -1;
	if (b64_member(d, tok, "n", &n, &nn) != 0 || nn < 128 || nn > 2048)
		fail(err, cap, "n: must be base64url of a 1024- to 16384-bit modulus");
	else if (b64_member(d, tok, "e", &e, &en) != 0 || en == 0 || en > 8)
		fail(err, cap, "e: must be base64url of at most 8 bytes");
	else if (n[0] == 0)
		fail(err, cap, "n: leading zero byte");
	else
		rc = 0;
	if (rc == 0) {
		BIGNUM *bn = BN_bin2bn(n, (int)nn, NULL), *be = BN_bin2bn(e, (int)en, NULL);
		OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
		if (!bn || !be || !bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) || !(k->pkey = pkey_fromdata("RSA", bld)))
			rc = fail(err, cap, "n, e: not a usable RSA public key");
		OSSL_PARAM_BLD_free(bld);
		BN_free(bn);
		BN_free(be);
	}
	free(n);
	free(e);
	return rc;
}

static int parse_oct(struct jwk *k, const struct json_doc *d, int tok, char *err, size_t cap)
{
	static const size_t want[] = {32, 48, 64};
	if (b64_member(d, tok, "k", &k->secret, &k->secretlen) != 0)
		return fail(err, cap, "k: must be base64url");
	if (k->secretlen != want[k->alg]) {
		OPENSSL_cleanse(k->secret, k->secretlen);
		return fail(err, cap, "k: wrong length for alg (32, 48 or 64 bytes for HS256, HS384, HS512)");
	}
	return 0;
}

int jwk_parse(struct jwk *k, const struct json_doc *d, int tok, char *err, size_t errcap)
{
	memset(k, 0, sizeof *k);
	if (json_type(d, tok) != JSON_OBJECT)
		return fail(err, errcap, "must be a JWK object");
	if (jv_has_duplicate_keys(d, tok))
		return fail(err, errcap, "duplicate member");
	int kty = json_get(d, tok, "kty"), alg = json_get(d, tok, "alg"), kid = json_get(d, tok, "kid");
	if (kty < 0 || json_type(d, kty) != JSON_STRING)
		return fail(err, errcap, "kty: missing or not a string");
	if (alg < 0 || json_type(d, alg) != JSON_STRING)
		return fail(err, errcap, "alg: missing or not a string");
	size_t n;
	if (kid >= 0 && jv_strdup(d, kid, 1024, &k->kid, &n) != 0)
		return fail(err, errcap, "kid: must be a string");
	static const char *const algs[] = {"HS256", "HS384", "HS512", "ES256", "RS256"};
	int a = -1;
	for (int i = 0; i < 5 && a < 0; i++)
		if (json_str_eq(d, alg, algs[i]))
			a = i;
	k->alg = a < 0 ? JWK_HS256 : (enum jwk_alg)a;
	int rc;
	if (json_str_eq(d, kty, "oct"))
		rc = a >= 0 && a <= JWK_HS512 ? parse_oct(k, d, tok, err, errcap) : fail(err, errcap, "alg: unknown alg for oct");
	else if (json_str_eq(d, kty, "EC"))
		rc = a == JWK_ES256 ? parse_ec(k, d, tok, err, errcap) : fail(err, errcap, "alg: unknown alg for EC");
	else if (json_str_eq(d, kty, "RSA"))
		rc = a == JWK_RS256 ? parse_rsa(k, d, tok, err, errcap) : fail(err, errcap, "alg: unknown alg for RSA");
	else
		rc = fail(err, errcap, "kty: unknown key type");
	if (rc != 0)
		jwk_free(k);
	return rc;
}

void jwk_free(struct jwk *k)
{
	free(k->kid);
	if (k->secret)
		OPENSSL_cleanse(k->secret, k->secretlen);
	free(k->secret);
	EVP_PKEY_free(k->pkey);
	memset(k, 0, sizeof *k);
}

/* ---- signatures ---- */

static const EVP_MD *alg_md(enum jwk_alg a)
{
	switch (a) {
	case JWK_HS384:
		return EVP_sha384();
	case JWK_HS512:
		return EVP_sha512();
	default:
		return EVP_sha256();
	}
}

static bool verify_hmac(const struct jwk *k, const char *msg, size_t n, const unsigned char *sig, size_t sn)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int macn = 0;
	if (!HMAC(alg_md(k->alg), k->secret, (int)k->secretlen, (const unsigned char *)msg, n, mac, &macn))
		return false;
	return sn == macn && CRYPTO_memcmp(mac, sig, macn) == 0;
}

/* JWS carries ECDSA signatures as r || s (32 bytes each); OpenSSL wants DER. */
static bool verify_pkey(const struct jwk *k, const char *msg, size_t n, const unsigned char *sig, size_t sn)
{
	unsigned char *der = NULL;
	int dern = 0;
	if (k->alg == JWK_ES256) {
		if (sn != 64)
			return false;
		ECDSA_SIG *es = ECDSA_SIG_new();
		BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
		if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
			BN_free(r);
			BN_free(s);
			ECDSA_SIG_free(es);
			return false;
		}
		dern = i2d_ECDSA_SIG(es, &der);
		ECDSA_SIG_free(es);
		if (dern <= 0)
			return false;
		sig = der;
		sn = (size_t)dern;
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
		  EVP_DigestVerify(ctx, sig, sn, (const unsigned char *)msg, n) == 1;
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	return ok;
}

/* ---- audience ---- */

static int unhex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Splits a URL into host and percent-decoded path, as Go's url.Parse
 * would for the URLs Galène accepts; -1 on a bad escape. */
static int split_url(const char *u, char *host, size_t hcap, char *path, size_t pcap)
{
	const char *p = u, *sep = strstr(u, "://");
	host[0] = 0;
	if (sep || strncmp(u, "//", 2) == 0) {
		const char *a = sep ? sep + 3 : u + 2, *e = a + strcspn(a, "/?#");
		const char *at = memrchr(a, '@', (size_t)(e - a));
		if (at)
			a = at + 1;
		if ((size_t)(e - a) >= hcap)
			return -1;
		memcpy(host, a, (size_t)(e - a));
		host[e - a] = 0;
		p = e;
	}
	size_t n = 0, end = strcspn(p, "?#");
	for (size_t i = 0; i < end; i++) {
		char c = p[i];
		if (c == '%') {
			int hi = i + 2 < end ? unhex(p[i + 1]) : -1;
			int lo = hi >= 0 ? unhex(p[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return -1;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (n + 1 >= pcap)
			return -1;
		path[n++] = c;
	}
	path[n] = 0;
	return 0;
}

static bool aud_matches(const char *aud, const char *host, const char *group, bool subgroups)
{
	char h[256], path[1024], want[1024];
	if (split_url(aud, h, sizeof h, path, sizeof path) != 0)
		return false;
	if (host && strcasecmp(h, host) != 0)
		return false;
	if (snprintf(want, sizeof want, "/group/%s/", group) >= (int)sizeof want)
		return false;
	if (!subgroups)
		return strcmp(path, want) == 0;
	size_t pn = strlen(path);
	return strncmp(path, "/group/", 7) == 0 && pn && path[pn - 1] == '/' && strncmp(want, path, pn) == 0;
}

/* ---- the token ---- */

struct part {
	unsigned char *raw;
	size_t n;
	struct json_doc doc;
	bool parsed;
};

static int decode_json_part(const char *s, size_t n, struct part *p)
{
	if (b64url_decode(s, n, &p->raw, &p->n) != 0)
		return -1;
	if (json_parse(&p->doc, (const char *)p->raw, p->n, 512) != JSON_OK)
		return -1;
	p->parsed = true;
	return json_type(&p->doc, 0) == JSON_OBJECT ? 0 : -1;
}

static void free_part(struct part *p)
{
	if (p->parsed)
		json_free(&p->doc);
	free(p->raw);
}

/* A NumericDate claim: absent is fine unless required; any other type is not. */
static int time_claim(const struct json_doc *d, const char *name, bool required, double *out, bool *has)
{
	int v = json_get(d, 0, name);
	*has = v >= 0;
	if (v < 0)
		return required ? -1 : 0;
	return jv_number(d, v, out) == 0 && isfinite(*out) ? 0 : -1;
}

static int check_times(const struct json_doc *d, double now, struct jwt_claims *out, char *err, size_t cap)
{
	double t;
	bool has;
	if (time_claim(d, "exp", true, &out->exp, &has) != 0)
		return fail(err, cap, "exp: missing or not a number");
	if (now > out->exp + JWT_LEEWAY_S)
		return fail(err, cap, "token has expired");
	if (time_claim(d, "nbf", false, &t, &has) != 0)
		return fail(err, cap, "nbf: not a number");
	if (has && now < t - JWT_LEEWAY_S)
		return fail(err, cap, "token is not valid yet");
	if (time_claim(d, "iat", false, &t, &has) != 0)
		return fail(err, cap, "iat: not a number");
	if (has && now < t - JWT_LEEWAY_S)
		return fail(err, cap, "token used before issued");
	return 0;
}

static int check_aud(const struct json_doc *d, const char *host, const char *group, bool sub, char *err, size_t cap)
{
	int v = json_get(d, 0, "aud");
	int first = v, count = 1;
	if (v >= 0 && json_type(d, v) == JSON_ARRAY) {
		first = v + 1;
		count = json_size(d, v);
	} else if (v >= 0 && json_type(d, v) != JSON_STRING) {
		return fail(err, cap, "aud: not a string or an array");
	}
	for (int k = 0, j = first; v >= 0 && k < count; k++, j = json_skip(d, j)) {
		char *a;
		size_t n;
		if (jv_strdup(d, j, 2048, &a, &n) != 0)
			return fail(err, cap, "aud: not a string or an array of strings");
		bool ok = !memchr(a, 0, n) && aud_matches(a, host, group, sub);
		free(a);
		if (ok)
			return 0;
	}
	return fail(err, cap, "token for wrong group");
}

static int get_claims(const struct json_doc *d, struct jwt_claims *out, char *err, size_t cap)
{
	int v = json_get(d, 0, "sub");
	size_t n;
	if (v >= 0 && (jv_strdup(d, v, 4096, &out->sub, &n) != 0 || memchr(out->sub, 0, n)))
		return fail(err, cap, "sub: not a string");
	v = json_get(d, 0, "permissions");
	if (v < 0 || jv_is_null(d, v))
		return 0;
	if (json_type(d, v) != JSON_ARRAY || json_size(d, v) > JWT_MAX_PERMS)
		return fail(err, cap, "invalid 'permissions' field");
	out->has_perms = true;
	out->perms = calloc((size_t)json_size(d, v) + 1, sizeof *out->perms);
	if (!out->perms)
		return fail(err, cap, "out of memory");
	for (int k = 0, j = v + 1; k < json_size(d, v); k++, j = json_skip(d, j)) {
		if (jv_strdup(d, j, 64, &out->perms[k], &n) != 0 || memchr(out->perms[k], 0, n))
			return fail(err, cap, "invalid 'permissions' field");
		out->nperms++;
	}
	return 0;
}

static int check_signature(const struct json_doc *h, const char *msg, size_t n, const unsigned char *sig,
			   size_t sn, const struct jwk *keys, size_t nkeys, char *err, size_t cap)
{
	static const char *const algs[] = {"HS256", "HS384", "HS512", "ES256", "RS256"};
	int alg = json_get(h, 0, "alg"), kid = json_get(h, 0, "kid"), a = -1;
	if (alg < 0 || json_type(h, alg) != JSON_STRING)
		return fail(err, cap, "alg not found");
	for (int i = 0; i < 5 && a < 0; i++)
		if (json_str_eq(h, alg, algs[i]))
			a = i;
	if (a < 0)
		return fail(err, cap, "unsupported alg");
	if (kid >= 0 && json_type(h, kid) != JSON_STRING)
		return fail(err, cap, "kid: not a string");
	bool any = false;
	for (size_t i = 0; i < nkeys; i++) {
		const struct jwk *k = &keys[i];
		if ((int)k->alg != a || (kid >= 0 && !json_str_eq(h, kid, "") && !(k->kid && json_str_eq(h, kid, k->kid))))
			continue;
		any = true;
		if (a <= JWK_HS512 ? verify_hmac(k, msg, n, sig, sn) : verify_pkey(k, msg, n, sig, sn))
			return 0;
	}
	return fail(err, cap, any ? "signature is invalid" : "no key for this alg and kid");
}

int jwt_verify(const char *token, size_t len, const struct jwk *keys, size_t nkeys, const char *host,
	       const char *group, double now, struct jwt_claims *out, char *err, size_t errcap)
{
	memset(out, 0, sizeof *out);
	const char *d1 = len <= JWT_MAX_LEN ? memchr(token, '.', len) : NULL;
	const char *d2 = d1 ? memchr(d1 + 1, '.', (size_t)(token + len - d1 - 1)) : NULL;
	if (!d2 || memchr(d2 + 1, '.', (size_t)(token + len - d2 - 1))) {
		fail(err, errcap, "not a compact JWS");
		return JWT_MALFORMED;
	}
	struct part hdr = {0}, body = {0};
	unsigned char *sig = NULL;
	size_t sn = 0;
	int rc = JWT_MALFORMED;
	if (decode_json_part(token, (size_t)(d1 - token), &hdr) != 0 ||
	    decode_json_part(d1 + 1, (size_t)(d2 - d1 - 1), &body) != 0 ||
	    b64url_decode(d2 + 1, (size_t)(token + len - d2 - 1), &sig, &sn) != 0) {
		fail(err, errcap, "not a JWT (bad base64url or JSON)");
		goto out;
	}
	rc = JWT_INVALID;
	if (jv_has_duplicate_keys(&hdr.doc, 0) || jv_has_duplicate_keys(&body.doc, 0)) {
		fail(err, errcap, "duplicate member");
		goto out;
	}
	if (check_signature(&hdr.doc, token, (size_t)(d2 - token), sig, sn, keys, nkeys, err, errcap) != 0 ||
	    check_times(&body.doc, now, out, err, errcap) != 0)
		goto out;
	int inc = json_get(&body.doc, 0, "include-subgroups");
	out->include_subgroups = inc >= 0 && json_type(&body.doc, inc) == JSON_TRUE;
	if (check_aud(&body.doc, host, group, out->include_subgroups, err, errcap) != 0 ||
	    get_claims(&body.doc, out, err, errcap) != 0)
		goto out;
	rc = JWT_OK;
out:
	if (rc != JWT_OK)
		jwt_claims_free(out);
	free_part(&hdr);
	free_part(&body);
	free(sig);
	return rc;
}

void jwt_claims_free(struct jwt_claims *c)
{
	free(c->sub);
	for (size_t i = 0; c->perms && c->perms[i]; i++)
		free(c->perms[i]);
	free(c->perms);
	memset(c, 0, sizeof *c);
}
