/*
 * proto/galene/groupfile and groups: the recorded example group files,
 * every field, legacy conversion, strict refusals naming file and field,
 * and the groups folder (subgroups by folder, hidden entries, broken
 * files, auto-subgroups, reloading on change, removal).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../common/log.h"
#include "../../proto/galene/groupfile.h"
#include "../../proto/galene/groups.h"
#include "../../proto/galene/timefmt.h"
#include "check.h"

#define EXAMPLES "tests/unit/galene/groups"

static struct gf_group *parse_str(const char *js, char *err, size_t cap)
{
	return gf_parse("t.json", js, strlen(js), err, cap);
}

/* The permissions of user (NULL: first wildcard) as "a,b,c". */
static const char *perms_of(const struct gf_group *g, const char *user)
{
	static char out[128];
	const struct gf_user *u = user ? gf_find_user(g, user, strlen(user)) : g->nwildcards ? &g->wildcards[0] : NULL;
	if (!u)
		return "(none)";
	enum gf_perm list[GF_NPERM + 2];
	size_t n = gf_expand(g, &u->perms, list);
	out[0] = 0;
	for (size_t i = 0; i < n; i++) {
		strcat(out, i ? "," : "");
		strcat(out, gf_perm_names[list[i]]);
	}
	return out;
}

static int user_check(const struct gf_group *g, const char *user, const char *pw)
{
	const struct gf_user *u = gf_find_user(g, user, strlen(user));
	return u ? pw_check(&u->password, pw, strlen(pw)) : -9;
}

static void test_examples(void)
{
	struct gf_dir d;
	struct gf_result r;
	gf_dir_init(&d, EXAMPLES);
	CHECK("examples: three groups", gf_dir_scan(&d, NULL, NULL) == 3);
	CHECK("examples: test found", gf_dir_get(&d, "test", &r) == GF_FOUND && !r.subgroup);
	const struct gf_group *g = r.group;
	if (!g) {
		gf_dir_free(&d);
		return;
	}
	CHECK("test: displayName", g->display_name && !strcmp(g->display_name, "Protocol test group"));
	CHECK("test: description", g->description && !strcmp(g->description, "Group used by the research driver"));
	CHECK("test: public, no recording, history 3600", g->is_public && !g->allow_recording && gf_history_age(g) == 3600);
	CHECK("test: alice is op", !strcmp(perms_of(g, "alice"), "op,present,message,caption,token"));
	CHECK("test: bob presents", !strcmp(perms_of(g, "bob"), "present,message"));
	CHECK("test: carol messages", !strcmp(perms_of(g, "carol"), "message"));
	CHECK("test: wildcard observes", g->nwildcards == 1 && !strcmp(perms_of(g, NULL), ""));
	CHECK("test: alice plain", user_check(g, "alice", "alicepw") == PW_MATCH && user_check(g, "alice", "x") == PW_MISMATCH);
	CHECK("test: bob pbkdf2", user_check(g, "bob", "bobpw") == PW_MATCH);
	CHECK("test: carol bcrypt", user_check(g, "carol", "carolpw") == PW_MATCH);
	CHECK("test: wildcard password guest", pw_check(&g->wildcards[0].password, "guest", 5) == PW_MATCH);
	size_t nc;
	const struct gf_user *cand = gf_candidates(g, "bob", 3, &nc);
	CHECK("test: bob with the guest password is refused (no fall-through, T-02)",
	      nc == 1 && pw_check(&cand->password, "guest", 5) == PW_MISMATCH);
	cand = gf_candidates(g, "stranger", 8, &nc);
	CHECK("test: a stranger tries the wildcard", nc == 1 && cand == &g->wildcards[0] &&
							   pw_check(&cand->password, "guest", 5) == PW_MATCH &&
							   pw_check(&cand->password, "wrong", 5) == PW_MISMATCH);
	CHECK("test: no user dave", gf_find_user(g, "dave", 4) == NULL && gf_find_user(g, "alic", 4) == NULL);
	CHECK("small: max-clients 1", gf_dir_get(&d, "small", &r) == GF_FOUND && r.group->max_clients == 1);
	CHECK("small: default history age", gf_history_age(r.group) == GF_DEFAULT_HISTORY_AGE);
	CHECK("auto: autolock, auto-subgroups", gf_dir_get(&d, "auto", &r) == GF_FOUND && r.group->autolock &&
							r.group->auto_subgroups);
	CHECK("auto/x is a subgroup", gf_dir_get(&d, "auto/x", &r) == GF_FOUND && r.subgroup &&
					      !strcmp(r.file_name, "auto"));
	CHECK("auto/x/y too", gf_dir_get(&d, "auto/x/y", &r) == GF_FOUND && r.subgroup);
	CHECK("test/x: no auto-subgroups", gf_dir_get(&d, "test/x", &r) == GF_NOT_FOUND);
	CHECK("no-such-group", gf_dir_get(&d, "no-such-group", &r) == GF_NOT_FOUND);
	CHECK("../etc is an illegal name", gf_dir_get(&d, "../etc", &r) == GF_BAD_NAME);
	gf_dir_free(&d);
}

