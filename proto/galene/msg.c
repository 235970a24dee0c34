/*
 * Galène client messages: type and members of one JSON object (msg.h).
 */
#include "msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	enum gm_type type;
} types[] = {
	{"handshake", GM_HANDSHAKE}, {"ping", GM_PING}, {"pong", GM_PONG}, {"join", GM_JOIN}, {"chat", GM_CHAT},
	{"usermessage", GM_USERMESSAGE}, {"useraction", GM_USERACTION}, {"groupaction", GM_GROUPACTION},
	{"request", GM_REQUEST}, {"requestStream", GM_REQUESTSTREAM}, {"offer", GM_OFFER}, {"answer", GM_ANSWER},
	{"ice", GM_ICE}, {"renegotiate", GM_RENEGOTIATE}, {"close", GM_CLOSE}, {"abort", GM_ABORT},
};

bool gm_eq(const struct gm_str *s, const char *lit)
{
	size_t n = strlen(lit);
	return s->p && s->n == n && memcmp(s->p, lit, n) == 0;
}

/* String members, by name, and where each goes. */
struct str_member {
	const char *key;
	size_t off;
};
#define SM(k, f) {k, offsetof(struct gmsg, f)}
static const struct str_member str_members[] = {
	SM("type", type_name), SM("kind", kind), SM("id", id), SM("source", source), SM("dest", dest),
	SM("username", username), SM("password", password), SM("token", token), SM("group", group),
	SM("label", label), SM("replace", replace), SM("sdp", sdp),
};

static int take_string(struct gmsg *m, int tok, struct gm_str *out, size_t *used)
{
	if (json_type(&m->doc, tok) != JSON_STRING)
		return GM_BAD_FIELD;
	size_t cap = (size_t)(m->doc.tok[tok].end - m->doc.tok[tok].start), n;
	char *dst = m->arena + *used;
	if (json_str(&m->doc, tok, dst, cap, &n) < 0)
		return GM_BAD_FIELD;
	dst[n] = 0;
	*used += n + 1;
	out->p = dst;
	out->n = n;
	return GM_OK;
}

static int check_version(struct gmsg *m, int tok)
{
	if (json_type(&m->doc, tok) != JSON_ARRAY || json_size(&m->doc, tok) > GM_MAX_VERSIONS)
		return GM_BAD_FIELD;
	int n = json_size(&m->doc, tok), t = tok + 1;
	for (int i = 0; i < n; i++, t = json_skip(&m->doc, t)) {
		if (json_type(&m->doc, t) != JSON_STRING)
			return GM_BAD_FIELD;
		if (json_str_eq(&m->doc, t, "2"))
			m->has_v2 = true;
	}
	m->version = tok;
	return GM_OK;
}

/* The members we read, by name. */
enum key { K_OTHER = -1, K_NOECHO = 100, K_PRIVILEGED, K_VERSION, K_VALUE, K_DATA, K_CANDIDATE, K_REQUEST };
static const struct {
	const char *name;
	size_t len;
	int key; /* an index of str_members (same order), or enum key */
} keys[] = {
#define K(s, k) {s, sizeof s - 1, k}
	K("type", 0), K("kind", 1), K("id", 2), K("source", 3), K("dest", 4), K("username", 5), K("password", 6),
	K("token", 7), K("group", 8), K("label", 9), K("replace", 10), K("sdp", 11), K("noecho", K_NOECHO),
	K("privileged", K_PRIVILEGED), K("version", K_VERSION), K("value", K_VALUE), K("data", K_DATA),
	K("candidate", K_CANDIDATE), K("request", K_REQUEST),
#undef K
};

/* Which member key token k is. A key without an escape is its own text,
 * compared by length then bytes (every message's members pass here); one
 * with an escape is unescaped for the comparison. */
