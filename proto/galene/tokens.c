/*
 * Galène, router half: stateful tokens (invitations), kept one JSON object
 * a line in tokens.jsonl under the state dir, as Galène keeps them in
 * var/tokens.jsonl: maketoken appends a line, edittoken rewrites the file
 * (a new file renamed over the old one). Expired tokens stay listed (an op
 * may extend them) but admit nobody.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/json.h"
#include "../../common/log.h"
#include "jsonval.h"
#include "router.h"
#include "timefmt.h"

#define MAX_TOKENS 100000
#define TOKEN_LINE_MAX 65536

struct token {
	char token[64];
	char *group, *username, *issued_by;
	uint8_t perms[GF_NPERM];
	uint8_t nperms;
	int64_t expires_ms, not_before_ms, issued_at_ms; /* not_before 0: none */
};

static struct token *toks;
static size_t ntoks;
static char path[4096];

static void token_free(struct token *t)
{
	free(t->group);
	free(t->username);
	free(t->issued_by);
}

/* Permission names as a token holds them: the set names op and present
 * stand for their sets, as Galène expands them. */
static void add_perm(uint8_t *perms, uint8_t *n, int p)
{
	for (int i = 0; i < *n; i++)
		if (perms[i] == p)
			return;
	if (*n < GF_NPERM)
		perms[(*n)++] = (uint8_t)p;
}

static int perm_names(const struct json_doc *d, int arr, uint8_t *perms, uint8_t *n)
{
	*n = 0;
	if (arr < 0)
		return 0;
	if (json_type(d, arr) != JSON_ARRAY)
		return -1;
	int t = arr + 1;
	for (int i = 0; i < json_size(d, arr); i++, t = json_skip(d, t)) {
		int found = -1;
		for (int j = 0; j < GF_NPERM; j++)
			if (json_str_eq(d, t, gf_perm_names[j]))
				found = j;
		if (found < 0)
			return -1;
		add_perm(perms, n, found);
		if (found == GF_P_OP) {
			add_perm(perms, n, GF_P_PRESENT);
			add_perm(perms, n, GF_P_MESSAGE);
			add_perm(perms, n, GF_P_CAPTION);
			add_perm(perms, n, GF_P_TOKEN);
		} else if (found == GF_P_PRESENT) {
			add_perm(perms, n, GF_P_MESSAGE);
		}
	}
	return 0;
}

static void put_time(struct buf *b, const char *key, int64_t ms)
{
	buf_printf(b, ",\"%s\":\"", key);
	out_time(b, ms, true);
	buf_append_str(b, "\"");
}

static void token_json(struct buf *b, const struct token *t, const uint8_t *perms, size_t nperms)
{
	buf_append_str(b, "{\"token\":");
	json_put_string(b, t->token, strlen(t->token));
	out_kv(b, "group", t->group, strlen(t->group));
	if (t->username)
		out_kv(b, "username", t->username, strlen(t->username));
	buf_append_str(b, ",\"permissions\":[");
	for (size_t i = 0; i < nperms; i++)
		buf_printf(b, "%s\"%s\"", i ? "," : "", gf_perm_names[perms[i]]);
	buf_append_str(b, "]");
	put_time(b, "expires", t->expires_ms);
	if (t->not_before_ms)
		put_time(b, "not-before", t->not_before_ms);
	put_time(b, "issuedAt", t->issued_at_ms);
	if (t->issued_by)
		out_kv(b, "issuedBy", t->issued_by, strlen(t->issued_by));
	buf_append_str(b, "}");
}

static int get_time(const struct json_doc *d, int tok, int64_t *ms)
{
	char s[64];
	size_t n;
	int64_t ns;
	if (tok < 0 || json_str(d, tok, s, sizeof s, &n) < 0 || rfc3339_parse(s, n, &ns) < 0)
		return -1;
	*ms = ns / 1000000;
	return 0;
}

