/*
 * proto/galene/password: every password form against vectors made by real
 * tools: Galène's own galenectl (the pbkdf2 and bcrypt entries of the
 * recorded test group), python3's hashlib.pbkdf2_hmac and bcryptjs (run
 * by the test); refusals of malformed entries; checks on worker threads.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/json.h"
#include "../../proto/galene/password.h"
#include "check.h"
#include "galene_util.h"

/* Parses a password JSON literal; -1 (and err) when refused. */
static int parse(const char *js, struct pw_spec *p, char *err, size_t cap)
{
	struct json_doc d;
	if (json_parse(&d, js, strlen(js), 256) != JSON_OK) {
		snprintf(err, cap, "bad test JSON");
		return -1;
	}
	int rc = pw_parse(p, &d, 0, err, cap);
	json_free(&d);
	return rc;
}

static int check_js(const char *js, const char *pw, size_t len)
{
	struct pw_spec p;
	char err[200];
	if (parse(js, &p, err, sizeof err) != 0)
		return -2;
	int rc = pw_check(&p, pw, len);
	pw_free(&p);
	return rc;
}
#define CHK(js, pw) check_js(js, pw, strlen(pw))

/* The entries galenectl wrote for bob (bobpw) and carol (carolpw). */
#define GALENE_PBKDF2 "{\"type\":\"pbkdf2\",\"hash\":\"sha-256\",\"key\":\"474d02e5638fa87783a913abc2ec70625a381c38b4393c751c54c01cc0e2ea57\",\"salt\":\"20fc51ff6b8a0691\",\"iterations\":4096}"
#define GALENE_BCRYPT "{\"type\":\"bcrypt\",\"key\":\"$2a$08$Rd9jnNl6MyEFWMIiVZ6J0.4.xo8fb.FNsQLglZz.q5u6UljEN4S3e\"}"

static void test_plain_wildcard(void)
{
	CHECK("plain string matches", CHK("\"alicepw\"", "alicepw") == PW_MATCH);
	CHECK("plain string: other password", CHK("\"alicepw\"", "alicepw ") == PW_MISMATCH);
	CHECK("plain string: prefix", CHK("\"alicepw\"", "alice") == PW_MISMATCH);
	CHECK("plain string: empty", CHK("\"alicepw\"", "") == PW_MISMATCH);
	CHECK("plain empty password matches only empty", CHK("\"\"", "") == PW_MATCH && CHK("\"\"", "x") == PW_MISMATCH);
	CHECK("explicit plain", CHK("{\"type\":\"plain\",\"key\":\"k\\u00e9\"}", "k\xc3\xa9") == PW_MATCH);
	CHECK("plain with NUL byte compared as bytes",
	      check_js("\"a\\u0000b\"", "a\0b", 3) == PW_MATCH && check_js("\"a\\u0000b\"", "a", 1) == PW_MISMATCH);
	CHECK("wildcard matches anything", CHK("{\"type\":\"wildcard\"}", "whatever") == PW_MATCH);
	CHECK("wildcard matches empty", CHK("{\"type\":\"wildcard\"}", "") == PW_MATCH);
	CHECK("no type never matches", CHK("{\"key\":\"x\"}", "x") == PW_MISMATCH);
	CHECK("empty type never matches", CHK("{\"type\":\"\",\"key\":\"x\"}", "x") == PW_MISMATCH);
	CHECK("pw_equal lengths differ", !pw_equal("ab", 2, "abc", 3) && pw_equal("abc", 3, "abc", 3));
}

static void test_galenectl_vectors(void)
{
	CHECK("galenectl pbkdf2: bobpw", CHK(GALENE_PBKDF2, "bobpw") == PW_MATCH);
	CHECK("galenectl pbkdf2: wrong", CHK(GALENE_PBKDF2, "bobpw2") == PW_MISMATCH);
	CHECK("galenectl pbkdf2: empty", CHK(GALENE_PBKDF2, "") == PW_MISMATCH);
	CHECK("galenectl bcrypt: carolpw", CHK(GALENE_BCRYPT, "carolpw") == PW_MATCH);
	CHECK("galenectl bcrypt: wrong", CHK(GALENE_BCRYPT, "carolpW") == PW_MISMATCH);
	CHECK("galenectl bcrypt: NUL suffix refused", check_js(GALENE_BCRYPT, "carolpw\0x", 9) == PW_MISMATCH);
}

/* PBKDF2 keys derived by python3's hashlib for passwords, salts, counts
 * and lengths of our choosing. */
