/*
 * Galène, router half: what a member does once joined (sheet §§8-13):
 * chat and usermessage (broadcast, private, history), useraction,
 * groupaction, and the media messages a server without a media plane
 * answers (offers refused with abort, stray answers closed). Stream state
 * would live here (media): there is none yet.
 */
#include <stdio.h>
#include <string.h>

#include "../../common/json.h"
#include "../../common/log.h"
#include "router.h"

static void raw_member(struct buf *b, const char *key, const struct gmsg *m, int tok)
{
	if (tok < 0)
		return;
	const char *v;
	size_t n;
	gm_raw(m, tok, &v, &n);
	buf_printf(b, ",\"%s\":", key);
	buf_append(b, v, n);
}

/* Built by appends, no printf: this is the path every chat takes. */
static void put_kv(struct buf *b, const char *key_json, const char *s, size_t n)
{
	buf_append_str(b, key_json);
	json_put_string(b, s, n);
}

/* A relayed chat or usermessage, stamped with who sent it and when. */
static void relayed(struct buf *b, const char *type, const struct galene_peer *p, const struct gchat *c,
		    const char *id, size_t idlen, const struct galene_peer *dest, bool history)
{
	buf_reset(b);
	buf_append_str(b, "{\"type\":\"");
	buf_append_str(b, type);
	buf_append_str(b, "\"");
	if (gm_set(&c->kind))
		put_kv(b, ",\"kind\":", c->kind.p, c->kind.n);
	if (idlen)
		put_kv(b, ",\"id\":", id, idlen);
	put_kv(b, ",\"source\":", p->id, p->id_len);
	if (dest)
		put_kv(b, ",\"dest\":", dest->id, dest->id_len);
	put_kv(b, ",\"username\":", p->username, p->username_len);
	if (!history && peer_has(p, GF_P_OP))
		buf_append_str(b, ",\"privileged\":true");
	if (c->value) {
		buf_append_str(b, ",\"value\":");
		buf_append(b, c->value, c->value_len);
	}
	if (!history && c->noecho)
		buf_append_str(b, ",\"noecho\":true");
	out_time_now(b);
	buf_append_str(b, "}");
}

void gchat_from_gmsg(const struct gmsg *m, struct gchat *c)
{
	*c = (struct gchat){.is_chat = m->type == GM_CHAT, .kind = m->kind, .id = m->id, .dest = m->dest,
			    .source = m->source, .username = m->username, .noecho = m->noecho};
	if (m->value >= 0)
		gm_raw(m, m->value, &c->value, &c->value_len);
}

void galene_chat(struct galene_peer *p, const struct gchat *c)
{
	bool is_chat = c->is_chat;
	const char *type = is_chat ? "chat" : "usermessage";
	enum gf_perm need = is_chat && gm_eq(&c->kind, "caption") ? GF_P_CAPTION : GF_P_MESSAGE;
	if (!peer_has(p, need))
		return galene_error(p, "not authorised");
	if (gm_set(&c->dest)) {
		struct galene_peer *to = galene_peer_by_id(p->group, c->dest.p, c->dest.n);
		if (!to)
			return galene_error(p, "user unknown");
		relayed(&galene_out, type, p, c, c->id.p, c->id.n, to, false);
		galene_stats.chat += is_chat;
		galene_stats.chat_private += is_chat;
		galene_stats.usermessages += !is_chat;
		galene_stats.deliveries++;
		return galene_send(to, &galene_out);
	}
	char rid[12];
	const char *id = c->id.p;
	size_t idlen = c->id.n;
	if (is_chat && !gm_set(&c->id)) {
		out_random_id(rid);
		id = rid;
		idlen = 11;
	}
	relayed(&galene_out, type, p, c, id, idlen, NULL, false);
	galene_fan_out(p->group, &galene_out, c->noecho ? p : NULL);
	galene_stats.chat += is_chat;
	galene_stats.usermessages += !is_chat;
	galene_stats.deliveries += (uint64_t)(p->group->count - (c->noecho ? 1 : 0));
	if (is_chat) {
		relayed(&galene_out, "chathistory", p, c, id, idlen, NULL, true);
		history_add(p->group->name, p->group->name_len, p->id, p->id_len, id, idlen, galene_now_ms(),
			    (const char *)buf_head(&galene_out), buf_used(&galene_out));
	}
}

/* ---- useraction ---- */

