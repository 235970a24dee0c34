/*
 * SaltyRTC signalling, router half: paths, slots, relays and the server's
 * permanent keys (README.md in this directory).
 *
 * A path exists while an authenticated client is on it; clients still in
 * their handshake are the workers' business and take no slot. Relayed
 * packets go into the destination worker's queue as core binary
 * envelopes, behind the server messages queued for it before, so one FIFO
 * per destination gives the ordering rules of sheet §7: new-initiator and
 * new-responder before the joiner's server-auth, send-error before
 * disconnected, queued relays before a drop's or a replacement's close.
 * A destination whose queue is over --saltyrtc-relay-queue, or that is not
 * there, gets nothing and the sender a send-error: nothing is dropped
 * silently. The keys are only here: the worker sends what signed_keys
 * covers and gets the box back.
 *
 * The router trusts no worker: an envelope no real worker sends (bad
 * field, an address its client cannot have) disconnects that worker.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/alloc.h"
#include "../../common/core_options.h"
#include "../../common/hmap.h"
#include "../../common/log.h"
#include "../proto.h"
#include "keyfile.h"
#include "options.h"
#include "packet.h"
#include "salty.h"
#include "slots.h"

struct salty_client {
	struct salty_path *path; /* NULL: not (or no longer) on a path */
	int id;                  /* 1 initiator, 2..255 responder */
	/* An auth (or restore) was taken. A worker may send auth twice: from
	 * on_register when the bus comes up while its first copy still waits
	 * in its queue, since it cannot know whether that copy reached a router
	 * that then died. The first one counts; a dropped or replaced client
	 * must not come back through the second. */
	bool authed;
};

static struct hmap paths; /* initiator key → struct salty_path */
static size_t relay_bound;
static uint64_t relayed, send_errors, handshakes;

/* No --saltyrtc-key: the state dir's key, made on first run. */
static int default_key(void)
{
	char path[4096];
	const char *why;
	uint8_t pk[SALTY_KEY];
	snprintf(path, sizeof path, "%s/saltyrtc.key", core_opt.state_dir);
	if (access(path, F_OK) != 0) {
		if (salty_key_generate(path, pk, &why) < 0) {
			log_error("saltyrtc: cannot make a key in %s: %s", path, why);
			return -1;
		}
		log_info("saltyrtc: made a new permanent key in %s", path);
	}
	if (salty_keys_load(&salty_keys, path, &why) < 0) {
		log_error("saltyrtc: %s: %s", path, why);
		return -1;
	}
	return 0;
}

static int salty_init(struct router *r)
{
	(void)r;
	if (sodium_init() < 0 || hmap_init(&paths) < 0)
		return -1;
	if (salty_opt.keyless && salty_keys.n > 0) {
		log_error("saltyrtc: --saltyrtc-keyless and --saltyrtc-key exclude each other");
		return -1;
	}
	if (!salty_opt.keyless && salty_keys.n == 0 && default_key() < 0)
		return -1;
	for (int i = 0; i < salty_keys.n; i++) {
		char hex[2 * SALTY_KEY + 1];
		salty_hex(hex, salty_keys.pk[i]);
		log_info("saltyrtc: server public key %s%s", hex, i == 0 ? " (primary)" : "");
	}
	if (salty_keys.n == 0)
		log_info("saltyrtc: no permanent key (keyless)");
	/* under the worker's queue limit, so that a full destination means
	 * send-error to the sender rather than 1008 for the destination */
	relay_bound = salty_opt.relay_queue;
	if (relay_bound > core_opt.worker_queue / 2)
		relay_bound = core_opt.worker_queue / 2;
	return 0;
}

static void free_path(void *arg, const void *key, size_t klen, void *value)
{
	(void)arg;
	(void)key;
	(void)klen;
	free(value);
}

static void salty_fini(struct router *r)
{
	(void)r;
	hmap_each(&paths, free_path, NULL);
	hmap_free(&paths);
	sodium_memzero(&salty_keys, sizeof salty_keys);
}

