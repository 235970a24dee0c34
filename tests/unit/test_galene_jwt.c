/*
 * proto/galene/jwt: JWKs and tokens made by node's crypto (run by the test:
 * tests/unit/galene/sign-jwts.js), every algorithm Galène accepts, the
 * claims and their leeway, and refusals: tampered, expired, wrong
 * audience, alg "none", wrong key, loose base64url.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/json.h"
#include "../../proto/galene/jsonval.h"
#include "../../proto/galene/jwt.h"
#include "check.h"
#include "galene_util.h"

static char *str_at(const struct json_doc *d, int obj, const char *key)
{
	int v = json_get(d, obj, key);
	char *s = NULL;
	size_t n;
	if (v >= 0 && json_type(d, v) == JSON_STRING && jv_strdup(d, v, 65536, &s, &n) != 0)
		s = NULL;
	return s;
}

/* "a,b" from the expected perms array, or "(null)". */
static void want_perms(const struct json_doc *d, int c, char *out, size_t cap)
{
	int v = json_get(d, c, "perms");
	snprintf(out, cap, "(null)");
	if (v < 0 || json_type(d, v) != JSON_ARRAY)
		return;
	out[0] = 0;
	for (int k = 0, j = v + 1; k < json_size(d, v); k++, j = json_skip(d, j)) {
		char s[64];
		size_t n;
		if (json_str(d, j, s, sizeof s - 1, &n) == 0) {
			s[n] = 0;
			snprintf(out + strlen(out), cap - strlen(out), "%s%s", k ? "," : "", s);
		}
	}
}

static void got_perms(const struct jwt_claims *c, char *out, size_t cap)
{
	snprintf(out, cap, "(null)");
	if (!c->has_perms)
		return;
	out[0] = 0;
	for (size_t i = 0; i < c->nperms; i++)
		snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? "," : "", c->perms[i]);
}

static void run_case(const struct json_doc *d, int c, const struct jwk *keys, size_t nkeys, double now)
{
	char *name = str_at(d, c, "name"), *token = str_at(d, c, "token"), *host = str_at(d, c, "host"),
	     *group = str_at(d, c, "group"), *want = str_at(d, c, "want"), *sub = str_at(d, c, "sub");
	char label[200], err[200] = "", wp[200], gp[200];
	struct jwt_claims cl;
	int rc = token && group && want ? jwt_verify(token, strlen(token), keys, nkeys, host, group, now, &cl, err, sizeof err)
					: -1;
	int expect = !want ? -2 : !strcmp(want, "ok") ? JWT_OK : !strcmp(want, "malformed") ? JWT_MALFORMED : JWT_INVALID;
	snprintf(label, sizeof label, "jwt: %s", name ? name : "?");
	bool ok = rc == expect;
	if (rc == JWT_OK) {
		want_perms(d, c, wp, sizeof wp);
		got_perms(&cl, gp, sizeof gp);
		ok = ok && !strcmp(wp, gp) && ((!sub && !cl.sub) || (sub && cl.sub && !strcmp(sub, cl.sub)));
		jwt_claims_free(&cl);
	}
	CHECK(label, ok);
	if (!ok)
		printf("#   result %d (%s), want %s\n", rc, err, want ? want : "?");
	free(name), free(token), free(host), free(group), free(want), free(sub);
}

static void test_node_vectors(void)
{
	char *out = galene_run("node tests/unit/galene/sign-jwts.js");
	CHECK("node made keys and tokens", out != NULL);
	if (!out)
		return;
	struct json_doc d;
	if (json_parse(&d, out, strlen(out), 1 << 16) != JSON_OK) {
		CHECK("node output is JSON", 0);
		free(out);
		return;
	}
	double now = 0;
	int kv = json_get(&d, 0, "keys"), cv = json_get(&d, 0, "cases"), nv = json_get(&d, 0, "now");
	struct jwk keys[8];
	size_t nkeys = 0;
	bool keys_ok = kv >= 0 && nv >= 0 && jv_number(&d, nv, &now) == 0 && json_size(&d, kv) <= 8;
	for (int k = 0, j = kv + 1; keys_ok && k < json_size(&d, kv); k++, j = json_skip(&d, j)) {
		char err[200];
		keys_ok = jwk_parse(&keys[nkeys], &d, j, err, sizeof err) == 0;
		if (!keys_ok)
			printf("#   key %d: %s\n", k, err);
		else
			nkeys++;
	}
	CHECK("node's JWKs (oct, EC P-256, RSA 2048) accepted", keys_ok && nkeys == 6);
	for (int k = 0, j = cv + 1; cv >= 0 && k < json_size(&d, cv); k++, j = json_skip(&d, j))
		run_case(&d, j, keys, nkeys, now);
	for (size_t i = 0; i < nkeys; i++)
		jwk_free(&keys[i]);
	json_free(&d);
	free(out);
}