static void test_pbkdf2_python(void)
{
	static const struct {
		const char *pw_hex, *salt, *pw_json;
		int iter, dklen;
	} v[] = {
		{"68756e746572", "00", "\"hunter\"", 1, 32},
		{"c3a9e282ac", "0102030405060708", "\"\\u00e9\\u20ac\"", 1000, 16},
		{"", "aa55", "\"\"", 2, 64},
		{"7365637265742077697468207370616365", "", "\"secret with space\"", 4096, 32},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char cmd[512], js[512], name[96];
		snprintf(cmd, sizeof cmd,
			 "python3 -c \"import hashlib;print(hashlib.pbkdf2_hmac('sha256',bytes.fromhex('%s'),"
			 "bytes.fromhex('%s'),%d,%d).hex(),end='')\"",
			 v[i].pw_hex, v[i].salt, v[i].iter, v[i].dklen);
		char *key = galene_run(cmd);
		snprintf(name, sizeof name, "python3 made pbkdf2 vector %zu", i);
		CHECK(name, key != NULL);
		if (!key)
			continue;
		snprintf(js, sizeof js, "{\"type\":\"pbkdf2\",\"hash\":\"sha-256\",\"key\":\"%s\",\"salt\":\"%s\",\"iterations\":%d}",
			 key, v[i].salt, v[i].iter);
		/* the candidate password is the decoded pw_json */
		struct json_doc d;
		char pw[64];
		size_t n = 0;
		if (json_parse(&d, v[i].pw_json, strlen(v[i].pw_json), 4) == JSON_OK) {
			if (json_str(&d, 0, pw, sizeof pw, &n) != 0)
				n = 0;
			json_free(&d);
		}
		snprintf(name, sizeof name, "pbkdf2 python vector %zu matches", i);
		CHECK(name, check_js(js, pw, n) == PW_MATCH);
		snprintf(name, sizeof name, "pbkdf2 python vector %zu: wrong password", i);
		CHECK(name, check_js(js, "nope", 4) == PW_MISMATCH);
		free(key);
	}
}

static char *bcryptjs(const char *pairs_json)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "NODE_PATH=tests/e2e/node_modules node tests/unit/galene/bcrypt-hash.js '%s'",
		 pairs_json);
	return galene_run(cmd);
}

/* Hash i of a JSON array of strings into buf (61 bytes). */
static int nth_hash(const char *arr, int i, char *buf)
{
	struct json_doc d;
	int rc = -1;
	size_t n;
	if (json_parse(&d, arr, strlen(arr), 64) == JSON_OK && json_type(&d, 0) == JSON_ARRAY &&
	    i < json_size(&d, 0) && json_str(&d, 1 + i, buf, 60, &n) == 0 && n == 60) {
		buf[60] = 0;
		rc = 0;
	}
	json_free(&d);
	return rc;
}

#define LONG80 "0123456789012345678901234567890123456789012345678901234567890123456789012345678X"

static void test_bcryptjs(void)
{
	char *out = bcryptjs("[[\"carolpw\",4],[\"\\u00e9t\\u00e9 \\u20ac\",5],[\"\",4],[\"" LONG80 "\",4]]");
	CHECK("bcryptjs made hashes", out != NULL);
	if (!out)
		return;
	const char *pws[] = {"carolpw", "\xc3\xa9t\xc3\xa9 \xe2\x82\xac", "", LONG80};
	for (int i = 0; i < 4; i++) {
		char h[61], js[160], name[96];
		if (nth_hash(out, i, h) != 0) {
			CHECK("bcryptjs output readable", 0);
			continue;
		}
		static const char minors[] = "bay";
		for (int m = 0; m < 3; m++) {
			h[2] = minors[m]; /* $2a$, $2b$, $2y$ all mean the same bcrypt */
			snprintf(js, sizeof js, "{\"type\":\"bcrypt\",\"key\":\"%s\"}", h);
			snprintf(name, sizeof name, "bcryptjs vector %d as $2%c$ matches", i, minors[m]);
			CHECK(name, CHK(js, pws[i]) == PW_MATCH);
		}
		snprintf(name, sizeof name, "bcryptjs vector %d: wrong password", i);
		CHECK(name, CHK(js, "carolpw!") == PW_MISMATCH);
		if (i == 3) {
			/* bcrypt reads 72 bytes, in Go as in bcryptjs and libxcrypt */
			CHECK("bcrypt: bytes after 72 do not count", CHK(js, LONG80 "more") == PW_MATCH);
			CHECK("bcrypt: 71 bytes do not match", check_js(js, LONG80, 71) == PW_MISMATCH);
		}
	}
	free(out);
}

static void refused(const char *name, const char *js, const char *want)
{
	struct pw_spec p;
	char err[200] = "";
	int rc = parse(js, &p, err, sizeof err);
	if (rc == 0)
		pw_free(&p);
	CHECK(name, rc != 0 && strstr(err, want) != NULL);
	if (rc == 0 || !strstr(err, want))
		printf("#   got \"%s\", want \"%s\"\n", err, want);
}