static void set_perms(struct galene_peer *t, const char *kind)
{
	bool rec = t->group->desc->allow_recording;
	if (strcmp(kind, "op") == 0) {
		peer_add_perm(t, GF_P_OP);
		if (rec)
			peer_add_perm(t, GF_P_RECORD);
	} else if (strcmp(kind, "unop") == 0) {
		peer_del_perm(t, GF_P_OP);
		peer_del_perm(t, GF_P_RECORD);
	} else if (strcmp(kind, "present") == 0) {
		peer_add_perm(t, GF_P_PRESENT);
	} else if (strcmp(kind, "unpresent") == 0) {
		peer_del_perm(t, GF_P_PRESENT);
	} else if (strcmp(kind, "shutup") == 0) {
		peer_del_perm(t, GF_P_MESSAGE);
	} else {
		peer_add_perm(t, GF_P_MESSAGE);
	}
	galene_joined_change(t);
	galene_user_change(t);
	if (strcmp(kind, "unop") == 0)
		galene_check_ops(t->group);
}

/* Kicks t out: usermessage kicked (from by, or from the server when by is
 * NULL), then the close 1000 with the reason Galène gives. */
void galene_kick(struct galene_peer *t, const struct galene_peer *by, const char *msg)
{
	struct buf *b = &galene_out;
	buf_reset(b);
	buf_append_str(b, "{\"type\":\"usermessage\",\"kind\":\"kicked\"");
	if (by)
		out_kv(b, "id", by->id, by->id_len);
	out_kv(b, "dest", t->id, t->id_len);
	if (by)
		out_kv(b, "username", by->username, by->username_len);
	buf_append_str(b, ",\"privileged\":true");
	const char *shown = msg && *msg ? msg : "you have been kicked out";
	out_kv(b, "value", shown, strlen(shown));
	buf_append_str(b, "}");
	galene_send(t, b);
	char reason[700];
	if (by && msg && *msg)
		snprintf(reason, sizeof reason, "kicked out (%s) by %.*s", msg, (int)by->username_len, by->username);
	else if (by)
		snprintf(reason, sizeof reason, "kicked out by %.*s", (int)by->username_len, by->username);
	else
		snprintf(reason, sizeof reason, "kicked out (%s)", shown);
	galene_stats.kicks++;
	galene_leave(t);
	router_close_client(galene_R, t->w, 1000, reason);
	t->doomed = true;
}

static void kick(struct galene_peer *p, struct galene_peer *t, const struct gmsg *m)
{
	char msg[512];
	size_t n = 0;
	if (m->value >= 0 && json_type(&m->doc, m->value) == JSON_STRING &&
	    json_str(&m->doc, m->value, msg, sizeof msg - 1, &n) < 0)
		n = 0;
	msg[n] = 0;
	galene_kick(t, p, msg);
}

static void identify(struct galene_peer *p, struct galene_peer *t)
{
	struct buf *b = &galene_out;
	buf_reset(b);
	buf_append_str(b, "{\"type\":\"usermessage\",\"kind\":\"userinfo\",\"privileged\":true,\"value\":{");
	if (t->addr[0]) {
		buf_append_str(b, "\"address\":");
		json_put_string(b, t->addr, strlen(t->addr));
		buf_append_str(b, ",");
	}
	buf_append_str(b, "\"id\":");
	json_put_string(b, t->id, t->id_len);
	out_kv(b, "username", t->username, t->username_len);
	buf_append_str(b, "}}");
	galene_send(p, b);
	if (!t->addr[0])
		return;
	char warn[600];
	snprintf(warn, sizeof warn, "Your IP address has been communicated to user %.*s.", (int)p->username_len,
		 p->username);
	out_error(b, t->id, t->id_len, "warning", warn);
	galene_send(t, b);
}

/* setdata and setstatus: a member merges an object into its own data or
 * status (a null deletes a key); the group, the member too, gets user
 * kind change. setdata may leave dest out; setstatus must name oneself
 * (as Galène's setstatus did). */
static void set_own(struct galene_peer *p, const struct gmsg *m, bool status)
{
	bool self = gm_set(&m->dest) && m->dest.n == p->id_len && memcmp(m->dest.p, p->id, p->id_len) == 0;
	if ((gm_set(&m->dest) || status) && !self)
		return galene_error(p, "not authorised");
	const char *bad = status ? "Bad value in setstatus" : "Bad value in setdata";
	const char *v;
	size_t n;
	if (m->value < 0)
		return galene_error(p, bad);
	gm_raw(m, m->value, &v, &n);
	if (json_merge(status ? &p->status : &p->data, v, n) < 0)
		return galene_error(p, bad);
	galene_user_change(p);
}

