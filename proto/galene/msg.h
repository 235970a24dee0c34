/*
 * Galène client messages: the decoder both halves use (the worker to answer
 * handshake and ping itself, the router for everything else, since it
 * trusts no worker). One text frame holds one JSON object; only "type" is
 * required, unknown members are ignored, and a member of the wrong JSON
 * type makes the message malformed, as Go's decoder does for Galène.
 * null counts as absent.
 */
#ifndef SB_GALENE_MSG_H
#define SB_GALENE_MSG_H
#include <stdbool.h>
#include <stddef.h>

#include "../../common/json.h"

#define GM_MAX_MESSAGE (1u << 20) /* bytes in one client message (Galène master) */
#define GM_MAX_TOKENS 65536       /* JSON tokens in one client message */
#define GM_MAX_VERSIONS 16        /* entries of a handshake's version list */

enum gm_type {
	GM_UNKNOWN, GM_HANDSHAKE, GM_PING, GM_PONG, GM_JOIN, GM_CHAT, GM_USERMESSAGE, GM_USERACTION,
	GM_GROUPACTION, GM_REQUEST, GM_REQUESTSTREAM, GM_OFFER, GM_ANSWER, GM_ICE, GM_RENEGOTIATE, GM_CLOSE,
	GM_ABORT,
};

/* An unescaped string member: p is NUL-terminated (embedded NULs kept, n
 * says how long); p NULL when absent or null. */
struct gm_str {
	const char *p;
	size_t n;
};

struct gmsg {
	enum gm_type type;
	struct gm_str type_name, kind, id, source, dest, username, password, token, group, label, replace, sdp;
	/* Token indices into doc of members kept as JSON, -1 when absent. */
	int value, data, request, candidate, version;
	bool noecho;
	bool has_v2; /* handshake: "2" is in version */
	bool password_present; /* "password" given, as a string */
	struct json_doc doc;
	char *arena; /* the unescaped strings: small_arena for a short message (no allocation) */
	char small_arena[512];
};

enum gm_err { GM_OK = 0, GM_MALFORMED = -1, GM_NOT_OBJECT = -2, GM_BAD_FIELD = -3, GM_NO_TYPE = -4,
	      GM_TOO_BIG = -5, GM_NOMEM = -6 };

/* Decodes one message of len bytes (valid UTF-8 is the caller's check).
 * On error *why says what was wrong, for the log; m needs gm_free either way. */
int gm_decode(struct gmsg *m, const char *text, size_t len, const char **why);
void gm_free(struct gmsg *m);

/* Raw JSON text of a kept member (tok >= 0). */
static inline void gm_raw(const struct gmsg *m, int tok, const char **p, size_t *n) { json_raw(&m->doc, tok, p, n); }
static inline bool gm_has(const struct gm_str *s) { return s->p != NULL; }
/* s is present and not empty. */
static inline bool gm_set(const struct gm_str *s) { return s->p && s->n; }
bool gm_eq(const struct gm_str *s, const char *lit);

#endif
