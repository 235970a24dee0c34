/*
 * Strict decoding of Galène group files (see groupfile.h): a table of the
 * top-level fields, one decoder per kind of value, then the conversion of
 * the legacy fields. Looking users up and expanding permissions:
 * groupfile_perms.c.
 */
#include "groupfile.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/log.h"
#include "jsonval.h"
#include "timefmt.h"

struct ulist {
	struct gf_user *v;
	size_t n, cap;
};

struct ctx {
	const char *file;
	const struct json_doc *d;
	char *err;
	size_t cap;
	struct gf_group *g;
	struct ulist users, wild;
	int legacy[3]; /* tokens of "op", "presenter", "other", or -1 */
};

static int perr(struct ctx *c, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(struct ctx *c, const char *path, const char *fmt, ...)
{
	char why[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	snprintf(c->err, c->cap, "%s: %s%s%s", c->file, path, *path ? ": " : "", why);
	return -1;
}

static int push_user(struct ulist *l, struct gf_user *u)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		struct gf_user *v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *u;
	return 0;
}

static void free_user(struct gf_user *u)
{
	free(u->name);
	pw_free(&u->password);
}

/* ---- values ---- */

static int get_string(struct ctx *c, int tok, const char *path, char **out)
{
	size_t n;
	char *s;
	if (jv_strdup(c->d, tok, GF_MAX_STRING, &s, &n) != 0)
		return perr(c, path, "must be a string of at most %d bytes", GF_MAX_STRING);
	if (memchr(s, 0, n)) {
		free(s);
		return perr(c, path, "must not contain NUL");
	}
	free(*out);
	*out = s;
	return 0;
}

static int get_time(struct ctx *c, int tok, const char *path, bool *has, int64_t *ns)
{
	const char *p;
	size_t n;
	if (json_type(c->d, tok) != JSON_STRING)
		return perr(c, path, "must be an RFC 3339 time string");
	json_raw(c->d, tok, &p, &n);
	if (n < 2 || rfc3339_parse(p + 1, n - 2, ns) != 0)
		return perr(c, path, "must be an RFC 3339 time such as 2026-01-31T18:00:00Z");
	*has = true;
	return 0;
}

static const struct {
	const char *name;
	enum gf_set set;
} named_sets[] = {
	{"op", GF_SET_OP}, {"present", GF_SET_PRESENT}, {"message", GF_SET_MESSAGE},
	{"observe", GF_SET_OBSERVE}, {"caption", GF_SET_CAPTION}, {"admin", GF_SET_ADMIN},
};

static int perm_index(const struct json_doc *d, int tok)
{
	for (int i = 0; i < GF_NPERM; i++)
		if (json_str_eq(d, tok, gf_perm_names[i]))
			return i;
	return -1;
}

static int get_perms(struct ctx *c, int tok, const char *path, struct gf_perms *out)
{
	*out = (struct gf_perms){.set = GF_SET_NONE};
	if (json_type(c->d, tok) == JSON_STRING) {
		for (size_t i = 0; i < sizeof named_sets / sizeof named_sets[0]; i++)
			if (json_str_eq(c->d, tok, named_sets[i].name)) {
				out->set = named_sets[i].set;
				return 0;
			}
		return perr(c, path, "unknown permission set (op, present, message, observe, caption, admin)");
	}
	if (json_type(c->d, tok) != JSON_ARRAY)
		return perr(c, path, "must be a permission set name or an array of permissions");
	out->set = GF_SET_LIST;
	int j = tok + 1;
	for (int k = 0; k < json_size(c->d, tok); k++, j = json_skip(c->d, j)) {
		int p = json_type(c->d, j) == JSON_STRING ? perm_index(c->d, j) : -1;
		if (p < 0)
			return perr(c, path, "element %d: unknown permission", k);
		bool seen = false;
		for (int q = 0; q < out->nlist; q++)
			seen |= out->list[q] == p;
		if (!seen)
			out->list[out->nlist++] = (uint8_t)p;
	}
	return 0;
}

static int get_password(struct ctx *c, int tok, const char *path, struct pw_spec *out)
{
	char why[200];
	if (pw_parse(out, c->d, tok, why, sizeof why) == 0)
		return 0;
	return perr(c, path, "%s", why);
}

/* Members of object obj, each checked against the allowed names; fills
 * val[i] with the value token of names[i] (-1 when absent or null). */
static int members(struct ctx *c, int obj, const char *path, const char *const *names, int n, int *val)
{
	if (json_type(c->d, obj) != JSON_OBJECT)
		return perr(c, path, "must be an object");
	if (jv_has_duplicate_keys(c->d, obj))
		return perr(c, path, "duplicate field");
	for (int i = 0; i < n; i++)
		val[i] = -1;
	int j = obj + 1;
	for (int k = 0; k < json_size(c->d, obj); k++, j = json_skip(c->d, j + 1)) {
		int hit = -1;
		for (int i = 0; i < n && hit < 0; i++)
			if (json_str_eq(c->d, j, names[i]))
				hit = i;
		if (hit < 0) {
			char key[64];
			if (jv_key(c->d, j, key, sizeof key) != 0)
				snprintf(key, sizeof key, "(a long or odd name)");
			return perr(c, path, "unknown field \"%s\"", key);
		}
		if (!jv_is_null(c->d, j + 1))
			val[hit] = j + 1;
	}
	return 0;
}

/* {password, permissions}; name is taken over by the user on success. */
static int get_user(struct ctx *c, int tok, const char *path, char *name, struct gf_user *u)
{
	static const char *const names[] = {"password", "permissions"};
	int v[2];
	char sub[600];
	*u = (struct gf_user){0};
	if (members(c, tok, path, names, 2, v) != 0)
		return -1;
	snprintf(sub, sizeof sub, "%s.password", path);
	if (v[0] >= 0 && get_password(c, v[0], sub, &u->password) != 0)
		return -1;
	snprintf(sub, sizeof sub, "%s.permissions", path);
	if (v[1] >= 0 && get_perms(c, v[1], sub, &u->perms) != 0) {
		pw_free(&u->password);
		return -1;
	}
	u->name = name;
	return 0;
}

static int get_users(struct ctx *c, int tok, const char *path)
{
	if (json_type(c->d, tok) != JSON_OBJECT)
		return perr(c, path, "must be an object of users");
	if (jv_has_duplicate_keys(c->d, tok))
		return perr(c, path, "duplicate user");
	int j = tok + 1;
	for (int k = 0; k < json_size(c->d, tok); k++, j = json_skip(c->d, j + 1)) {
		char *name = NULL, sub[600];
		size_t n;
		if (jv_strdup(c->d, j, GF_MAX_STRING, &name, &n) != 0 || memchr(name, 0, n)) {
			if (name)
				free(name);
			return perr(c, path, "user %d: a name of at most %d bytes without NUL", k, GF_MAX_STRING);
		}
		snprintf(sub, sizeof sub, "%s.%.200s", path, name);
		struct gf_user u;
		if (get_user(c, j + 1, sub, name, &u) != 0) {
			free(name);
			return -1;
		}
		if (push_user(&c->users, &u) != 0) {
			free_user(&u);
			return perr(c, path, "out of memory");
		}
	}
	return 0;
}

static int get_fallback(struct ctx *c, int tok, const char *path)
{
	if (json_type(c->d, tok) != JSON_ARRAY)
		return perr(c, path, "must be an array of users");
	int j = tok + 1;
	for (int k = 0; k < json_size(c->d, tok); k++, j = json_skip(c->d, j)) {
		char sub[300];
		snprintf(sub, sizeof sub, "%s[%d]", path, k);
		struct gf_user u;
		if (get_user(c, j, sub, NULL, &u) != 0)
			return -1;
		if (push_user(&c->wild, &u) != 0) {
			free_user(&u);
			return perr(c, path, "out of memory");
		}
	}
	return 0;
}

static int get_keys(struct ctx *c, int tok, const char *path)
{
	if (json_type(c->d, tok) != JSON_ARRAY)
		return perr(c, path, "must be an array of JWKs");
	size_t n = (size_t)json_size(c->d, tok);
	c->g->keys = calloc(n ? n : 1, sizeof *c->g->keys);
	if (!c->g->keys)
		return perr(c, path, "out of memory");
	int j = tok + 1;
	for (size_t k = 0; k < n; k++, j = json_skip(c->d, j)) {
		char why[200];
		if (jwk_parse(&c->g->keys[k], c->d, j, why, sizeof why) != 0) {
			char sub[64];
			snprintf(sub, sizeof sub, "%s[%zu]", path, k);
			return perr(c, sub, "%s", why);
		}
		c->g->nkeys++;
	}
	return 0;
}

static int get_codecs(struct ctx *c, int tok, const char *path)
{
	static const char *const names[] = {"vp8", "vp9", "av1", "h264", "opus", "g722", "pcmu", "pcma"};
	if (json_type(c->d, tok) != JSON_ARRAY)
		return perr(c, path, "must be an array of codec names");
	int j = tok + 1;
	for (int k = 0; k < json_size(c->d, tok); k++, j = json_skip(c->d, j)) {
		if (json_type(c->d, j) != JSON_STRING)
			return perr(c, path, "element %d: must be a string", k);
		int hit = -1;
		for (int i = 0; i < 8 && hit < 0; i++)
			if (json_str_eq(c->d, j, names[i]))
				hit = i;
		if (hit < 0)
			log_warn("%s: %s: unknown codec %d ignored (as Galène does)", c->file, path, k);
		else
			c->g->codecs |= 1u << hit;
	}
	return 0;
}

/* Legacy {username?, password?} entries with the permission set of their
 * list; a missing password is the wildcard one. */
static int convert_legacy(struct ctx *c, int tok, const char *path, enum gf_set set)
{
	static const char *const names[] = {"username", "password"};
	if (json_type(c->d, tok) != JSON_ARRAY)
		return perr(c, path, "must be an array of {username, password}");
	int j = tok + 1;
	for (int k = 0; k < json_size(c->d, tok); k++, j = json_skip(c->d, j)) {
		char sub[64];
		int v[2];
		snprintf(sub, sizeof sub, "%s[%d]", path, k);
		if (members(c, j, sub, names, 2, v) != 0)
			return -1;
		struct gf_user u = {.perms = {.set = set}};
		if (v[0] >= 0 && get_string(c, v[0], sub, &u.name) != 0)
			return -1;
		if (u.name && !*u.name) {
			free(u.name); /* "" is the same as no username */
			u.name = NULL;
		}
		if (v[1] >= 0 && get_password(c, v[1], sub, &u.password) != 0) {
			free(u.name);
			return -1;
		}
		if (v[1] < 0)
			u.password.type = PW_WILDCARD;
		bool dup = false;
		for (size_t i = 0; u.name && i < c->users.n && !dup; i++)
			dup = strcmp(c->users.v[i].name, u.name) == 0;
		if (dup)
			log_warn("%s: %s: duplicate user %.100s ignored", c->file, sub, u.name);
		if (dup || push_user(u.name ? &c->users : &c->wild, &u) != 0) {
			free_user(&u);
			if (!dup)
				return perr(c, path, "out of memory");
		}
	}
	return 0;
}

/* ---- the top level ---- */

enum kind { K_STR, K_BOOL, K_INT, K_TIME, K_USERS, K_WILDCARD, K_FALLBACK, K_KEYS, K_CODECS, K_LEGACY, K_ANON };

#define OFF(f) offsetof(struct gf_group, f)
static const struct field {
	const char *name;
	enum kind kind;
	size_t off, off2; /* K_TIME: off2 is the has_ flag; K_LEGACY: off is the list index */
} fields[] = {
	{"displayName", K_STR, OFF(display_name), 0},
	{"description", K_STR, OFF(description), 0},
	{"contact", K_STR, OFF(contact), 0},
	{"comment", K_STR, OFF(comment), 0},
	{"redirect", K_STR, OFF(redirect), 0},
	{"authServer", K_STR, OFF(auth_server), 0},
	{"authPortal", K_STR, OFF(auth_portal), 0},
	{"public", K_BOOL, OFF(is_public), 0},
	{"allow-recording", K_BOOL, OFF(allow_recording), 0},
	{"unrestricted-tokens", K_BOOL, OFF(unrestricted_tokens), 0},
	{"auto-subgroups", K_BOOL, OFF(auto_subgroups), 0},
	{"allow-subgroups", K_BOOL, OFF(auto_subgroups), 1}, /* legacy alias: true only sets */
	{"autolock", K_BOOL, OFF(autolock), 0},
	{"autokick", K_BOOL, OFF(autokick), 0},
	{"max-clients", K_INT, OFF(max_clients), 0},
	{"max-history-age", K_INT, OFF(max_history_age), 0},
	{"not-before", K_TIME, OFF(not_before_ns), OFF(has_not_before)},
	{"expires", K_TIME, OFF(expires_ns), OFF(has_expires)},
	{"users", K_USERS, 0, 0},
	{"wildcard-user", K_WILDCARD, 0, 0},
	{"fallback-users", K_FALLBACK, 0, 0},
	{"authKeys", K_KEYS, 0, 0},
	{"codecs", K_CODECS, 0, 0},
	{"op", K_LEGACY, 0, 0},
	{"presenter", K_LEGACY, 1, 0},
	{"other", K_LEGACY, 2, 0},
	{"allow-anonymous", K_ANON, 0, 0},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

static int get_field(struct ctx *c, const struct field *f, int tok)
{
	char *base = (char *)c->g;
	bool b;
	int64_t v;
	switch (f->kind) {
	case K_STR:
		return get_string(c, tok, f->name, (char **)(base + f->off));
	case K_BOOL:
	case K_ANON:
		if (jv_bool(c->d, tok, &b) != 0)
			return perr(c, f->name, "must be true or false");
		if (f->kind == K_ANON)
			log_warn("%s: allow-anonymous is obsolete, ignored", c->file);
		else if (!f->off2 || b)
			*(bool *)(base + f->off) = b;
		return 0;
	case K_INT:
		if (jv_int(c->d, tok, 0, INT32_MAX, &v) != 0)
			return perr(c, f->name, "must be an integer from 0 to %d", INT32_MAX);
		*(int64_t *)(base + f->off) = v;
		return 0;
	case K_TIME:
		return get_time(c, tok, f->name, (bool *)(base + f->off2), (int64_t *)(base + f->off));
	case K_USERS:
		return get_users(c, tok, f->name);
	case K_WILDCARD: {
		struct gf_user u;
		if (get_user(c, tok, f->name, NULL, &u) != 0)
			return -1;
		/* wildcard-user is tried before any other candidate */
		if (push_user(&c->wild, &u) != 0) {
			free_user(&u);
			return perr(c, f->name, "out of memory");
		}
		memmove(c->wild.v + 1, c->wild.v, (c->wild.n - 1) * sizeof u);
		c->wild.v[0] = u;
		return 0;
	}
	case K_FALLBACK:
		return get_fallback(c, tok, f->name);
	case K_KEYS:
		return get_keys(c, tok, f->name);
	case K_CODECS:
		return get_codecs(c, tok, f->name);
	case K_LEGACY:
		c->legacy[f->off] = tok; /* converted once "users" is known */
		return 0;
	}
	return -1;
}

static int top_level(struct ctx *c)
{
	const struct json_doc *d = c->d;
	if (json_type(d, 0) != JSON_OBJECT)
		return perr(c, "", "a group file must hold one JSON object");
	if (jv_has_duplicate_keys(d, 0))
		return perr(c, "", "duplicate field");
	int j = 1;
	for (int k = 0; k < json_size(d, 0); k++, j = json_skip(d, j + 1)) {
		const struct field *f = NULL;
		for (size_t i = 0; i < NFIELDS && !f; i++)
			if (json_str_eq(d, j, fields[i].name))
				f = &fields[i];
		if (!f) {
			char key[64];
			if (jv_key(d, j, key, sizeof key) != 0)
				snprintf(key, sizeof key, "(a long or odd name)");
			return perr(c, key, "unknown field");
		}
		if (!jv_is_null(d, j + 1) && get_field(c, f, j + 1) != 0)
			return -1;
	}
	static const char *const lnames[] = {"op", "presenter", "other"};
	static const enum gf_set lsets[] = {GF_SET_OP, GF_SET_PRESENT, GF_SET_MESSAGE};
	for (int i = 0; i < 3; i++)
		if (c->legacy[i] >= 0 && convert_legacy(c, c->legacy[i], lnames[i], lsets[i]) != 0)
			return -1;
	return 0;
}

static int cmp_user(const void *a, const void *b)
{
	return strcmp(((const struct gf_user *)a)->name, ((const struct gf_user *)b)->name);
}

static void free_group(struct gf_group *g)
{
	free(g->display_name);
	free(g->description);
	free(g->contact);
	free(g->comment);
	free(g->redirect);
	free(g->auth_server);
	free(g->auth_portal);
	for (size_t i = 0; i < g->nusers; i++)
		free_user(&g->users[i]);
	free(g->users);
	for (size_t i = 0; i < g->nwildcards; i++)
		free_user(&g->wildcards[i]);
	free(g->wildcards);
	for (size_t i = 0; i < g->nkeys; i++)
		jwk_free(&g->keys[i]);
	free(g->keys);
	free(g);
}

struct gf_group *gf_parse(const char *file, const char *text, size_t len, char *err, size_t errcap)
{
	struct json_doc d;
	struct ctx c = {.file = file, .d = &d, .err = err, .cap = errcap, .legacy = {-1, -1, -1}};
	if (len > GF_MAX_FILE) {
		perr(&c, "", "larger than %u bytes", GF_MAX_FILE);
		return NULL;
	}
	int rc = json_parse(&d, text, len, GF_MAX_TOKENS);
	if (rc != JSON_OK) {
		perr(&c, "", rc == JSON_TOO_BIG ? "too many JSON values" : "not valid JSON");
		return NULL;
	}
	c.g = calloc(1, sizeof *c.g);
	if (!c.g) {
		perr(&c, "", "out of memory");
		json_free(&d);
		return NULL;
	}
	c.g->refs = 1;
	rc = top_level(&c);
	json_free(&d);
	c.g->users = c.users.v;
	c.g->nusers = c.users.n;
	c.g->wildcards = c.wild.v;
	c.g->nwildcards = c.wild.n;
	if (rc != 0) {
		free_group(c.g);
		return NULL;
	}
	if (c.g->nusers)
		qsort(c.g->users, c.g->nusers, sizeof *c.g->users, cmp_user);
	for (size_t i = 0; i < c.g->nusers + c.g->nwildcards; i++) {
		const struct gf_user *u = i < c.g->nusers ? &c.g->users[i] : &c.g->wildcards[i - c.g->nusers];
		if (u->password.type == PW_NONE)
			log_warn("%s: user %.100s has no usable password (no type): nobody can log in as it",
				 file, u->name ? u->name : "(wildcard)");
	}
	return c.g;
}

struct gf_group *gf_ref(struct gf_group *g)
{
	g->refs++;
	return g;
}

void gf_unref(struct gf_group *g)
{
	if (g && --g->refs == 0)
		free_group(g);
}