static void test_all_fields(void)
{
	char err[600] = "";
	struct gf_group *g = parse_str(
	    "{\"displayName\":\"D\",\"description\":\"x\",\"contact\":\"c@example.org\",\"comment\":\"hi\","
	    "\"public\":true,\"redirect\":\"https://elsewhere.example/group/x/\",\"max-clients\":10,"
	    "\"max-history-age\":60,\"not-before\":\"2026-01-31T18:00:00Z\",\"expires\":\"2026-02-01T18:00:00.5+01:00\","
	    "\"allow-recording\":true,\"unrestricted-tokens\":true,\"auto-subgroups\":false,\"autolock\":true,"
	    "\"autokick\":true,\"authServer\":\"https://auth.example/\",\"authPortal\":\"https://portal.example/\","
	    "\"codecs\":[\"vp8\",\"opus\",\"h265\"],"
	    "\"users\":{\"o\":{\"password\":\"p\",\"permissions\":\"op\"},\"p\":{\"permissions\":\"present\"},"
	    "\"c\":{\"permissions\":\"caption\"},\"a\":{\"permissions\":\"admin\"},"
	    "\"l\":{\"permissions\":[\"message\",\"present\",\"message\"]}},"
	    "\"authKeys\":[{\"kty\":\"oct\",\"alg\":\"HS256\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}",
	    err, sizeof err);
	CHECK("all fields parse", g != NULL);
	if (!g) {
		printf("#   %s\n", err);
		return;
	}
	CHECK("strings", !strcmp(g->display_name, "D") && !strcmp(g->comment, "hi") && g->contact && !strcmp(g->contact, "c@example.org") &&
				 !strcmp(g->redirect, "https://elsewhere.example/group/x/") &&
				 !strcmp(g->auth_server, "https://auth.example/") && !strcmp(g->auth_portal, "https://portal.example/"));
	CHECK("ints", g->max_clients == 10 && g->max_history_age == 60);
	CHECK("not-before", g->has_not_before && g->not_before_ns == 1769882400LL * 1000000000);
	CHECK("expires with fraction and offset", g->has_expires && g->expires_ns == (1769968800LL - 3600) * 1000000000 + 500000000);
	CHECK("bools", g->is_public && g->allow_recording && g->unrestricted_tokens && !g->auto_subgroups && g->autolock &&
			       g->autokick);
	CHECK("codecs: unknown one ignored", g->codecs == (GF_C_VP8 | GF_C_OPUS));
	CHECK("allow-recording: record first for ops", !strcmp(perms_of(g, "o"), "record,op,present,message,caption,token"));
	CHECK("unrestricted-tokens: token first for presenters", !strcmp(perms_of(g, "p"), "token,present,message"));
	CHECK("caption set", !strcmp(perms_of(g, "c"), "caption"));
	CHECK("admin set", !strcmp(perms_of(g, "a"), "admin"));
	CHECK("explicit list kept in order, repeats dropped", !strcmp(perms_of(g, "l"), "message,present"));
	CHECK("bits", gf_perm_bits(g, &gf_find_user(g, "o", 1)->perms) ==
			      (1u << GF_P_RECORD | 1u << GF_P_OP | 1u << GF_P_PRESENT | 1u << GF_P_MESSAGE |
			       1u << GF_P_CAPTION | 1u << GF_P_TOKEN));
	CHECK("user without password never matches", user_check(g, "p", "") == PW_MISMATCH);
	CHECK("one auth key", g->nkeys == 1 && g->keys[0].alg == JWK_HS256 && g->keys[0].secretlen == 32);
	gf_unref(g);
	g = parse_str("{\"public\":null,\"users\":null,\"wildcard-user\":null}", err, sizeof err);
	CHECK("null is absent", g && !g->is_public && !g->nusers && !g->nwildcards);
	gf_unref(g);
	g = parse_str("{}", err, sizeof err);
	CHECK("empty object is a group", g && !g->nusers && !g->nwildcards && gf_history_age(g) == 14400);
	gf_unref(g);
}

