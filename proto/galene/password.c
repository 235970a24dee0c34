/*
 * Galène passwords: parsing the "password" field of a group file and
 * checking a candidate against it (see password.h for the forms and the
 * threading rule). PBKDF2 is OpenSSL's PKCS5_PBKDF2_HMAC, bcrypt is
 * libxcrypt's crypt_rn; every comparison is constant-time.
 */
#include "password.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonval.h"

#define BCRYPT_LEN 60

static int fail(char *err, size_t cap, const char *field, const char *why)
{
	snprintf(err, cap, "%s%s%s", field, *field ? ": " : "", why);
	return -1;
}

/* "$2a$NN$" + 53 characters of bcrypt's base64 alphabet, cost 4..31. */
static bool bcrypt_well_formed(const char *s, size_t n)
{
	static const char alpha[] = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	if (n != BCRYPT_LEN || s[0] != '$' || s[1] != '2' || !strchr("aby", s[2]) || !s[2] || s[3] != '$' ||
	    s[6] != '$' || s[4] < '0' || s[4] > '9' || s[5] < '0' || s[5] > '9')
		return false;
	int cost = (s[4] - '0') * 10 + (s[5] - '0');
	if (cost < 4 || cost > 31)
		return false;
	for (size_t i = 7; i < n; i++)
		if (!s[i] || !strchr(alpha, s[i]))
			return false;
	return true;
}

struct pw_fields {
	int type, hash, key, salt, iterations;
};

static int collect_fields(const struct json_doc *d, int tok, struct pw_fields *f, char *err, size_t cap)
{
	*f = (struct pw_fields){-1, -1, -1, -1, -1};
	if (jv_has_duplicate_keys(d, tok))
		return fail(err, cap, "", "duplicate field");
	int j = tok + 1;
	for (int k = 0; k < json_size(d, tok); k++, j = json_skip(d, j + 1)) {
		char name[16];
		int *slot = NULL;
		if (jv_key(d, j, name, sizeof name) == 0) {
			slot = !strcmp(name, "type") ? &f->type : !strcmp(name, "hash") ? &f->hash
			     : !strcmp(name, "key") ? &f->key : !strcmp(name, "salt") ? &f->salt
			     : !strcmp(name, "iterations") ? &f->iterations : NULL;
		}
		if (!slot) {
			char shown[64];
			if (jv_key(d, j, shown, sizeof shown) != 0)
				snprintf(shown, sizeof shown, "(a long or odd name)");
			snprintf(err, cap, "%s: unknown field", shown);
			return -1;
		}
		if (!jv_is_null(d, j + 1))
			*slot = j + 1; /* null is the same as absent, as for Go */
	}
	return 0;
}

static int parse_pbkdf2(struct pw_spec *p, const struct json_doc *d, const struct pw_fields *f, char *err, size_t cap)
{
	char *s;
	size_t n;
	if (f->hash < 0 || !json_str_eq(d, f->hash, "sha-256"))
		return fail(err, cap, "hash", "must be \"sha-256\"");
	if (f->key < 0 || jv_strdup(d, f->key, 2 * PW_PBKDF2_MAX_KEY, &s, &n) != 0)
		return fail(err, cap, "key", "must be a hex string of at most 64 bytes");
	int rc = jv_hex(s, n, &p->key, &p->keylen);
	free(s);
	/* An empty key would let any password through (dkLen 0). */
	if (rc != 0 || p->keylen == 0)
		return fail(err, cap, "key", "must be non-empty hex");
	p->salt = NULL;
	if (f->salt >= 0) {
		if (jv_strdup(d, f->salt, 2 * PW_PBKDF2_MAX_SALT, &s, &n) != 0)
			return fail(err, cap, "salt", "must be a hex string of at most 64 bytes");
		rc = jv_hex(s, n, &p->salt, &p->saltlen);
		free(s);
		if (rc != 0)
			return fail(err, cap, "salt", "must be hex");
	}
	int64_t it;
	if (f->iterations < 0 || jv_int(d, f->iterations, 1, PW_PBKDF2_MAX_ITER, &it) != 0)
		return fail(err, cap, "iterations", "must be an integer from 1 to 10000000");
	p->iterations = (unsigned)it;
	return 0;
}

static int parse_object(struct pw_spec *p, const struct json_doc *d, int tok, char *err, size_t cap)
{
	struct pw_fields f;
	if (collect_fields(d, tok, &f, err, cap) != 0)
		return -1;
	char *s = NULL;
	size_t n;
	if (f.type >= 0 && json_type(d, f.type) != JSON_STRING)
		return fail(err, cap, "type", "must be a string");
	if (f.type < 0 || json_str_eq(d, f.type, "")) {
		p->type = PW_NONE;
		return 0;
	}
	if (json_str_eq(d, f.type, "wildcard")) {
		p->type = PW_WILDCARD;
		return 0;
	}
	if (json_str_eq(d, f.type, "plain")) {
		if (f.key < 0 || jv_strdup(d, f.key, PW_MAX_LEN, (char **)&p->key, &p->keylen) != 0)
			return fail(err, cap, "key", "must be a string of at most 4096 bytes");
		p->type = PW_PLAIN;
		return 0;
	}
	if (json_str_eq(d, f.type, "pbkdf2")) {
		p->type = PW_PBKDF2;
		return parse_pbkdf2(p, d, &f, err, cap);
	}
	if (json_str_eq(d, f.type, "bcrypt")) {
		if (f.key < 0 || jv_strdup(d, f.key, BCRYPT_LEN, &s, &n) != 0 || !bcrypt_well_formed(s, n)) {
			free(s);
			return fail(err, cap, "key", "must be a bcrypt hash ($2a$, $2b$ or $2y$, cost 4 to 31)");
		}
		p->type = PW_BCRYPT;
		p->key = (unsigned char *)s;
		p->keylen = n;
		return 0;
	}
	return fail(err, cap, "type", "unknown password type");
}