static void useraction(struct galene_peer *p, const struct gmsg *m)
{
	static const char *const kinds[] = {"op", "unop", "present", "unpresent", "shutup", "unshutup", NULL};
	if (gm_eq(&m->kind, "setdata") || gm_eq(&m->kind, "setstatus"))
		return set_own(p, m, gm_eq(&m->kind, "setstatus"));
	bool perm = false;
	for (const char *const *k = kinds; *k; k++)
		perm |= gm_eq(&m->kind, *k);
	if (!perm && !gm_eq(&m->kind, "kick") && !gm_eq(&m->kind, "identify"))
		return galene_fatal(p, 1000, "unknown user action");
	if (!peer_has(p, GF_P_OP))
		return galene_error(p, "not authorised");
	struct galene_peer *t = gm_has(&m->dest) ? galene_peer_by_id(p->group, m->dest.p, m->dest.n) : NULL;
	if (!t)
		return galene_error(p, "no such user");
	if (perm)
		set_perms(t, m->kind.p);
	else if (gm_eq(&m->kind, "kick"))
		kick(p, t, m);
	else
		identify(p, t);
}

/* ---- groupaction ---- */

static void clearchat(struct galene_peer *p, const struct gmsg *m)
{
	struct ggroup *g = p->group;
	char user[GALENE_MAX_ID + 1], id[256];
	size_t ul = 0, il = 0;
	bool has_user = false, has_id = false;
	if (m->value >= 0 && json_type(&m->doc, m->value) == JSON_OBJECT) {
		int u = json_get(&m->doc, m->value, "userId"), i = json_get(&m->doc, m->value, "id");
		has_user = u >= 0 && json_str(&m->doc, u, user, sizeof user, &ul) == 0;
		has_id = i >= 0 && json_str(&m->doc, i, id, sizeof id, &il) == 0;
		if ((i >= 0 && !has_id) || (u >= 0 && !has_user) || (has_id && !has_user))
			return galene_error(p, "bad value in clearchat");
	} else if (m->value >= 0) {
		return galene_error(p, "bad value in clearchat");
	}
	history_clear(g->name, g->name_len, has_user ? user : NULL, ul, has_id ? id : NULL, il);
	struct buf *b = &galene_out;
	buf_reset(b);
	buf_append_str(b, "{\"type\":\"usermessage\",\"kind\":\"clearchat\",\"privileged\":true");
	raw_member(b, "value", m, m->value);
	buf_append_str(b, "}");
	galene_fan_out(g, b, NULL);
}

struct subs {
	const struct ggroup *parent;
	struct buf text;
};

static void one_subgroup(void *arg, const void *key, size_t klen, void *value)
{
	(void)key, (void)klen;
	struct subs *s = arg;
	const struct ggroup *g = value;
	size_t n = s->parent->name_len;
	if (g->count > 0 && g->name_len > n + 1 && memcmp(g->name, s->parent->name, n) == 0 && g->name[n] == '/')
		buf_printf(&s->text, "%s (%d clients)\n", g->name, g->count);
}

static void subgroups(struct galene_peer *p)
{
	struct subs s = {p->group, {0}};
	galene_each_group(one_subgroup, &s);
	struct buf *b = &galene_out;
	buf_reset(b);
	buf_append_str(b, "{\"type\":\"chat\"");
	out_kv(b, "dest", p->id, p->id_len);
	buf_append_str(b, ",\"username\":\"Server\"");
	out_kv(b, "value", buf_used(&s.text) ? (const char *)buf_head(&s.text) : "", buf_used(&s.text));
	out_time_now(b);
	buf_append_str(b, "}");
	galene_send(p, b);
	buf_free(&s.text);
}

static void lock(struct galene_peer *p, const struct gmsg *m, bool on)
{
	struct ggroup *g = p->group;
	free(g->lock_message);
	g->lock_message = NULL;
	g->locked = on;
	char msg[1024];
	size_t n;
	if (on && m->value >= 0 && json_str(&m->doc, m->value, msg, sizeof msg - 1, &n) == 0 && n) {
		msg[n] = 0;
		g->lock_message = strdup(msg);
	}
	persist_group_save(g);
	galene_group_changed(g);
}

static void group_setdata(struct galene_peer *p, const struct gmsg *m)
{
	const char *v;
	size_t n;
	if (m->value < 0)
		return galene_error(p, "Bad value in setdata");
	gm_raw(m, m->value, &v, &n);
	if (json_merge(&p->group->data, v, n) < 0)
		return galene_error(p, "Bad value in setdata");
	persist_group_save(p->group);
	galene_group_changed(p->group);
}