/* Ten thousand users: the duplicate check and the lookup stay fast
 * (quadratic duplicate detection took minutes here). */
static void test_many_users(void)
{
	size_t cap = 10000 * 40 + 16, n = 0;
	char *js = malloc(cap), err[600] = "";
	if (!js)
		return;
	n += (size_t)snprintf(js + n, cap - n, "{\"users\":{");
	for (int i = 0; i < 10000; i++)
		n += (size_t)snprintf(js + n, cap - n, "%s\"user%d\":{\"password\":\"pw%d\"}", i ? "," : "", i, i);
	snprintf(js + n, cap - n, "}}");
	struct gf_group *g = gf_parse("big.json", js, strlen(js), err, sizeof err);
	CHECK("10000 users parse", g && g->nusers == 10000);
	CHECK("10000 users: lookups", g && user_check(g, "user0", "pw0") == PW_MATCH &&
					      user_check(g, "user9999", "pw9999") == PW_MATCH &&
					      user_check(g, "user5000", "pw5001") == PW_MISMATCH && !gf_find_user(g, "user10000", 9));
	gf_unref(g);
	js[n] = 0; /* drop the closing braces */
	snprintf(js + n, cap - n, ",\"user42\":{}}}");
	g = gf_parse("big.json", js, strlen(js), err, sizeof err);
	CHECK("10000 users: a repeated one refused", !g && strstr(err, "users: duplicate user"));
	gf_unref(g);
	free(js);
}

static void test_legacy(void)
{
	char err[600] = "";
	struct gf_group *g = parse_str(
	    "{\"users\":{\"bob\":{\"password\":\"b\",\"permissions\":\"message\"}},"
	    "\"op\":[{\"username\":\"root\",\"password\":\"r\"},{\"password\":\"oppw\"}],"
	    "\"presenter\":[{\"username\":\"bob\",\"password\":\"other\"},{\"username\":\"pete\"}],"
	    "\"other\":[{}],\"allow-subgroups\":true,\"allow-anonymous\":false}",
	    err, sizeof err);
	CHECK("legacy parses", g != NULL);
	if (!g) {
		printf("#   %s\n", err);
		return;
	}
	CHECK("legacy op user", !strcmp(perms_of(g, "root"), "op,present,message,caption,token") &&
					user_check(g, "root", "r") == PW_MATCH);
	CHECK("legacy duplicate of users ignored", !strcmp(perms_of(g, "bob"), "message") && user_check(g, "bob", "b") == PW_MATCH);
	CHECK("legacy presenter without password: wildcard password", user_check(g, "pete", "anything") == PW_MATCH &&
									      !strcmp(perms_of(g, "pete"), "present,message"));
	CHECK("legacy entries without username: wildcards in order", g->nwildcards == 2 &&
									   g->wildcards[0].perms.set == GF_SET_OP &&
									   g->wildcards[1].perms.set == GF_SET_MESSAGE);
	CHECK("legacy other: message, any password", pw_check(&g->wildcards[1].password, "", 0) == PW_MATCH);
	CHECK("allow-subgroups is auto-subgroups", g->auto_subgroups);
	gf_unref(g);
	g = parse_str("{\"wildcard-user\":{\"password\":\"w\",\"permissions\":\"present\"},"
		      "\"fallback-users\":[{\"password\":\"f\",\"permissions\":\"message\"}]}", err, sizeof err);
	CHECK("wildcard-user first, then fallback-users", g && g->nwildcards == 2 && g->wildcards[0].perms.set == GF_SET_PRESENT &&
								 pw_check(&g->wildcards[1].password, "f", 1) == PW_MATCH);
	gf_unref(g);
}

