/*
 * Galène, worker half: the /ws endpoint. Answers what needs no shared
 * state (the handshake and its 15 s deadline, JSON ping, the keep-alive)
 * and hands every other message to the router: chat and usermessage (the
 * hot path) as the fields we decoded, the rest as the client sent it. The
 * router checks either again, since it trusts no worker, and answers.
 */
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../../common/clock.h"
#include "../../common/json.h"
#include "../../common/log.h"
#include "../proto.h"
#include "galene.h"
#include "http.h"
#include "msg.h"

struct galene_state {
	bool handshaken;
	char id[GALENE_MAX_ID];
	size_t id_len;
	int64_t last_rx; /* last message from the client */
	bool ping_sent;
	char addr[64];   /* the client's address, for identify ("" unknown) */
	unsigned char *ticket; /* re-join ticket from the router, or NULL */
	size_t ticket_len;
	bool trim;       /* a burst came (a join's user adds): give the heap back at the next tick */
};

static bool galene_match(const struct http_request *req)
{
	return req->path_len == sizeof GALENE_PATH - 1 && memcmp(req->path, GALENE_PATH, req->path_len) == 0;
}

/* Before the sandbox: the client's address (fd 0 is its socket), which an
 * op may ask for with identify. Not a socket (inetd pipes): unknown. */
static int galene_accept(struct session *s, const struct http_request *req, const char **why)
{
	(void)req, (void)why;
	struct galene_state *st = session_state(s);
	struct sockaddr_storage ss;
	socklen_t n = sizeof ss;
	char ip[INET6_ADDRSTRLEN];
	if (getpeername(0, (struct sockaddr *)&ss, &n) < 0)
		return 0;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		if (inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip))
			snprintf(st->addr, sizeof st->addr, "%s:%u", ip, ntohs(a->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		if (inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip))
			snprintf(st->addr, sizeof st->addr, "[%s]:%u", ip, ntohs(a->sin6_port));
	}
	return 0;
}

static void galene_open(struct session *s)
{
	struct galene_state *st = session_state(s);
	st->last_rx = clock_ms();
	session_set_timer(s, GALENE_HANDSHAKE_MS);
}

static void send_hello(struct session *s)
{
	struct galene_state *st = session_state(s);
	msgpack_packer *pk = session_bus(s);
	env_begin(pk, GALENE_PROTO, GALENE_OP_HELLO, st->ticket ? 3 : 2);
	mp_kv_str(pk, "id", st->id, st->id_len);
	mp_kv_cstr(pk, "addr", st->addr);
	if (st->ticket)
		mp_kv_bin(pk, "t", st->ticket, st->ticket_len);
}

/* Sent at every bus (re)connection: after a router restart, the ticket
 * lets the router put the member back in its group. */
static void galene_register(struct session *s)
{
	struct galene_state *st = session_state(s);
	if (st->handshaken)
		send_hello(s);
}

static void handshake(struct session *s, const struct gmsg *m)
{
	struct galene_state *st = session_state(s);
	static const char reply[] = "{\"type\":\"handshake\",\"version\":[\"2\"]}";
	if (m->id.p && m->id.n > GALENE_MAX_ID)
		return session_close(s, 1002, "client id too long");
	if (m->id.p) {
		memcpy(st->id, m->id.p, m->id.n);
		st->id_len = m->id.n;
	}
	st->handshaken = true;
	session_send_text(s, reply, sizeof reply - 1);
	if (!m->has_v2) {
		static const char text[] = "This client is using an unknown protocol version.\nPerhaps it needs "
					   "upgrading?\nTrying to continue, things may break.";
		struct buf b = {0};
		buf_append_str(&b, "{\"type\":\"usermessage\",\"kind\":\"warning\",\"dest\":");
		json_put_string(&b, st->id, st->id_len);
		buf_append_str(&b, ",\"privileged\":true,\"value\":");
		json_put_string(&b, text, sizeof text - 1);
		buf_append_str(&b, "}");
		session_send_text(s, buf_head(&b), buf_used(&b));
		buf_free(&b);
	}
	send_hello(s);
	session_set_timer(s, GALENE_TICK_MS);
}

static void kv_gstr(msgpack_packer *pk, const char *key, const struct gm_str *v)
{
	if (gm_has(v))
		mp_kv_str(pk, key, v->p, v->n);
}

/* A chat or usermessage as its decoded fields (GALENE_OP_CHAT): the router
 * need not parse the whole JSON text again. */