static struct salty_path *path_get(const uint8_t key[SALTY_KEY])
{
	struct salty_path *p = hmap_get(&paths, key, SALTY_KEY);
	if (p)
		return p;
	p = xcalloc(1, sizeof *p);
	memcpy(p->key, key, SALTY_KEY);
	hmap_put(&paths, p->key, SALTY_KEY, p, NULL);
	return p;
}

static void path_maybe_free(struct salty_path *p)
{
	if (!salty_path_empty(p))
		return;
	hmap_del(&paths, p->key, SALTY_KEY);
	free(p);
}

/* A server message with an id (nil: none) for the worker to box and send. */
static void tell(struct router *r, struct rworker *w, const char *op, int id)
{
	msgpack_packer *pk = router_packer(r);
	env_begin(pk, SALTY_PROTO, op, id ? 1 : 0);
	if (id)
		mp_kv_int(pk, "id", id);
	router_send_scratch(r, w);
}

static void send_error(struct router *r, struct rworker *w, const uint8_t id[8])
{
	send_errors++;
	msgpack_packer *pk = router_packer(r);
	env_begin(pk, SALTY_PROTO, SALTY_OP_SEND_ERROR, 1);
	mp_kv_bin(pk, "id", id, 8);
	router_send_scratch(r, w);
}

static bool get_bin(const struct envelope *e, const char *key, const uint8_t **p, size_t n)
{
	size_t got;
	return mp_get_bin(e->map, key, p, &got) && got == n;
}

/* The fields of auth, checked. */
struct auth_req {
	int64_t role, csn;
	const uint8_t *path, *key, *spk, *cookie, *yk;
};

static bool read_auth(const struct envelope *e, struct auth_req *a)
{
	size_t n;
	a->yk = NULL;
	if (!mp_get_int(e->map, "role", &a->role) || !mp_get_int(e->map, "csn", &a->csn) || a->csn < 0 ||
	    (uint64_t)a->csn > SALTY_CSN_MAX || !get_bin(e, "path", &a->path, SALTY_KEY) ||
	    !get_bin(e, "key", &a->key, SALTY_KEY) || !get_bin(e, "spk", &a->spk, SALTY_KEY) ||
	    !get_bin(e, "cookie", &a->cookie, SALTY_COOKIE))
		return false;
	if (mp_get(e->map, "yk") && (!mp_get_bin(e->map, "yk", &a->yk, &n) || n != SALTY_KEY))
		return false;
	if (a->role == SALTY_INITIATOR)
		return memcmp(a->key, a->path, SALTY_KEY) == 0;
	return a->role == SALTY_FIRST_RESPONDER;
}

/* The reply to auth: id, signed_keys (kidx >= 0), and who else is there. */
static void send_authed(struct router *r, struct rworker *w, const struct auth_req *a, int id, int kidx)
{
	struct salty_path *p = ((struct salty_client *)rworker_state(w))->path;
	uint8_t sk[SALTY_SIGNED_KEYS], nonce[SALTY_NONCE], both[2 * SALTY_KEY];
	msgpack_packer *pk = router_packer(r);
	env_begin(pk, SALTY_PROTO, SALTY_OP_AUTHED, kidx >= 0 ? 3 : 2);
	mp_kv_int(pk, "id", id);
	if (kidx >= 0) {
		salty_nonce_write(nonce, a->cookie, 0, (uint8_t)id, (uint64_t)a->csn);
		memcpy(both, a->spk, SALTY_KEY);
		memcpy(both + SALTY_KEY, a->key, SALTY_KEY);
		if (crypto_box_easy(sk, both, sizeof both, nonce, a->key, salty_keys.sk[kidx]) != 0)
			memset(sk, 0, sizeof sk); /* a low-order key: the client's own check fails */
		mp_kv_bin(pk, "sk", sk, sizeof sk);
	}
	if (id == SALTY_INITIATOR) {
		mp_cstr(pk, "rs");
		msgpack_pack_array(pk, (uint32_t)p->responders);
		for (int i = SALTY_FIRST_RESPONDER; i <= SALTY_LAST_RESPONDER; i++)
			if (p->responder[i])
				msgpack_pack_int(pk, i);
	} else {
		mp_kv_bool(pk, "ic", p->initiator != NULL);
	}
	router_send_scratch(r, w);
	handshakes++;
}