static void refused(const char *name, const char *js, const char *want)
{
	char err[600] = "";
	struct gf_group *g = parse_str(js, err, sizeof err);
	CHECK(name, !g && strstr(err, want) != NULL);
	if (g || !strstr(err, want))
		printf("#   got \"%s\", want \"%s\"\n", err, want);
	gf_unref(g);
}

static void test_refusals(void)
{
	refused("unknown field", "{\"allow-recordings\":true}", "t.json: allow-recordings: unknown field");
	refused("string for a bool (Galène #63)", "{\"allow-recording\":\"true\"}", "t.json: allow-recording: must be true or false");
	refused("duplicate field", "{\"public\":true,\"public\":false}", "t.json: duplicate field");
	refused("duplicate field spelled with an escape", "{\"public\":true,\"\\u0070ublic\":false}", "t.json: duplicate field");
	refused("not an object", "[]", "t.json: a group file must hold one JSON object");
	refused("not JSON", "{\"public\":true,}", "t.json: not valid JSON");
	refused("trailing garbage", "{} x", "t.json: not valid JSON");
	refused("fractional max-clients", "{\"max-clients\":1.5}", "t.json: max-clients: must be an integer");
	refused("negative max-history-age", "{\"max-history-age\":-1}", "t.json: max-history-age: must be an integer");
	refused("huge max-clients", "{\"max-clients\":1e3}", "max-clients");
	refused("bad time", "{\"not-before\":\"2026-02-30T00:00:00Z\"}", "t.json: not-before: must be an RFC 3339 time");
	refused("time without zone", "{\"expires\":\"2026-01-01T00:00:00\"}", "t.json: expires:");
	refused("time as a number", "{\"expires\":1700000000}", "t.json: expires:");
	refused("displayName number", "{\"displayName\":3}", "t.json: displayName: must be a string");
	refused("users not an object", "{\"users\":[]}", "t.json: users: must be an object");
	refused("unknown field in a user", "{\"users\":{\"bob\":{\"password\":\"x\",\"perms\":\"op\"}}}",
		"t.json: users.bob: unknown field \"perms\"");
	refused("unknown permission set", "{\"users\":{\"bob\":{\"permissions\":\"superuser\"}}}",
		"t.json: users.bob.permissions: unknown permission set");
	refused("unknown permission in a list", "{\"users\":{\"bob\":{\"permissions\":[\"op\",\"fly\"]}}}",
		"t.json: users.bob.permissions: element 1: unknown permission");
	refused("bad password", "{\"users\":{\"bob\":{\"password\":{\"type\":\"pbkdf2\",\"hash\":\"sha-256\",\"key\":\"00\",\"salt\":\"00\",\"iterations\":\"4096\"}}}}",
		"t.json: users.bob.password: iterations: must be an integer");
	refused("duplicate user", "{\"users\":{\"a\":{},\"a\":{}}}", "t.json: users: duplicate user");
	refused("wildcard-user wrong type", "{\"wildcard-user\":\"guest\"}", "t.json: wildcard-user: must be an object");
	refused("legacy op not an array", "{\"op\":{}}", "t.json: op: must be an array");
	refused("legacy entry unknown field", "{\"other\":[{\"user\":\"x\"}]}", "t.json: other[0]: unknown field \"user\"");
	refused("codecs not strings", "{\"codecs\":[1]}", "t.json: codecs: element 0");
	refused("authKeys bad key length", "{\"authKeys\":[{\"kty\":\"oct\",\"alg\":\"HS256\",\"k\":\"AAAA\"}]}",
		"t.json: authKeys[0]: k: wrong length");
	refused("authKeys without alg", "{\"authKeys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"}]}", "t.json: authKeys[0]: alg:");
	refused("authKeys EC off the curve",
		"{\"authKeys\":[{\"kty\":\"EC\",\"alg\":\"ES256\",\"crv\":\"P-256\",\"x\":\"AQ\",\"y\":\"AQ\"}]}",
		"t.json: authKeys[0]: x, y: not a point");
	refused("allow-anonymous wrong type", "{\"allow-anonymous\":1}", "t.json: allow-anonymous: must be true or false");
	refused("meeting-start is not Galène's", "{\"meeting-start\":\"x\"}", "meeting-start: unknown field");
}