static int which_key(const struct gmsg *m, int k)
{
	const char *p = m->doc.js + m->doc.tok[k].start;
	size_t n = (size_t)(m->doc.tok[k].end - m->doc.tok[k].start);
	bool plain = !memchr(p, '\\', n);
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if (plain ? keys[i].len == n && memcmp(p, keys[i].name, n) == 0 : json_str_eq(&m->doc, k, keys[i].name))
			return keys[i].key;
	}
	return K_OTHER;
}

/* One member: key token k, value token v. */
static int member(struct gmsg *m, int k, int v, size_t *used, const char **why)
{
	if (json_type(&m->doc, v) == JSON_NULL)
		return GM_OK;
	int key = which_key(m, k);
	if (key >= 0 && key < (int)(sizeof str_members / sizeof str_members[0])) {
		*why = str_members[key].key;
		return take_string(m, v, (struct gm_str *)((char *)m + str_members[key].off), used);
	}
	enum json_type t = json_type(&m->doc, v);
	switch (key) {
	case K_NOECHO:
	case K_PRIVILEGED:
		*why = "noecho/privileged";
		if (t != JSON_TRUE && t != JSON_FALSE)
			return GM_BAD_FIELD;
		if (key == K_NOECHO)
			m->noecho = t == JSON_TRUE;
		return GM_OK;
	case K_VERSION:
		*why = "version";
		return check_version(m, v);
	case K_VALUE:
		m->value = v;
		return GM_OK;
	case K_DATA:
	case K_CANDIDATE:
		*why = "data/candidate";
		if (t != JSON_OBJECT)
			return GM_BAD_FIELD;
		*(key == K_DATA ? &m->data : &m->candidate) = v;
		return GM_OK;
	case K_REQUEST:
		m->request = v;
		return GM_OK;
	default:
		return GM_OK; /* other members (time, permissions, status, ...) are ignored */
	}
}

static int decode_members(struct gmsg *m, const char **why)
{
	size_t used = 0;
	int n = json_size(&m->doc, 0), t = 1;
	for (int i = 0; i < n; i++) {
		int v = t + 1;
		int rc = member(m, t, v, &used, why);
		if (rc != GM_OK)
			return rc;
		t = json_skip(&m->doc, v);
	}
	return GM_OK;
}

int gm_decode(struct gmsg *m, const char *text, size_t len, const char **why)
{
	memset(m, 0, offsetof(struct gmsg, small_arena)); /* the arena is written before it is read */
	m->value = m->data = m->request = m->candidate = m->version = -1;
	*why = "malformed JSON";
	if (len > GM_MAX_MESSAGE) {
		*why = "message too large";
		return GM_TOO_BIG;
	}
	int rc = json_parse(&m->doc, text, len, GM_MAX_TOKENS);
	if (rc == JSON_TOO_BIG)
		*why = "message too complex";
	if (rc != JSON_OK)
		return rc == JSON_NOMEM ? GM_NOMEM : rc == JSON_TOO_BIG ? GM_TOO_BIG : GM_MALFORMED;
	if (json_type(&m->doc, 0) != JSON_OBJECT) {
		*why = "not a JSON object";
		return GM_NOT_OBJECT;
	}
	/* unescaped strings are never longer than their text: one arena does */
	if (len + 1 <= sizeof m->small_arena)
		m->arena = m->small_arena;
	else if (!(m->arena = malloc(len + 1)))
		return GM_NOMEM;
	if ((rc = decode_members(m, why)) != GM_OK) {
		static char buf[64];
		snprintf(buf, sizeof buf, "bad %s", *why);
		*why = buf;
		return rc;
	}
	if (!m->type_name.p) {
		*why = "no type";
		return GM_NO_TYPE;
	}
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (gm_eq(&m->type_name, types[i].name))
			m->type = types[i].type;
	*why = NULL;
	return GM_OK;
}

void gm_free(struct gmsg *m)
{
	json_free(&m->doc);
	if (m->arena != m->small_arena)
		free(m->arena);
	m->arena = NULL;
}