static char *get_dup(const struct json_doc *d, int tok)
{
	char *s;
	size_t n;
	if (tok < 0 || jv_strdup(d, tok, 4096, &s, &n) < 0)
		return NULL;
	return s;
}

static int parse_line(const char *line, size_t len, struct token *t)
{
	struct json_doc d = {0};
	memset(t, 0, sizeof *t);
	if (json_parse(&d, line, len, 1024) != JSON_OK || json_type(&d, 0) != JSON_OBJECT)
		return -1;
	size_t n;
	int rc = -1, tk = json_get(&d, 0, "token");
	if (tk < 0 || json_str(&d, tk, t->token, sizeof t->token - 1, &n) < 0)
		goto out;
	t->token[n] = 0;
	if (!(t->group = get_dup(&d, json_get(&d, 0, "group"))) || get_time(&d, json_get(&d, 0, "expires"), &t->expires_ms) < 0 ||
	    perm_names(&d, json_get(&d, 0, "permissions"), t->perms, &t->nperms) < 0)
		goto out;
	t->username = get_dup(&d, json_get(&d, 0, "username"));
	t->issued_by = get_dup(&d, json_get(&d, 0, "issuedBy"));
	get_time(&d, json_get(&d, 0, "not-before"), &t->not_before_ms);
	get_time(&d, json_get(&d, 0, "issuedAt"), &t->issued_at_ms);
	rc = 0;
out:
	json_free(&d);
	if (rc < 0)
		token_free(t);
	return rc;
}

static int add_token(const struct token *t)
{
	if (ntoks == MAX_TOKENS)
		return -1;
	struct token *n = realloc(toks, (ntoks + 1) * sizeof *toks);
	if (!n)
		return -1;
	toks = n;
	toks[ntoks++] = *t;
	return 0;
}

