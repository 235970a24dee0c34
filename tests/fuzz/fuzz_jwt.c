/*
 * Galène JWTs: the first byte picks the mode. Even: the rest is a token,
 * verified against three fixed keys (HS256, ES256, RS256; the seeds are
 * tokens node signed with them) at a fixed time, for a fixed group, with
 * and without a canonical host; an accepted token has sane claims. Odd:
 * the rest is a JWK. Always: the strict base64url decoder accepts exactly
 * the canonical unpadded encodings (decode then re-encode gives the input).
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/json.h"
#include "../../proto/galene/jwt.h"

static const char keys_json[] = "[{\"kty\":\"oct\",\"alg\":\"HS256\",\"k\":\"OKAnT_MeU2w-KQDrVwnEEUaQkxvqXwYAU1g0x_XM7r8\"},{\"kty\":\"EC\",\"x\":\"wZoe-GLoz2GyDkRJvxiDFXLs7SdrGuSKfapgW8bORCA\",\"y\":\"D8R7Igkfm7s9FSW5fmkFlBcC6Y76W0TGf8KL_LPGElk\",\"crv\":\"P-256\",\"alg\":\"ES256\",\"kid\":\"ec1\"},{\"kty\":\"RSA\",\"n\":\"0WCAjZziBALJzejGWZ_dPS_99KJoDFLj1GnMXfUo0Uv-kEjH7RqNC41q0Rd2Fw5-9v8XYb57mk3nPGmiaVkBdDBNbMyM8gq2oU-4G06pnZW8ZVpxfhpXKMVT2jHYcwxNggVgx3-a7yAzZIccIy2jgqpUFPP4f3z_FhaObmCwdAU\",\"e\":\"AQAB\",\"alg\":\"RS256\"}]";
static struct jwk keys[3];
static size_t nkeys;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	struct json_doc d;
	if (json_parse(&d, keys_json, strlen(keys_json), 256) != JSON_OK)
		abort();
	for (int k = 0, j = 1; k < json_size(&d, 0); k++, j = json_skip(&d, j)) {
		char err[200];
		if (jwk_parse(&keys[nkeys++], &d, j, err, sizeof err) != 0)
			abort();
	}
	json_free(&d);
	return 0;
}

static void check_b64(const uint8_t *data, size_t size)
{
	unsigned char *out;
	size_t n;
	if (b64url_decode((const char *)data, size, &out, &n) != 0)
		return;
	size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *again = malloc(cap);
	if (!again)
		abort();
	sodium_bin2base64(again, cap, out, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if (strlen(again) != size || memcmp(again, data, size) != 0)
		abort();
	free(again);
	free(out);
}

static void check_token(const char *tok, size_t n, const char *host)
{
	struct jwt_claims c;
	char err[200];
	int rc = jwt_verify(tok, n, keys, nkeys, host, "test", 1800000000.0, &c, err, sizeof err);
	if (rc != JWT_OK) {
		if (rc != JWT_MALFORMED && rc != JWT_INVALID && rc != JWT_NOMEM)
			abort();
		return;
	}
	if (c.exp + JWT_LEEWAY_S < 1800000000.0 || (!c.has_perms && c.nperms) || c.nperms > JWT_MAX_PERMS)
		abort();
	for (size_t i = 0; i < c.nperms; i++)
		if (!c.perms[i])
			abort();
	jwt_claims_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_b64(data, size);
	if (size == 0)
		return 0;
	/* an exact-size copy, so ASan sees any read past the end */
	char *copy = malloc(size - 1 ? size - 1 : 1);
	if (!copy)
		abort();
	memcpy(copy, data + 1, size - 1);
	if (data[0] & 1) {
		struct json_doc d;
		if (json_parse(&d, copy, size - 1, 4096) == JSON_OK) {
			struct jwk k;
			char err[200];
			if (jwk_parse(&k, &d, 0, err, sizeof err) == 0) {
				if (!k.secret && !k.pkey)
					abort();
				jwk_free(&k);
			}
			json_free(&d);
		}
	} else {
		check_token(copy, size - 1, NULL);
		check_token(copy, size - 1, "localhost:8443");
	}
	free(copy);
	return 0;
}