int pw_parse(struct pw_spec *out, const struct json_doc *d, int tok, char *err, size_t errcap)
{
	memset(out, 0, sizeof *out);
	int rc;
	if (json_type(d, tok) == JSON_STRING) {
		rc = jv_strdup(d, tok, PW_MAX_LEN, (char **)&out->key, &out->keylen);
		if (rc != 0)
			rc = fail(err, errcap, "", "must be a string of at most 4096 bytes");
		else
			out->type = PW_PLAIN;
	} else if (json_type(d, tok) == JSON_OBJECT) {
		rc = parse_object(out, d, tok, err, errcap);
	} else {
		rc = fail(err, errcap, "", "must be a string or an object");
	}
	if (rc != 0)
		pw_free(out);
	return rc;
}

void pw_free(struct pw_spec *p)
{
	free(p->key);
	free(p->salt);
	memset(p, 0, sizeof *p);
}

static unsigned char *dup_bytes(const unsigned char *s, size_t n)
{
	unsigned char *b = malloc(n + 1);
	if (b) {
		if (n)
			memcpy(b, s, n);
		b[n] = 0;
	}
	return b;
}

int pw_copy(struct pw_spec *dst, const struct pw_spec *src)
{
	*dst = *src;
	dst->key = src->key ? dup_bytes(src->key, src->keylen) : NULL;
	dst->salt = src->salt ? dup_bytes(src->salt, src->saltlen) : NULL;
	if ((src->key && !dst->key) || (src->salt && !dst->salt)) {
		pw_free(dst);
		return -1;
	}
	return 0;
}

bool pw_costly(const struct pw_spec *p) { return p->type == PW_PBKDF2 || p->type == PW_BCRYPT; }

bool pw_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	unsigned char ha[32], hb[32];
	unsigned int n;
	if (!EVP_Digest(a, alen, ha, &n, EVP_sha256(), NULL) || !EVP_Digest(b, blen, hb, &n, EVP_sha256(), NULL))
		return false;
	/* Equal digests and equal lengths: the length check only decides
	 * once the digests have already matched. */
	return CRYPTO_memcmp(ha, hb, sizeof ha) == 0 && alen == blen;
}

static int check_pbkdf2(const struct pw_spec *p, const char *pw, size_t len)
{
	unsigned char out[PW_PBKDF2_MAX_KEY];
	if (p->keylen == 0 || p->keylen > sizeof out || p->iterations < 1)
		return PW_ERROR;
	static const unsigned char none;
	if (!PKCS5_PBKDF2_HMAC(len ? pw : "", (int)len, p->salt ? p->salt : &none, (int)p->saltlen,
			       (int)p->iterations, EVP_sha256(), (int)p->keylen, out))
		return PW_ERROR;
	int eq = CRYPTO_memcmp(out, p->key, p->keylen) == 0;
	OPENSSL_cleanse(out, sizeof out);
	return eq ? PW_MATCH : PW_MISMATCH;
}

/* libxcrypt's $2a$ keeps a countermeasure that can differ from Go's bcrypt
 * on some 8-bit passwords; Go treats $2a$, $2b$ and $2y$ alike, which is
 * $2b$ here, so the setting is rewritten to $2b$ and so is the comparison. */
static int check_bcrypt(const struct pw_spec *p, const char *pw, size_t len)
{
	if (p->keylen != BCRYPT_LEN)
		return PW_ERROR;
	if (memchr(pw, 0, len))
		return PW_MISMATCH; /* crypt takes a C string: "a\0b" must not pass for "a" */
	char setting[BCRYPT_LEN + 1];
	memcpy(setting, p->key, BCRYPT_LEN + 1);
	setting[2] = 'b';
	char *phrase = malloc(len + 1);
	struct crypt_data *cd = calloc(1, sizeof *cd);
	int rc = PW_ERROR;
	if (phrase && cd) {
		memcpy(phrase, pw, len);
		phrase[len] = 0;
		const char *h = crypt_rn(phrase, setting, cd, (int)sizeof *cd);
		if (h && strlen(h) == BCRYPT_LEN)
			rc = CRYPTO_memcmp(h, setting, BCRYPT_LEN) == 0 ? PW_MATCH : PW_MISMATCH;
		OPENSSL_cleanse(phrase, len);
		OPENSSL_cleanse(cd, sizeof *cd);
	}
	free(phrase);
	free(cd);
	return rc;
}

int pw_check(const struct pw_spec *p, const char *pw, size_t len)
{
	if (len > PW_MAX_LEN)
		return PW_MISMATCH;
	switch (p->type) {
	case PW_NONE:
		return PW_MISMATCH;
	case PW_WILDCARD:
		return PW_MATCH;
	case PW_PLAIN:
		return pw_equal(p->key, p->keylen, pw, len) ? PW_MATCH : PW_MISMATCH;
	case PW_PBKDF2:
		return check_pbkdf2(p, pw, len);
	case PW_BCRYPT:
		return check_bcrypt(p, pw, len);
	}
	return PW_ERROR;
}