int tokens_init(const char *state_dir)
{
	snprintf(path, sizeof path, "%s/tokens.jsonl", state_dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 : (log_error("galene: %s: %s", path, strerror(errno)), -1);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0;
	while ((n = getline(&line, &cap, f)) > 0) {
		lineno++;
		struct token t;
		if (n > TOKEN_LINE_MAX || parse_line(line, (size_t)n, &t) < 0 || add_token(&t) < 0)
			log_warn("galene: %s:%d: not a token; ignored", path, lineno);
	}
	free(line);
	fclose(f);
	log_info("galene: %zu tokens in %s", ntoks, path);
	return 0;
}

void tokens_fini(void)
{
	for (size_t i = 0; i < ntoks; i++)
		token_free(&toks[i]);
	free(toks);
	toks = NULL;
	ntoks = 0;
}

static struct token *find(const char *tok, size_t n)
{
	for (size_t i = 0; i < ntoks; i++)
		if (strlen(toks[i].token) == n && memcmp(toks[i].token, tok, n) == 0)
			return &toks[i];
	return NULL;
}

int tokens_check(const char *token, size_t n, const char *group, size_t glen, struct tok_grant *out)
{
	struct token *t = find(token, n);
	if (!t || strlen(t->group) != glen || memcmp(t->group, group, glen) != 0)
		return TOK_NOT_FOUND;
	int64_t now = galene_now_ms();
	if (now > t->expires_ms || (t->not_before_ms && now < t->not_before_ms))
		return TOK_EXPIRED;
	memset(out, 0, sizeof *out);
	if (t->username && strlen(t->username) < sizeof out->username) {
		strcpy(out->username, t->username);
		out->has_username = true;
	}
	memcpy(out->perms, t->perms, t->nperms);
	out->nperms = t->nperms;
	return TOK_OK;
}

static int save_all(void)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	struct buf b = {0};
	for (size_t i = 0; i < ntoks; i++) {
		buf_reset(&b);
		token_json(&b, &toks[i], toks[i].perms, toks[i].nperms);
		buf_append_str(&b, "\n");
		fwrite(buf_head(&b), 1, buf_used(&b), f);
	}
	buf_free(&b);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

static int append_one(const struct token *t)
{
	FILE *f = fopen(path, "a");
	if (!f)
		return -1;
	struct buf b = {0};
	token_json(&b, t, t->perms, t->nperms);
	buf_append_str(&b, "\n");
	size_t w = fwrite(buf_head(&b), 1, buf_used(&b), f);
	bool ok = w == buf_used(&b);
	buf_free(&b);
	ok &= fflush(f) == 0 && fsync(fileno(f)) == 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* ---- maketoken, edittoken, listtokens ---- */

static void reply_error(struct galene_peer *p, const char *error, const char *text)
{
	struct buf *b = &galene_out;
	buf_reset(b);
	buf_append_str(b, "{\"type\":\"usermessage\",\"kind\":\"token\"");
	out_kv(b, "error", error, strlen(error));
	buf_append_str(b, ",\"privileged\":true");
	out_kv(b, "value", text, strlen(text));
	buf_append_str(b, "}");
	galene_send(p, b);
}

static void reply_token(struct galene_peer *p, const char *kind, const struct token *t, const uint8_t *perms,
			size_t nperms)
{
	struct buf *b = &galene_out;
	buf_reset(b);
	buf_printf(b, "{\"type\":\"usermessage\",\"kind\":\"%s\",\"privileged\":true,\"value\":", kind);
	token_json(b, t, perms, nperms);
	buf_append_str(b, "}");
	galene_send(p, b);
}

/* expires or not-before: a number is milliseconds from now, a string RFC 3339. */
static int when(const struct json_doc *d, int tok, int64_t *ms)
{
	if (json_type(d, tok) == JSON_NUMBER) {
		double v;
		if (jv_number(d, tok, &v) < 0 || v < 0 || v > 1e13)
			return -1;
		*ms = galene_now_ms() + (int64_t)v;
		return 0;
	}
	return get_time(d, tok, ms);
}

static bool only_keys(const struct json_doc *d, const char *const *allowed)
{
	int t = 1;
	for (int i = 0; i < json_size(d, 0); i++, t = json_skip(d, t + 1)) {
		bool ok = false;
		for (const char *const *a = allowed; *a; a++)
			ok |= json_str_eq(d, t, *a);
		if (!ok)
			return false;
	}
	return true;
}

static const char *make(struct galene_peer *p, const struct json_doc *d, struct token *t, uint8_t *given, uint8_t *ngiven)
{
	static const char *const keys[] = {"group", "username", "permissions", "expires", "not-before", NULL};
	if (json_get(d, 0, "token") >= 0)
		return "client-chosen tokens are not allowed";
	if (!only_keys(d, keys))
		return "unknown field in token";
	int g = json_get(d, 0, "group");
	struct ggroup *grp = p->group;
	if (g < 0 || json_type(d, g) != JSON_STRING || !(t->group = get_dup(d, g)) ||
	    strlen(t->group) != grp->name_len || memcmp(t->group, grp->name, grp->name_len) != 0)
		return "wrong group in token";
	int e = json_get(d, 0, "expires"), nb = json_get(d, 0, "not-before"), u = json_get(d, 0, "username");
	if (e < 0 || when(d, e, &t->expires_ms) < 0)
		return "token must expire";
	if (nb >= 0 && when(d, nb, &t->not_before_ms) < 0)
		return "bad not-before in token";
	if (u >= 0) {
		if (json_type(d, u) != JSON_STRING || !(t->username = get_dup(d, u)))
			return "bad username in token";
		if (gf_find_user(grp->desc, t->username, strlen(t->username)))
			return "this username is taken";
	}
	int pm = json_get(d, 0, "permissions");
	*ngiven = 0;
	if (pm >= 0 && json_type(d, pm) == JSON_ARRAY) {
		int x = pm + 1;
		for (int i = 0; i < json_size(d, pm); i++, x = json_skip(d, x))
			for (int j = 0; j < GF_NPERM; j++)
				if (json_str_eq(d, x, gf_perm_names[j]))
					add_perm(given, ngiven, j);
	}
	if (perm_names(d, pm, t->perms, &t->nperms) < 0)
		return "bad permissions in token";
	for (int i = 0; i < t->nperms; i++)
		if (!peer_has(p, t->perms[i]))
			return "";
	return NULL;
}

static void maketoken(struct galene_peer *p, const struct json_doc *d)
{
	struct token t = {0};
	uint8_t given[GF_NPERM], ngiven = 0;
	const char *why = make(p, d, &t, given, &ngiven);
	if (why) {
		token_free(&t);
		return *why ? reply_error(p, "error", why) : reply_error(p, "not-authorised", "not authorised");
	}
	out_random_id(t.token);
	t.issued_at_ms = galene_now_ms();
	if (!(t.issued_by = malloc(p->username_len + 1)))
		log_fatal("galene: out of memory");
	memcpy(t.issued_by, p->username, p->username_len + 1);
	if (append_one(&t) < 0 || add_token(&t) < 0) {
		log_error("galene: cannot store a token in %s: %s", path, strerror(errno));
		token_free(&t);
		return reply_error(p, "error", "cannot store the token");
	}
	reply_token(p, "token", &t, given, ngiven);
}

static void edittoken(struct galene_peer *p, const struct json_doc *d)
{
	static const char *const keys[] = {"token", "expires", "not-before", NULL};
	int tk = json_get(d, 0, "token"), e = json_get(d, 0, "expires"), nb = json_get(d, 0, "not-before");
	char s[64];
	size_t n;
	if (!only_keys(d, keys) || tk < 0 || json_str(d, tk, s, sizeof s, &n) < 0)
		return reply_error(p, "error", "bad token edit");
	struct token *t = find(s, n);
	if (!t || strlen(t->group) != p->group->name_len || memcmp(t->group, p->group->name, p->group->name_len) != 0)
		return reply_error(p, "error", "unknown token");
	struct token nt = *t;
	if ((e >= 0 && when(d, e, &nt.expires_ms) < 0) || (nb >= 0 && when(d, nb, &nt.not_before_ms) < 0))
		return reply_error(p, "error", "bad time in token edit");
	struct token old = *t;
	*t = nt;
	if (save_all() < 0) {
		*t = old;
		log_error("galene: cannot rewrite %s: %s", path, strerror(errno));
		return reply_error(p, "error", "cannot store the token");
	}
	reply_token(p, "token", t, t->perms, t->nperms);
}

static void listtokens(struct galene_peer *p)
{
	struct buf *b = &galene_out;
	buf_reset(b);
	buf_append_str(b, "{\"type\":\"usermessage\",\"kind\":\"tokenlist\",\"privileged\":true,\"value\":[");
	int k = 0;
	for (size_t i = 0; i < ntoks; i++) {
		struct token *t = &toks[i];
		if (strlen(t->group) != p->group->name_len || memcmp(t->group, p->group->name, p->group->name_len) != 0)
			continue;
		if (k++)
			buf_append_str(b, ",");
		token_json(b, t, t->perms, t->nperms);
	}
	buf_append_str(b, "]}");
	galene_send(p, b);
}

void tokens_action(struct galene_peer *p, const struct gmsg *m)
{
	bool make_it = gm_eq(&m->kind, "maketoken");
	if (!peer_has(p, GF_P_TOKEN) || (!make_it && !peer_has(p, GF_P_OP)))
		return reply_error(p, "not-authorised", "not authorised");
	if (gm_eq(&m->kind, "listtokens"))
		return listtokens(p);
	struct json_doc d = {0};
	const char *v;
	size_t n;
	if (m->value < 0)
		return reply_error(p, "error", "no value");
	gm_raw(m, m->value, &v, &n);
	if (json_parse(&d, v, n, 1024) != JSON_OK || json_type(&d, 0) != JSON_OBJECT) {
		json_free(&d);
		return reply_error(p, "error", "bad value");
	}
	if (make_it)
		maketoken(p, &d);
	else
		edittoken(p, &d);
	json_free(&d);
}
