/*
 * SaltyRTC packets as the server sees them: nonce, cookie/CSN checks and
 * the decoder of server-bound messages (packet.h).
 */
#include "packet.h"

#include <msgpack.h>
#include <string.h>

#include "../../common/envelope.h"
#include "../../common/mp.h"
#include "salty.h"

int salty_nonce_read(struct salty_nonce *n, const uint8_t *p, size_t len)
{
	if (len <= SALTY_NONCE)
		return -1;
	memcpy(n->cookie, p, SALTY_COOKIE);
	n->src = p[16];
	n->dst = p[17];
	n->csn = 0;
	for (int i = 18; i < 24; i++)
		n->csn = n->csn << 8 | p[i];
	return 0;
}

void salty_nonce_write(uint8_t out[SALTY_NONCE], const uint8_t cookie[SALTY_COOKIE], uint8_t src, uint8_t dst,
		       uint64_t csn)
{
	memcpy(out, cookie, SALTY_COOKIE);
	out[16] = src;
	out[17] = dst;
	for (int i = 23; i >= 18; i--, csn >>= 8)
		out[i] = (uint8_t)csn;
}

int salty_incoming_check(struct salty_incoming *in, const uint8_t own_cookie[SALTY_COOKIE],
			 const struct salty_nonce *n)
{
	if (!in->started) {
		/* our own cookie echoed back would let a client replay our messages to us */
		if (memcmp(n->cookie, own_cookie, SALTY_COOKIE) == 0 || n->csn >> 32 != 0)
			return -1;
		memcpy(in->cookie, n->cookie, SALTY_COOKIE);
		in->csn = n->csn;
		in->started = true;
		return 0;
	}
	/* n->csn has 48 bits, so after 2^48 - 1 no value is the next */
	if (memcmp(n->cookie, in->cookie, SALTY_COOKIE) != 0 || n->csn != in->csn + 1)
		return -1;
	in->csn = n->csn;
	return 0;
}

/* A field that is absent or nil counts as absent (the reference's rule). */
static const msgpack_object *field(const msgpack_object *map, const char *key)
{
	const msgpack_object *o = mp_get(map, key);
	return o && o->type != MSGPACK_OBJECT_NIL ? o : NULL;
}

static bool bin_of(const msgpack_object *o, void *out, size_t n)
{
	if (!o || o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != n)
		return false;
	memcpy(out, o->via.bin.ptr, n);
	return true;
}

static int decode_auth(struct salty_msg *m, const msgpack_object *map)
{
	if (!bin_of(mp_get(map, "your_cookie"), m->your_cookie, SALTY_COOKIE))
		return -1;
	const msgpack_object *sp = mp_get(map, "subprotocols");
	if (!sp || sp->type != MSGPACK_OBJECT_ARRAY)
		return -1;
	for (uint32_t i = 0; i < sp->via.array.size; i++) {
		const msgpack_object *e = &sp->via.array.ptr[i];
		if (e->type != MSGPACK_OBJECT_STR)
			return -1;
		if (mp_str_eq(e, SALTY_SUBPROTOCOL))
			m->offers_v1 = true;
	}
	const msgpack_object *pi = field(map, "ping_interval");
	if (pi) {
		if (pi->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return -1; /* negative, float or not a number */
		m->ping_interval = pi->via.u64 > 86400 * 365 ? 86400 * 365 : (long long)pi->via.u64;
	}
	const msgpack_object *yk = field(map, "your_key");
	if (yk) {
		if (!bin_of(yk, m->your_key, SALTY_KEY))
			return -1;
		m->has_your_key = true;
	}
	return 0;
}

static int decode_drop(struct salty_msg *m, const msgpack_object *map)
{
	const msgpack_object *id = mp_get(map, "id");
	if (!id || id->type != MSGPACK_OBJECT_POSITIVE_INTEGER || id->via.u64 < SALTY_FIRST_RESPONDER ||
	    id->via.u64 > SALTY_LAST_RESPONDER)
		return -1;
	m->id = (int)id->via.u64;
	const msgpack_object *r = field(map, "reason");
	if (!r)
		return 0;
	if (r->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return -1;
	uint64_t v = r->via.u64;
	if (v != SALTY_CLOSE_PROTOCOL && v != SALTY_CLOSE_INTERNAL && v != SALTY_CLOSE_DROPPED &&
	    v != SALTY_CLOSE_NO_DECRYPT)
		return -1;
	m->reason = (int)v;
	return 0;
}

static int decode_map(struct salty_msg *m, const msgpack_object *map)
{
	if (map->type != MSGPACK_OBJECT_MAP)
		return -1;
	const msgpack_object *t = mp_get(map, "type");
	if (!t || t->type != MSGPACK_OBJECT_STR)
		return -1;
	if (mp_str_eq(t, "client-hello")) {
		m->type = SALTY_CLIENT_HELLO;
		return bin_of(mp_get(map, "key"), m->key, SALTY_KEY) ? 0 : -1;
	}
	if (mp_str_eq(t, "client-auth")) {
		m->type = SALTY_CLIENT_AUTH;
		return decode_auth(m, map);
	}
	if (mp_str_eq(t, "drop-responder")) {
		m->type = SALTY_DROP_RESPONDER;
		return decode_drop(m, map);
	}
	return -1;
}

int salty_msg_decode(struct salty_msg *m, const uint8_t *p, size_t n)
{
	memset(m, 0, sizeof *m);
	if (n == 0 || n > SALTY_MAX_SERVER_MESSAGE || !env_plausible(p, n))
		return -1;
	/* A zone of our own with a small first chunk: msgpack_unpack_next's
	 * takes 8 KiB, which an idle worker would keep resident after its
	 * handshake; these messages are small (the zone grows if need be). */
	msgpack_zone z;
	if (!msgpack_zone_init(&z, 1024))
		return -1;
	msgpack_object obj;
	size_t off = 0;
	int rc = -1;
	if (msgpack_unpack((const char *)p, n, &off, &z, &obj) == MSGPACK_UNPACK_SUCCESS && off == n)
		rc = decode_map(m, &obj);
	msgpack_zone_destroy(&z);
	if (rc < 0)
		m->type = 0;
	return rc;
}