static void groupaction(struct galene_peer *p, const struct gmsg *m)
{
	static const char *const op_kinds[] = {"clearchat", "lock", "unlock", "subgroups", "setdata", NULL};
	if (gm_eq(&m->kind, "maketoken") || gm_eq(&m->kind, "edittoken") || gm_eq(&m->kind, "listtokens"))
		return tokens_action(p, m);
	if (gm_eq(&m->kind, "record") || gm_eq(&m->kind, "unrecord"))
		return galene_error(p, peer_has(p, GF_P_RECORD) ? "this server cannot record" : "not authorised");
	bool known = false;
	for (const char *const *k = op_kinds; *k; k++)
		known |= gm_eq(&m->kind, *k);
	if (!known)
		return galene_fatal(p, 1000, "unknown group action");
	if (!peer_has(p, GF_P_OP))
		return galene_error(p, "not authorised");
	if (gm_eq(&m->kind, "clearchat"))
		clearchat(p, m);
	else if (gm_eq(&m->kind, "lock") || gm_eq(&m->kind, "unlock"))
		lock(p, m, gm_eq(&m->kind, "lock"));
	else if (gm_eq(&m->kind, "subgroups"))
		subgroups(p);
	else
		group_setdata(p, m);
}

/* ---- media, without a media plane (sheet §12) ---- */

static void stream_reply(struct galene_peer *p, const char *type, const struct gm_str *id)
{
	struct buf *b = &galene_out;
	buf_reset(b);
	buf_printf(b, "{\"type\":\"%s\"", type);
	out_kv(b, "id", id->p, id->n);
	buf_append_str(b, "}");
	galene_send(p, b);
}

/* Galène closes with 1011 and no JSON on a malformed request. */
static void internal_close(struct galene_peer *p)
{
	galene_leave(p);
	router_close_client(galene_R, p->w, 1011, "");
	p->doomed = true;
}

static bool request_valid(const struct gmsg *m)
{
	if (m->request < 0)
		return true;
	const struct json_doc *d = &m->doc;
	if (json_type(d, m->request) != JSON_OBJECT)
		return false;
	int t = m->request + 1;
	for (int i = 0; i < json_size(d, m->request); i++, t = json_skip(d, t + 1)) {
		int v = t + 1;
		if (json_type(d, v) != JSON_ARRAY)
			return false;
		int x = v + 1;
		for (int j = 0; j < json_size(d, v); j++, x = json_skip(d, x))
			if (json_type(d, x) != JSON_STRING)
				return false;
	}
	return true;
}

static void media(struct galene_peer *p, const struct gmsg *m)
{
	if (m->type == GM_REQUEST)
		return request_valid(m) ? (void)0 : internal_close(p);
	if (!gm_set(&m->id))
		return galene_fatal(p, 1002, "empty id");
	switch (m->type) {
	case GM_OFFER:
		stream_reply(p, "abort", &m->id);
		return galene_error(p, peer_has(p, GF_P_PRESENT) && galene_allow_present()
					       ? "this server does not relay media"
					       : "not authorised");
	case GM_ANSWER:
	case GM_ABORT:
		return stream_reply(p, "close", &m->id); /* no such down-stream */
	case GM_ICE:
		if (m->candidate < 0)
			return galene_fatal(p, 1002, "null candidate");
		return; /* for a stream we do not have */
	case GM_REQUESTSTREAM:
		return internal_close(p); /* no such stream */
	default:
		return; /* close, renegotiate: for a stream we do not have */
	}
}

void galene_dispatch(struct galene_peer *p, const struct gmsg *m)
{
	switch (m->type) {
	case GM_CHAT:
	case GM_USERMESSAGE:
	case GM_USERACTION:
	case GM_GROUPACTION: {
		if (!p->group)
			return galene_error(p, "join a group first");
		if (m->type == GM_USERACTION)
			return useraction(p, m);
		if (m->type == GM_GROUPACTION)
			return groupaction(p, m);
		struct gchat c;
		gchat_from_gmsg(m, &c);
		return galene_chat(p, &c);
	}
	case GM_REQUEST:
	case GM_REQUESTSTREAM:
	case GM_OFFER:
	case GM_ANSWER:
	case GM_ICE:
	case GM_RENEGOTIATE:
	case GM_CLOSE:
	case GM_ABORT:
		if (!p->group)
			return galene_error(p, "join a group first");
		return media(p, m);
	default:
		return galene_fatal(p, 1002, "unexpected message");
	}
}