static void test_refusals(void)
{
	refused("unknown type", "{\"type\":\"md5\",\"key\":\"x\"}", "type: unknown password type");
	refused("unknown field", "{\"type\":\"plain\",\"key\":\"x\",\"iteration\":3}", "iteration: unknown field");
	refused("duplicate field", "{\"type\":\"plain\",\"key\":\"x\",\"key\":\"y\"}", "duplicate field");
	refused("number", "42", "must be a string or an object");
	refused("plain without key", "{\"type\":\"plain\"}", "key:");
	refused("type not a string", "{\"type\":1}", "type: must be a string");
	refused("pbkdf2 bad hash", "{\"type\":\"pbkdf2\",\"hash\":\"sha-1\",\"key\":\"00\",\"salt\":\"00\",\"iterations\":1}", "hash:");
	refused("pbkdf2 odd hex", "{\"type\":\"pbkdf2\",\"hash\":\"sha-256\",\"key\":\"abc\",\"salt\":\"00\",\"iterations\":1}", "key:");
	refused("pbkdf2 non-hex", "{\"type\":\"pbkdf2\",\"hash\":\"sha-256\",\"key\":\"zz\",\"salt\":\"00\",\"iterations\":1}", "key:");
	refused("pbkdf2 empty key (would match anything)", "{\"type\":\"pbkdf2\",\"hash\":\"sha-256\",\"key\":\"\",\"salt\":\"00\",\"iterations\":1}", "key: must be non-empty");
	refused("pbkdf2 zero iterations", "{\"type\":\"pbkdf2\",\"hash\":\"sha-256\",\"key\":\"00\",\"salt\":\"00\",\"iterations\":0}", "iterations:");
	refused("pbkdf2 iterations as a string", "{\"type\":\"pbkdf2\",\"hash\":\"sha-256\",\"key\":\"00\",\"salt\":\"00\",\"iterations\":\"4096\"}", "iterations:");
	refused("pbkdf2 fractional iterations", "{\"type\":\"pbkdf2\",\"hash\":\"sha-256\",\"key\":\"00\",\"salt\":\"00\",\"iterations\":1.5}", "iterations:");
	refused("pbkdf2 bad salt", "{\"type\":\"pbkdf2\",\"hash\":\"sha-256\",\"key\":\"00\",\"salt\":\"0g\",\"iterations\":1}", "salt:");
	refused("bcrypt cost 3", "{\"type\":\"bcrypt\",\"key\":\"$2a$03$Rd9jnNl6MyEFWMIiVZ6J0.4.xo8fb.FNsQLglZz.q5u6UljEN4S3e\"}", "key:");
	refused("bcrypt $2x$", "{\"type\":\"bcrypt\",\"key\":\"$2x$08$Rd9jnNl6MyEFWMIiVZ6J0.4.xo8fb.FNsQLglZz.q5u6UljEN4S3e\"}", "key:");
	refused("bcrypt short", "{\"type\":\"bcrypt\",\"key\":\"$2a$08$Rd9jnNl6MyEFWMIiVZ6J0\"}", "key:");
	refused("bcrypt bad alphabet", "{\"type\":\"bcrypt\",\"key\":\"$2a$08$Rd9jnNl6MyEFWMIiVZ6J0.4.xo8fb.FNsQLglZz.q5u6UljEN4S3!\"}", "key:");
	refused("bcrypt key not a string", "{\"type\":\"bcrypt\",\"key\":7}", "key:");
	refused("bcrypt too long", "{\"type\":\"bcrypt\",\"key\":\"$2a$08$Rd9jnNl6MyEFWMIiVZ6J0.4.xo8fb.FNsQLglZz.q5u6UljEN4S3eX\"}", "key:");
}

struct job {
	struct pw_spec spec;
	const char *pw;
	int result;
};

static void *run_job(void *arg)
{
	struct job *j = arg;
	j->result = pw_check(&j->spec, j->pw, strlen(j->pw));
	return NULL;
}

/* The costly forms, checked on threads from private copies while the
 * original is freed, as the router will do off its loop. */
static void test_threads(void)
{
	struct pw_spec a, b;
	char err[200];
	if (parse(GALENE_BCRYPT, &a, err, sizeof err) != 0 || parse(GALENE_PBKDF2, &b, err, sizeof err) != 0) {
		CHECK("thread test setup", 0);
		return;
	}
	CHECK("bcrypt and pbkdf2 are costly", pw_costly(&a) && pw_costly(&b));
	struct pw_spec plain = {.type = PW_PLAIN};
	CHECK("plain and wildcard are not", !pw_costly(&plain));
	struct job jobs[4];
	pthread_t th[4];
	const char *pws[] = {"carolpw", "wrong", "bobpw", "wrong"};
	int ok = 1;
	for (int i = 0; i < 4; i++) {
		jobs[i].pw = pws[i];
		ok &= pw_copy(&jobs[i].spec, i < 2 ? &a : &b) == 0;
	}
	pw_free(&a);
	pw_free(&b);
	for (int i = 0; i < 4; i++)
		ok &= pthread_create(&th[i], NULL, run_job, &jobs[i]) == 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		pw_free(&jobs[i].spec);
	}
	CHECK("checks on threads from copies", ok && jobs[0].result == PW_MATCH && jobs[1].result == PW_MISMATCH &&
						       jobs[2].result == PW_MATCH && jobs[3].result == PW_MISMATCH);
}

void test_galene_password(void)
{
	test_plain_wildcard();
	test_galenectl_vectors();
	test_pbkdf2_python();
	test_bcryptjs();
	test_refusals();
	test_threads();
}