/* Takes w off its path without telling its peers (dropped or replaced). */
static void detach(struct rworker *w)
{
	struct salty_client *c = rworker_state(w);
	if (!c->path)
		return;
	if (c->id == SALTY_INITIATOR)
		c->path->initiator = NULL;
	else
		salty_slot_release(c->path, c->id);
	c->path = NULL;
	c->id = 0;
}

static void auth_initiator(struct router *r, struct rworker *w, struct salty_path *p)
{
	struct salty_client *c = rworker_state(w);
	if (p->initiator) {
		struct rworker *old = p->initiator;
		detach(old);
		router_close_client(r, old, SALTY_CLOSE_DROPPED, ""); /* after what is queued for it */
	}
	p->initiator = w;
	c->path = p;
	c->id = SALTY_INITIATOR;
	for (int i = SALTY_FIRST_RESPONDER; i <= SALTY_LAST_RESPONDER; i++)
		if (p->responder[i])
			tell(r, p->responder[i], SALTY_OP_NEW_INITIATOR, 0);
}

static void on_auth(struct router *r, struct rworker *w, const struct envelope *e)
{
	struct salty_client *c = rworker_state(w);
	struct auth_req a;
	if (!read_auth(e, &a))
		return router_drop_worker(r, w, "a malformed auth");
	if (c->authed)
		return; /* the same auth again (see struct salty_client) */
	c->authed = true;
	int kidx = salty_keys.n > 0 ? 0 : -1;
	if (a.yk && (kidx = salty_keys_find(&salty_keys, a.yk)) < 0)
		return router_close_client(r, w, SALTY_CLOSE_INVALID_KEY, "");
	struct salty_path *p = path_get(a.path);
	if (a.role == SALTY_INITIATOR) {
		auth_initiator(r, w, p);
		return send_authed(r, w, &a, SALTY_INITIATOR, kidx);
	}
	int id = salty_slot_take(p, w);
	if (id < 0) {
		path_maybe_free(p);
		return router_close_client(r, w, SALTY_CLOSE_PATH_FULL, "");
	}
	c->path = p;
	c->id = id;
	if (p->initiator)
		tell(r, p->initiator, SALTY_OP_NEW_RESPONDER, id);
	send_authed(r, w, &a, id, kidx);
}

/* After a router restart: an authenticated client takes its place back. */
static void on_restore(struct router *r, struct rworker *w, const struct envelope *e)
{
	struct salty_client *c = rworker_state(w);
	const uint8_t *path, *key;
	int64_t role, id;
	if (c->authed || !mp_get_int(e->map, "role", &role) || !mp_get_int(e->map, "id", &id) ||
	    !get_bin(e, "path", &path, SALTY_KEY) || !get_bin(e, "key", &key, SALTY_KEY) ||
	    (role == SALTY_INITIATOR ? id != 1 || memcmp(path, key, SALTY_KEY) != 0
				     : role != SALTY_FIRST_RESPONDER || id < 2 || id > 255))
		return router_drop_worker(r, w, "a malformed restore");
	struct salty_path *p = path_get(path);
	if (id == SALTY_INITIATOR ? p->initiator != NULL : salty_slot_claim(p, (int)id, w) < 0) {
		/* someone new took the place while the router was away */
		path_maybe_free(p);
		return router_close_client(r, w, id == SALTY_INITIATOR ? SALTY_CLOSE_DROPPED : SALTY_CLOSE_INTERNAL,
					   "");
	}
	if (id == SALTY_INITIATOR)
		p->initiator = w;
	c->path = p;
	c->id = (int)id;
	c->authed = true;
}