static void send_chat(struct session *s, const struct gmsg *m)
{
	const struct gm_str *strs[] = {&m->kind, &m->id, &m->dest, &m->source, &m->username};
	static const char *const keys[] = {"kind", "id", "dest", "source", "username"};
	uint32_t n = 1 + (m->value >= 0) + m->noecho;
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
		n += gm_has(strs[i]);
	msgpack_packer *pk = session_bus(s);
	env_begin(pk, GALENE_PROTO, GALENE_OP_CHAT, n);
	mp_kv_bool(pk, "u", m->type == GM_USERMESSAGE);
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
		kv_gstr(pk, keys[i], strs[i]);
	if (m->value >= 0) {
		const char *v;
		size_t vn;
		gm_raw(m, m->value, &v, &vn);
		mp_kv_bin(pk, "value", v, vn);
	}
	if (m->noecho)
		mp_kv_bool(pk, "noecho", true);
}

static void galene_message(struct session *s, uint8_t opcode, uint8_t *data, size_t len)
{
	struct galene_state *st = session_state(s);
	st->last_rx = clock_ms();
	st->ping_sent = false;
	struct gmsg m;
	const char *why;
	int rc = opcode == WS_TEXT ? gm_decode(&m, (const char *)data, len, &why) : (why = "binary frame", -1);
	if (rc != GM_OK) {
		if (opcode == WS_TEXT)
			gm_free(&m);
		log_info("galene: %s from the client; closing", why);
		return session_close(s, 1002, why);
	}
	if (!st->handshaken) {
		if (m.type != GM_HANDSHAKE)
			session_close(s, 1002, "you must handshake first");
		else
			handshake(s, &m);
	} else if (m.type == GM_HANDSHAKE) {
		/* again: answered again; the client id stays the first one */
		static const char reply[] = "{\"type\":\"handshake\",\"version\":[\"2\"]}";
		session_send_text(s, reply, sizeof reply - 1);
	} else if (m.type == GM_PING) {
		static const char pong[] = "{\"type\":\"pong\"}";
		session_send_text(s, pong, sizeof pong - 1);
	} else if (m.type == GM_CHAT || m.type == GM_USERMESSAGE) {
		send_chat(s, &m);
	} else if (m.type != GM_PONG) {
		msgpack_packer *pk = session_bus(s);
		env_begin(pk, GALENE_PROTO, GALENE_OP_MSG, 1);
		mp_kv_bin(pk, "d", data, len);
	}
	gm_free(&m);
}

/* The handshake deadline first, then the keep-alive tick (sheet §2). */
static void galene_timer(struct session *s)
{
	struct galene_state *st = session_state(s);
	if (!st->handshaken) {
		log_info("galene: no handshake within %d ms; closing", GALENE_HANDSHAKE_MS);
		return session_close(s, 1002, "handshake timeout");
	}
	if (st->trim) {
		/* the buffers a join's burst grew are freed, but glibc keeps a heap
		 * under its trim threshold resident: an idle member would carry it */
		st->trim = false;
		malloc_trim(0);
	}
	int64_t idle = clock_ms() - st->last_rx;
	if (idle > GALENE_DEAD_AFTER_MS) {
		log_info("galene: client silent for %lld ms; dropping it", (long long)idle);
		return session_close(s, 1000, "client is dead");
	}
	if (idle > GALENE_PING_AFTER_MS && !st->ping_sent) {
		static const char ping[] = "{\"type\":\"ping\"}";
		session_send_text(s, ping, sizeof ping - 1);
		st->ping_sent = true;
	}
	session_set_timer(s, GALENE_TICK_MS);
}

static void galene_bus(struct session *s, const struct envelope *e)
{
	struct galene_state *st = session_state(s);
	if (!env_op_is(e, GALENE_OP_TICKET)) {
		log_warn("galene: unknown envelope %.*s from the router ignored", (int)e->op_len, e->op);
		return;
	}
	const uint8_t *t;
	size_t n;
	free(st->ticket);
	st->ticket = NULL;
	if (mp_get_bin(e->map, "t", &t, &n) && n <= GALENE_MAX_TICKET && (st->ticket = malloc(n ? n : 1))) {
		memcpy(st->ticket, t, n);
		st->ticket_len = n;
	}
	if (st->ticket && !st->trim) { /* a ticket ends a join: the burst before it is over */
		st->trim = true;
		session_set_timer(s, GALENE_TRIM_MS);
	}
}

static void galene_close(struct session *s)
{
	struct galene_state *st = session_state(s);
	free(st->ticket);
	st->ticket = NULL;
}

const struct proto_worker galene_worker = {
	.name = GALENE_PROTO,
	.setup = galene_http_setup, /* HTTP: http.c */
	.http = galene_http,
	.match = galene_match,
	.accept = galene_accept,
	.uses_bus = true,
	.state_size = sizeof(struct galene_state),
	.open = galene_open,
	.on_message = galene_message,
	.on_bus = galene_bus,
	.on_timer = galene_timer,
	.on_register = galene_register,
	.close = galene_close,
};