/* ---- the groups folder ---- */

static char root[64];

static void put(const char *rel, const char *text)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", root, rel);
	FILE *f = fopen(p, "w");
	bool ok = f && fputs(text, f) >= 0;
	if (f)
		ok &= fclose(f) == 0;
	if (!ok)
		printf("# could not write %s\n", p);
}

/* Gives a file an mtime of its own, so a same-size rewrite is still seen
 * however coarse the file system's clock. */
static void touch_at(const char *rel, long sec)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", root, rel);
	struct timespec ts[2] = {{sec, 0}, {sec, 0}};
	CHECK("set a file's mtime", utimensat(AT_FDCWD, p, ts, 0) == 0);
}

struct events {
	char log[1024];
};

static void on_event(void *arg, const char *name, enum gf_event ev)
{
	static const char *const names[] = {"added", "changed", "removed", "broken"};
	struct events *e = arg;
	size_t n = strlen(e->log);
	snprintf(e->log + n, sizeof e->log - n, "%s%s %s", n ? ";" : "", names[ev], name);
}

static bool has_event(const struct events *e, const char *what) { return strstr(e->log, what) != NULL; }

static void test_folder(void)
{
	snprintf(root, sizeof root, "/tmp/sb-galene-XXXXXX");
	if (!mkdtemp(root)) {
		CHECK("temporary folder", 0);
		return;
	}
	char p[256];
	const char *dirs[] = {"sub", "sub/deeper", ".hidden", "sub/.git"};
	for (int i = 0; i < 4; i++) {
		snprintf(p, sizeof p, "%s/%s", root, dirs[i]);
		mkdir(p, 0700);
	}
	put("a.json", "{\"public\":true }");
	put("sub/b.json", "{\"displayName\":\"B\"}");
	put("sub/deeper/c.json", "{}");
	put(".x.json", "{}");
	put(".hidden/d.json", "{}");
	put("sub/.git/e.json", "{}");
	put("notes.txt", "{}");
	put("broken.json", "{\"public\":\"yes\"}");
	snprintf(p, sizeof p, "%s/sub", root);
	char lnk[256];
	snprintf(lnk, sizeof lnk, "%s/linked", root);
	CHECK("symlink made", symlink(p, lnk) == 0);

	struct gf_dir d;
	struct events ev = {""};
	gf_dir_init(&d, root);
	int n = gf_dir_scan(&d, on_event, &ev);
	CHECK("scan: three usable groups", n == 3);
	CHECK("scan: added a, sub/b, sub/deeper/c", has_event(&ev, "added a") && has_event(&ev, "added sub/b") &&
							    has_event(&ev, "added sub/deeper/c"));
	CHECK("scan: broken reported", has_event(&ev, "broken broken"));
	CHECK("scan: hidden files, hidden folders, other files, linked folders skipped",
	      !strstr(ev.log, ".x") && !strstr(ev.log, "hidden") && !strstr(ev.log, ".git") && !strstr(ev.log, "notes") &&
		  !strstr(ev.log, "linked"));
	struct gf_result r;
	CHECK("get sub/b", gf_dir_get(&d, "sub/b", &r) == GF_FOUND && !strcmp(r.group->display_name, "B") && !r.reloaded);
	CHECK("get broken: error names file and field",
	      gf_dir_get(&d, "broken", &r) == GF_BROKEN && r.error && strstr(r.error, "broken.json: public: must be true or false"));
	CHECK("get .x: illegal name", gf_dir_get(&d, ".x", &r) == GF_BAD_NAME);
	CHECK("get sub: no file", gf_dir_get(&d, "sub", &r) == GF_NOT_FOUND);

	/* a change of content with the same size, then a new size */
	struct gf_group *kept = NULL;
	if (gf_dir_get(&d, "a", &r) == GF_FOUND)
		kept = gf_ref(r.group);
	put("a.json", "{\"public\":false}");
	touch_at("a.json", 1000000000);
	CHECK("same-size rewrite seen on lookup", gf_dir_get(&d, "a", &r) == GF_FOUND && r.reloaded && !r.group->is_public);
	CHECK("a kept reference survives the reload", kept && kept->is_public);
	gf_unref(kept);
	CHECK("unchanged on the next lookup", gf_dir_get(&d, "a", &r) == GF_FOUND && !r.reloaded);
	put("sub/b.json", "{\"displayName\":\"B2\"}");
	put("broken.json", "{\"public\":true}");
	snprintf(p, sizeof p, "%s/sub/deeper/c.json", root);
	unlink(p);
	ev.log[0] = 0;
	n = gf_dir_scan(&d, on_event, &ev);
	CHECK("rescan: b changed, broken fixed, c removed, a quiet",
	      n == 3 && has_event(&ev, "changed sub/b") && has_event(&ev, "changed broken") &&
		  has_event(&ev, "removed sub/deeper/c") && !has_event(&ev, " a;") && strcmp(ev.log + strlen(ev.log) - 2, " a"));
	ev.log[0] = 0;
	n = gf_dir_scan(&d, on_event, &ev);
	CHECK("rescan without changes is quiet", n == 3 && ev.log[0] == 0);
	CHECK("removed group not found", gf_dir_get(&d, "sub/deeper/c", &r) == GF_NOT_FOUND);
	gf_dir_free(&d);

	struct gf_dir none;
	gf_dir_init(&none, "/nonexistent/sb-galene");
	CHECK("missing folder", gf_dir_scan(&none, NULL, NULL) == -1);
	gf_dir_free(&none);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", root);
}

