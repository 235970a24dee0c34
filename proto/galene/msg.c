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

/* One member: key token k, value token v. */
static int member(struct gmsg *m, int k, int v, size_t *used, const char **why)
{
	if (json_type(&m->doc, v) == JSON_NULL)
		return GM_OK;
	for (size_t i = 0; i < sizeof str_members / sizeof str_members[0]; i++)
		if (json_str_eq(&m->doc, k, str_members[i].key)) {
			*why = str_members[i].key;
			return take_string(m, v, (struct gm_str *)((char *)m + str_members[i].off), used);
		}
	enum json_type t = json_type(&m->doc, v);
	if (json_str_eq(&m->doc, k, "noecho") || json_str_eq(&m->doc, k, "privileged")) {
		*why = "noecho/privileged";
		if (t != JSON_TRUE && t != JSON_FALSE)
			return GM_BAD_FIELD;
		if (json_str_eq(&m->doc, k, "noecho"))
			m->noecho = t == JSON_TRUE;
	} else if (json_str_eq(&m->doc, k, "version")) {
		*why = "version";
		return check_version(m, v);
	} else if (json_str_eq(&m->doc, k, "value")) {
		m->value = v;
	} else if (json_str_eq(&m->doc, k, "data") || json_str_eq(&m->doc, k, "candidate")) {
		*why = "data/candidate";
		if (t != JSON_OBJECT)
			return GM_BAD_FIELD;
		if (json_str_eq(&m->doc, k, "data"))
			m->data = v;
		else
			m->candidate = v;
	} else if (json_str_eq(&m->doc, k, "request")) {
		m->request = v;
	}
	return GM_OK; /* other members (time, permissions, status, ...) are ignored */
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
	memset(m, 0, sizeof *m);
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
	if (!(m->arena = malloc(len + 1)))
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
	free(m->arena);
	m->arena = NULL;
}