static void on_relay(struct router *r, struct rworker *w, const struct envelope *e)
{
	struct salty_client *c = rworker_state(w);
	const uint8_t *d;
	size_t n;
	int64_t dst;
	if (!mp_get_int(e->map, "dst", &dst) || !mp_get_bin(e->map, "d", &d, &n) || n <= SALTY_NONCE ||
	    d[17] != dst)
		return router_drop_worker(r, w, "a malformed relay");
	if (!c->path)
		return send_error(r, w, d + 16); /* dropped or replaced: its close is on the way */
	if (d[16] != c->id || (c->id == SALTY_INITIATOR ? dst < SALTY_FIRST_RESPONDER : dst != SALTY_INITIATOR))
		return router_drop_worker(r, w, "a relay between addresses its client cannot use");
	struct rworker *to = dst == SALTY_INITIATOR ? c->path->initiator : c->path->responder[dst];
	if (!to || router_queued(to) + n > relay_bound)
		return send_error(r, w, d + 16);
	msgpack_packer *pk = router_packer(r);
	env_begin(pk, ENV_CORE, "binary", 1);
	mp_kv_bin(pk, "d", d, n);
	router_send_scratch(r, to);
	relayed++;
}

static void on_drop(struct router *r, struct rworker *w, const struct envelope *e)
{
	struct salty_client *c = rworker_state(w);
	int64_t id, reason;
	if (!mp_get_int(e->map, "id", &id) || !mp_get_int(e->map, "reason", &reason) || id < 2 || id > 255 ||
	    (reason != SALTY_CLOSE_PROTOCOL && reason != SALTY_CLOSE_INTERNAL && reason != SALTY_CLOSE_DROPPED &&
	     reason != SALTY_CLOSE_NO_DECRYPT))
		return router_drop_worker(r, w, "a malformed drop");
	if (!c->path || c->id != SALTY_INITIATOR)
		return; /* replaced meanwhile; a responder's worker never sends it */
	struct rworker *victim = c->path->responder[id];
	if (!victim)
		return; /* not there: ignored (sheet §5) */
	detach(victim);
	router_close_client(r, victim, (int)reason, ""); /* after what is queued for it */
}

static void salty_envelope(struct router *r, struct rworker *w, const struct envelope *e)
{
	if (env_op_is(e, SALTY_OP_RELAY))
		on_relay(r, w, e);
	else if (env_op_is(e, SALTY_OP_AUTH))
		on_auth(r, w, e);
	else if (env_op_is(e, SALTY_OP_DROP))
		on_drop(r, w, e);
	else if (env_op_is(e, SALTY_OP_RESTORE))
		on_restore(r, w, e);
	else
		router_drop_worker(r, w, "an unknown saltyrtc operation");
}

/* Its peers learn it is gone, after what is queued for them already. */
static void salty_gone(struct router *r, struct rworker *w)
{
	struct salty_client *c = rworker_state(w);
	struct salty_path *p = c->path;
	if (!p)
		return;
	int id = c->id;
	detach(w);
	if (id == SALTY_INITIATOR) {
		for (int i = SALTY_FIRST_RESPONDER; i <= SALTY_LAST_RESPONDER; i++)
			if (p->responder[i])
				tell(r, p->responder[i], SALTY_OP_DISCONNECTED, SALTY_INITIATOR);
	} else if (p->initiator) {
		tell(r, p->initiator, SALTY_OP_DISCONNECTED, id);
	}
	path_maybe_free(p);
}

static void salty_metrics(FILE *f)
{
	fprintf(f,
		"# HELP switchboard_saltyrtc_handshakes_total Clients that got server-auth.\n"
		"# TYPE switchboard_saltyrtc_handshakes_total counter\nswitchboard_saltyrtc_handshakes_total %llu\n"
		"# HELP switchboard_saltyrtc_relayed_total Packets relayed between clients.\n"
		"# TYPE switchboard_saltyrtc_relayed_total counter\nswitchboard_saltyrtc_relayed_total %llu\n"
		"# HELP switchboard_saltyrtc_send_errors_total Relays answered with send-error.\n"
		"# TYPE switchboard_saltyrtc_send_errors_total counter\nswitchboard_saltyrtc_send_errors_total %llu\n",
		(unsigned long long)handshakes, (unsigned long long)relayed, (unsigned long long)send_errors);
}

const struct proto_router saltyrtc_router = {
	.name = SALTY_PROTO,
	.state_size = sizeof(struct salty_client),
	.init = salty_init,
	.on_envelope = salty_envelope,
	.on_worker_gone = salty_gone,
	.fini = salty_fini,
	.metrics = salty_metrics,
};