static int64_t t(const char *s)
{
	int64_t ns;
	return rfc3339_parse(s, strlen(s), &ns) == 0 ? ns : -1;
}

static void test_times(void)
{
	CHECK("rfc3339: epoch", t("1970-01-01T00:00:00Z") == 0);
	CHECK("rfc3339: Galène's nanoseconds", t("2026-11-21T23:29:07.310828832Z") == 1795303747310828832LL);
	CHECK("rfc3339: leap day", t("2024-02-29T12:00:00Z") == 1709208000LL * 1000000000);
	CHECK("rfc3339: negative offset", t("2026-01-01T00:00:00-05:30") == (1767225600LL + 19800) * 1000000000);
	CHECK("rfc3339: no leap day in 2100", t("2100-02-29T00:00:00Z") == -1);
	CHECK("rfc3339: lower-case t and z refused", t("2026-01-01t00:00:00Z") == -1 && t("2026-01-01T00:00:00z") == -1);
	CHECK("rfc3339: ten fraction digits refused", t("2026-01-01T00:00:00.1234567890Z") == -1);
	CHECK("rfc3339: empty fraction refused", t("2026-01-01T00:00:00.Z") == -1);
	CHECK("rfc3339: hour 24 refused", t("2026-01-01T24:00:00Z") == -1);
	CHECK("rfc3339: space for T refused", t("2026-01-01 00:00:00Z") == -1);
}

static void test_names(void)
{
	const char *good[] = {"a", "a/b", "a b", "é", "a.b", "a/b.c"};
	const char *bad[] = {"", "/a", "a/", "a//b", ".", "..", "../etc", "a/../b", "a/./b", ".hidden", "a/.b", "a\\b"};
	bool ok = true;
	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		ok &= gf_name_valid(good[i], strlen(good[i]));
	CHECK("valid group names", ok);
	ok = true;
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ok &= !gf_name_valid(bad[i], strlen(bad[i]));
	CHECK("invalid group names", ok && !gf_name_valid("a\0b", 3));
}

void test_galene_groupfile(void)
{
	log_set_level(LOG_ERROR + (getenv("SB_TEST_VERBOSE") ? 3 : 0));
	test_examples();
	test_all_fields();
	test_legacy();
	test_many_users();
	test_refusals();
	test_names();
	test_times();
	test_folder();
	log_set_level(LOG_INFO);
}