static void bad_key(const char *name, const char *js, const char *want)
{
	struct json_doc d;
	struct jwk k;
	char err[200] = "";
	int rc = -2;
	if (json_parse(&d, js, strlen(js), 64) == JSON_OK) {
		rc = jwk_parse(&k, &d, 0, err, sizeof err);
		if (rc == 0)
			jwk_free(&k);
		json_free(&d);
	}
	CHECK(name, rc == -1 && strstr(err, want));
	if (rc != -1 || !strstr(err, want))
		printf("#   got %d \"%s\", want \"%s\"\n", rc, err, want);
}

static void test_bad_keys(void)
{
	bad_key("jwk: unknown kty", "{\"kty\":\"OKP\",\"alg\":\"EdDSA\"}", "kty: unknown key type");
	bad_key("jwk: oct with ES256", "{\"kty\":\"oct\",\"alg\":\"ES256\",\"k\":\"AA\"}", "alg: unknown alg for oct");
	bad_key("jwk: HS384 with 32 bytes", "{\"kty\":\"oct\",\"alg\":\"HS384\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
		"k: wrong length");
	bad_key("jwk: padded k", "{\"kty\":\"oct\",\"alg\":\"HS256\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}",
		"k: must be base64url");
	bad_key("jwk: EC wrong curve", "{\"kty\":\"EC\",\"alg\":\"ES256\",\"crv\":\"P-384\",\"x\":\"AA\",\"y\":\"AA\"}", "crv:");
	bad_key("jwk: EC without y", "{\"kty\":\"EC\",\"alg\":\"ES256\",\"crv\":\"P-256\",\"x\":\"AQ\"}", "y:");
	bad_key("jwk: RSA too small", "{\"kty\":\"RSA\",\"alg\":\"RS256\",\"n\":\"AQAB\",\"e\":\"AQAB\"}", "n:");
	bad_key("jwk: RSA with RS512", "{\"kty\":\"RSA\",\"alg\":\"RS512\",\"n\":\"AQAB\",\"e\":\"AQAB\"}", "alg: unknown alg for RSA");
	bad_key("jwk: kid not a string", "{\"kty\":\"oct\",\"alg\":\"HS256\",\"kid\":1}", "kid:");
	bad_key("jwk: not an object", "[]", "must be a JWK object");
}

static void test_base64url(void)
{
	unsigned char *b;
	size_t n;
	bool ok = b64url_decode("aGVsbG8", 7, &b, &n) == 0 && n == 5 && !memcmp(b, "hello", 5);
	if (ok)
		free(b);
	CHECK("base64url: unpadded decodes", ok);
	CHECK("base64url: padding refused", b64url_decode("aGVsbG8=", 8, &b, &n) != 0);
	CHECK("base64url: + and / refused", b64url_decode("a+/A", 4, &b, &n) != 0);
	CHECK("base64url: trailing bits refused", b64url_decode("aGVsbG9", 7, &b, &n) != 0);
	CHECK("base64url: one char left refused", b64url_decode("aGVsb", 5, &b, &n) != 0);
	CHECK("base64url: whitespace refused", b64url_decode("aGVs bG8", 8, &b, &n) != 0);
	char high[44];
	memset(high, 0xff, sizeof high);
	high[0] = 'z';
	CHECK("base64url: 8-bit characters refused (libsodium takes them)", b64url_decode(high, sizeof high, &b, &n) != 0);
	ok = b64url_decode("", 0, &b, &n) == 0 && n == 0;
	if (ok)
		free(b);
	CHECK("base64url: empty", ok);
}

void test_galene_jwt(void)
{
	test_base64url();
	test_bad_keys();
	test_node_vectors();
}
