/*
 * Galène group description files (groups/<name>.json), decoded strictly
 * into a struct gf_group (router only). Every field of Galène's format is
 * known here; an unknown field, a duplicate field, a value of the wrong
 * type or out of range, an unknown permission name or password type, or a
 * bad authKey makes the whole file unusable, with an error that names the
 * file and the field ("groups/a.json: users.bob.password.iterations: ...").
 * null counts as absent, as in Go.
 *
 * Legacy fields are converted at load, as Galène does: "op", "presenter",
 * "other" (arrays of {username?, password?}) become users with the
 * permission sets op / present / message (a missing password is the
 * wildcard password; a user already defined is ignored with a warning);
 * entries without a username, "wildcard-user" and the older
 * "fallback-users" array become the wildcard candidates, tried in order
 * (wildcard-user first). "allow-subgroups" is "auto-subgroups";
 * "allow-anonymous" is ignored with a warning.
 *
 * A gf_group is immutable once parsed and reference-counted, so a member's
 * session can keep the description it joined under while the file is
 * reloaded.
 */
#ifndef SB_GALENE_GROUPFILE_H
#define SB_GALENE_GROUPFILE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jwt.h"
#include "password.h"

#define GF_MAX_FILE (1u << 20) /* bytes in one group file */
#define GF_MAX_TOKENS 65536    /* JSON tokens in one group file */
#define GF_MAX_STRING 4096     /* bytes in a name, URL or text field */
#define GF_DEFAULT_HISTORY_AGE 14400 /* seconds, when max-history-age is 0 */

/* Internal permission strings, as sent in joined.permissions. */
enum gf_perm {
	GF_P_OP, GF_P_PRESENT, GF_P_MESSAGE, GF_P_CAPTION, GF_P_TOKEN, GF_P_RECORD, GF_P_ADMIN, GF_P_SYSTEM,
	GF_NPERM
};
extern const char *const gf_perm_names[GF_NPERM];

/* A user's "permissions": a named set, or an explicit array. */
enum gf_set { GF_SET_NONE, GF_SET_LIST, GF_SET_OP, GF_SET_PRESENT, GF_SET_MESSAGE, GF_SET_OBSERVE,
	      GF_SET_CAPTION, GF_SET_ADMIN };
struct gf_perms {
	enum gf_set set;
	uint8_t list[GF_NPERM]; /* GF_SET_LIST: enum gf_perm, in file order, no repeats */
	uint8_t nlist;
};

struct gf_user {
	char *name; /* NULL for a wildcard candidate */
	struct pw_spec password;
	struct gf_perms perms;
};

enum gf_codec { GF_C_VP8 = 1, GF_C_VP9 = 2, GF_C_AV1 = 4, GF_C_H264 = 8, GF_C_OPUS = 16, GF_C_G722 = 32,
		GF_C_PCMU = 64, GF_C_PCMA = 128 };

struct gf_group {
	int refs;
	char *display_name, *description, *contact, *comment, *redirect, *auth_server, *auth_portal;
	bool is_public, allow_recording, unrestricted_tokens, auto_subgroups, autolock, autokick;
	int64_t max_clients;     /* 0: unlimited */
	int64_t max_history_age; /* seconds, 0: GF_DEFAULT_HISTORY_AGE */
	bool has_not_before, has_expires;
	int64_t not_before_ns, expires_ns; /* Unix nanoseconds */
	unsigned codecs;         /* enum gf_codec bits; 0: Galène's default, vp8 + opus */
	struct gf_user *users;   /* sorted by name (bytewise) */
	size_t nusers;
	struct gf_user *wildcards; /* tried in order */
	size_t nwildcards;
	struct jwk *keys;
	size_t nkeys;
};

/* Parses a group file's text. file names it in messages. Returns NULL and
 * fills err on any error. Warnings (ignored legacy fields, duplicate legacy
 * users, unknown codecs) go to the log. */
struct gf_group *gf_parse(const char *file, const char *text, size_t len, char *err, size_t errcap);
struct gf_group *gf_ref(struct gf_group *g);
void gf_unref(struct gf_group *g);

/* The user entry for username (len bytes), or NULL (then the wildcard
 * candidates apply; a listed user never falls through to them). */
const struct gf_user *gf_find_user(const struct gf_group *g, const char *username, size_t len);

/* The entries whose password may admit username: the user itself when it
 * is listed (a wrong password then does not fall through to a wildcard),
 * else the wildcard candidates in order (the first that matches decides
 * the permissions). Returns the array and sets *n (0: nobody can log in
 * under that name). */
const struct gf_user *gf_candidates(const struct gf_group *g, const char *username, size_t len, size_t *n);

/* Expands perms for group g into the internal strings Galène sends, in
 * Galène's order ("record" first for ops with allow-recording, "token"
 * first for presenters with unrestricted-tokens). out has room for
 * GF_NPERM + 2; returns the count. */
size_t gf_expand(const struct gf_group *g, const struct gf_perms *perms, enum gf_perm *out);
/* The same as a bit set (1u << enum gf_perm). */
unsigned gf_perm_bits(const struct gf_group *g, const struct gf_perms *perms);

static inline int64_t gf_history_age(const struct gf_group *g)
{
	return g->max_history_age ? g->max_history_age : GF_DEFAULT_HISTORY_AGE;
}

#endif
