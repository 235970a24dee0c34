/*
 * The router's view of its workers: registration (hello), envelope checks,
 * per-worker queues, credit and batching, departures.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/bus.h"
#include "../common/clock.h"
#include "../common/envelope.h"
#include "../common/log.h"
#include "router.h"

int workers_init(struct router *r)
{
	mp_out_init(&r->scratch);
	if (hmap_init(&r->conns) < 0)
		return -1;
	return hmap_init(&r->workers);
}

static void mark_dirty(struct router *r, struct rworker *w) { dirty_mark(&r->dirty, &w->dirty); }

msgpack_packer *router_packer(struct router *r)
{
	mp_out_reset(&r->scratch);
	return &r->scratch.pk;
}

void router_send_scratch(struct router *r, struct rworker *w)
{
	router_send(r, w, r->scratch.sb.data, r->scratch.sb.size);
}

struct fan_out {
	struct router *r;
	const struct rworker *except;
};

static void fan_out_one(void *arg, const void *key, size_t klen, void *value)
{
	(void)key;
	(void)klen;
	struct fan_out *f = arg;
	if (value != f->except)
		router_send_scratch(f->r, value);
}

void router_fan_out(struct router *r, const struct hmap *set, const struct rworker *except)
{
	struct fan_out f = {r, except};
	hmap_each(set, fan_out_one, &f);
}

void *rworker_state(struct rworker *w) { return w->state; }
int rworker_pid(const struct rworker *w) { return w->pid; }
const char *router_state_dir(const struct router *r) { return r->state_dir; }
size_t router_queued(const struct rworker *w) { return buf_used(&w->queue); }
size_t router_held(struct router *r, const struct rworker *w)
{
	return buf_used(&w->queue) + bus_pending(&r->bus, w->pipe);
}

struct rworker *router_worker_by_conn(struct router *r, uint64_t conn)
{
	return hmap_get_u64(&r->conns, conn);
}

void router_drop_worker(struct router *r, struct rworker *w, const char *why)
{
	log_warn("%s: worker pid %d %s; disconnecting that worker", w->proto ? w->proto->name : "core", w->pid, why);
	r->stats.rejected++;
	bus_close(&r->bus, w->pipe); /* its protocol's on_worker_gone runs when the pipe is reaped */
}

/* Every change to a worker's queue goes through these two (and flush_one), for r->queued. */
static void queue_append(struct router *r, struct rworker *w, const void *p, size_t n)
{
	struct buf *q = &w->queue;
	if (buf_used(q) > 0) {
		bufpool_reserve(&r->bus.pool, q, n); /* a big message's room is lent (router/bufpool.h) */
		buf_append(q, p, n);
	} else if (n > 0) {
		/* room before it for the bus frame's header: the queue can then
		 * become the pipe's output without a copy (bus_send_buf) */
		buf_reset(q);
		bufpool_reserve(&r->bus.pool, q, SP_HEADROOM + n);
		memcpy(q->data + SP_HEADROOM, p, n);
		q->off = SP_HEADROOM;
		q->len = SP_HEADROOM + n;
	}
	r->queued += n;
}

static void queue_clear(struct router *r, struct rworker *w)
{
	r->queued -= buf_used(&w->queue);
	buf_reset(&w->queue);
}

/* A close envelope, packed into o (initialised by the caller). */
static void pack_close(struct mp_out *o, int code, const char *reason)
{
	env_begin(&o->pk, ENV_CORE, OP_CLOSE, 2);
	mp_kv_int(&o->pk, "code", code);
	mp_kv_cstr(&o->pk, "reason", reason);
}

/* Replaces w's queue with "close your client"; nothing more is queued for it. */
static void doom(struct router *r, struct rworker *w, int code, const char *reason)
{
	struct mp_out o;
	mp_out_init(&o);
	pack_close(&o, code, reason);
	queue_clear(r, w);
	queue_append(r, w, o.sb.data, o.sb.size);
	buf_shrink(&w->queue, 4096);
	mp_out_free(&o);
	w->doomed = true;
	mark_dirty(r, w);
	bus_expect_reads(&r->bus, w->pipe); /* one that never reads goes, even if all it was sent fits in its socket */
}

/* Closes w's pipe now (its output freed); the worker goes at the next reap. */
static void drop(struct router *r, struct rworker *w, int code, const char *reason)
{
	struct mp_out o;
	mp_out_init(&o);
	pack_close(&o, code, reason);
	queue_clear(r, w);
	buf_free(&w->queue);
	bus_send_last(&r->bus, w->pipe, o.sb.data, o.sb.size);
	mp_out_free(&o);
	w->doomed = w->dropped = true;
}

/* Bytes the router holds for w: its queue and what its pipe has not written. */
static size_t held_for(const struct router *r, const struct rworker *w)
{
	return buf_used(&w->queue) + bus_pending(&r->bus, w->pipe);
}

struct largest {
	const struct router *r;
	int64_t now;
	struct rworker *w;
	size_t held;
};

/* A worker told to close whose pipe still moves is reading: its bytes go soon. */
#define MEMORY_STALL_MS 1000

static void pick_largest(void *arg, const void *key, size_t klen, void *value)
{
	(void)key;
	(void)klen;
	struct largest *l = arg;
	struct rworker *w = value;
	if (w->dropped || (w->doomed && bus_stalled_ms(&l->r->bus, w->pipe, l->now) < MEMORY_STALL_MS))
		return;
	size_t held = held_for(l->r, w);
	if (held > l->held) {
		l->held = held;
		l->w = w;
	}
}

/*
 * Over --router-memory: the largest queues go first, their clients closed
 * as too slow (the queue is freed at once; what its pipe holds goes out as
 * the worker reads). A worker already told to close whose pipe has not
 * moved for a second is not reading at all, so its pipe is closed and its
 * memory freed. Scans every worker per victim, which is rare; the common
 * path is one comparison.
 */
static void enforce_memory(struct router *r)
{
	int64_t now = clock_ms();
	while (router_memory(r) > r->memory_limit) {
		struct largest l = {r, now, NULL, 0};
		hmap_each(&r->workers, pick_largest, &l);
		if (!l.w)
			return;
		log_warn("router memory over %zu bytes; closing the client of worker pid %d (%zu bytes held)",
			 r->memory_limit, l.w->pid, l.held);
		r->stats.memory_closed++;
		if (l.w->doomed)
			drop(r, l.w, 1008, "too slow");
		else
			doom(r, l.w, 1008, "too slow");
	}
}

void router_send(struct router *r, struct rworker *w, const void *env, size_t len)
{
	if (w->doomed)
		return;
	if (tap_wanted(r))
		tap_raw(r, "out", w, env, len);
	r->stats.envelopes_out++;
	if (len > BUS_MAX_MESSAGE) { /* the limits make this impossible; a bug must not wedge the bus */
		log_warn("envelope of %zu bytes for worker pid %d cannot fit in a bus message; closing its client",
			 len, w->pid);
		r->stats.too_big++;
		return doom(r, w, 1009, "message too big for the bus");
	}
	size_t piped = bus_pending(&r->bus, w->pipe);
	if (piped > r->queue_limit) {
		/* A worker reads its pipe even while its client is slow (it holds
		 * credit back instead), so this one does not read at all. */
		log_warn("worker pid %d conn %016llx does not read the bus (%zu bytes unsent); dropping it",
			 w->pid, (unsigned long long)w->conn, piped);
		r->stats.bus_dropped++;
		return drop(r, w, 1008, "too slow");
	}
	if (buf_used(&w->queue) + piped + len > r->queue_limit) {
		log_warn("worker pid %d conn %016llx is too slow (%zu bytes queued); closing its client",
			 w->pid, (unsigned long long)w->conn, buf_used(&w->queue) + piped);
		r->stats.too_slow++;
		return doom(r, w, 1008, "too slow");
	}
	queue_append(r, w, env, len);
	mark_dirty(r, w);
	if (r->memory_limit && router_memory(r) > r->memory_limit)
		enforce_memory(r);
}

void router_send_text(struct router *r, struct rworker *w, const void *text, size_t len)
{
	msgpack_packer *pk = router_packer(r);
	env_begin(pk, ENV_CORE, OP_TEXT, 1);
	mp_kv_str(pk, "d", text, len);
	router_send_scratch(r, w);
}

void router_close_client(struct router *r, struct rworker *w, int code, const char *reason)
{
	msgpack_packer *pk = router_packer(r);
	env_begin(pk, ENV_CORE, OP_CLOSE, 2);
	mp_kv_int(pk, "code", code);
	mp_kv_cstr(pk, "reason", reason);
	router_send_scratch(r, w);
}

/* Sends w's queue as one bus message if its credit allows (common/buscredit.h). */
static void flush_one(struct router *r, struct rworker *w)
{
	/* The last credit is kept for a close, so a stalled worker can still be told. */
	int reserve = w->doomed ? 0 : 1;
	size_t len = buf_used(&w->queue);
	if (len == 0)
		return;
	enum bus_verdict v = bus_credit_verdict(&w->inflight, w->credit, reserve, len, w->asked);
	if (v == BUS_WAIT)
		return;
	if (v == BUS_ASK) { /* an empty bus message: the worker returns its credit at once */
		bus_send(&r->bus, w->pipe, "", 0);
		bus_inflight_sent(&w->inflight, 0);
		w->credit--;
		w->asked = true;
		r->stats.bus_messages_out++;
		return;
	}
	/* The queue is one bus message: router_send keeps it within the worker's
	 * limit, and that within BUS_MAX_MESSAGE (checked at start).
	 * A pipe that is gone is reaped by the bus, and the worker with it. */
	r->queued -= len; /* the pipe's now: bus_send_buf empties the queue */
	bus_send_buf(&r->bus, w->pipe, &w->queue);
	bus_inflight_sent(&w->inflight, len);
	w->credit--;
	r->stats.bus_messages_out++;
	bufpool_give(&r->bus.pool, &w->queue); /* a burst's queue (a Galène join: a user add per member) is not kept */
}

static bool flush_node(struct dirty_node *n, void *arg)
{
	struct router *r = arg;
	struct rworker *w = (struct rworker *)(void *)((char *)n - offsetof(struct rworker, dirty));
	bool had = buf_used(&w->queue) > 0;
	flush_one(r, w);
	if (had && buf_used(&w->queue) == 0 && !w->doomed && w->proto->on_drained)
		w->proto->on_drained(r, w); /* may queue more: goes out next pass */
	/* still something it may send? */
	return buf_used(&w->queue) > 0 &&
	       bus_credit_verdict(&w->inflight, w->credit, w->doomed ? 0 : 1, buf_used(&w->queue), w->asked) != BUS_WAIT;
}

void workers_flush(struct router *r) { dirty_run(&r->dirty, flush_node, r); }

/* Closes a worker's pipe, telling it first (best effort) to close its client
 * with code: a refused worker must not resend what was refused. */
static void refuse(struct router *r, uint32_t pipe, int code, const char *reason)
{
	struct mp_out o;
	mp_out_init(&o);
	pack_close(&o, code, reason);
	bus_send_last(&r->bus, pipe, o.sb.data, o.sb.size);
	mp_out_free(&o);
	struct rworker *w = hmap_get_u64(&r->workers, pipe);
	if (w) {
		queue_clear(r, w);
		w->doomed = w->dropped = true;
	}
}

static void reject(struct router *r, uint32_t pipe, const char *why)
{
	log_warn("bus pipe %u: %s; disconnecting that worker", pipe, why);
	r->stats.rejected++;
	refuse(r, pipe, 1011, "refused by the router");
}

/* For a refusal the worker may retry (its old pipe not yet reaped, memory). */
static void reject_for_now(struct router *r, uint32_t pipe, const char *why)
{
	log_warn("bus pipe %u: %s; disconnecting that worker", pipe, why);
	r->stats.rejected++;
	bus_close(&r->bus, pipe);
}

void workers_on_refused(void *router, uint32_t pipe)
{
	struct router *r = router;
	r->stats.refused_frames++;
	refuse(r, pipe, 1009, "message too big for the bus");
}

static struct rworker *on_hello(struct router *r, uint32_t pipe, const struct envelope *e)
{
	const msgpack_object *conn = mp_get(e->map, "conn");
	const char *pname;
	size_t plen;
	int64_t pid, credit;
	const struct proto_router *proto;
	if (!conn || conn->type != MSGPACK_OBJECT_POSITIVE_INTEGER || !mp_get_int(e->map, "pid", &pid) ||
	    !mp_get_int(e->map, "credit", &credit) || credit < 1 ||
	    !mp_get_str(e->map, "proto", &pname, &plen) ||
	    !(proto = plen == strlen(ENV_CORE) && memcmp(pname, ENV_CORE, plen) == 0 ? &router_http_only
										 : router_protocol(pname, plen))) {
		reject(r, pipe, "malformed hello");
		return NULL;
	}
	if (hmap_get_u64(&r->conns, conn->via.u64)) {
		reject_for_now(r, pipe, "connection id already registered");
		return NULL;
	}
	struct rworker *w = calloc(1, sizeof *w);
	if (w)
		w->state = calloc(1, proto->state_size ? proto->state_size : 1);
	if (!w || !w->state || hmap_put_u64(&r->workers, pipe, w) < 0) {
		if (w)
			free(w->state);
		free(w);
		reject_for_now(r, pipe, "out of memory");
		return NULL;
	}
	if (hmap_put_u64(&r->conns, conn->via.u64, w) < 0) {
		hmap_del_u64(&r->workers, pipe);
		free(w->state);
		free(w);
		reject_for_now(r, pipe, "out of memory");
		return NULL;
	}
	w->pipe = pipe;
	w->conn = conn->via.u64;
	w->pid = (int)pid;
	w->proto = proto;
	w->window = credit > BUS_CREDIT_MAX ? BUS_CREDIT_MAX : (int)credit;
	w->credit = w->window;
	r->stats.workers++;
	log_debug("worker pid %d registered for %s", w->pid, proto->name);
	return w;
}

/* One envelope from the worker on pipe; false when the worker broke the rules. */
static bool dispatch(struct router *r, uint32_t pipe, struct rworker **wp, const struct envelope *e)
{
	struct rworker *w = *wp;
	r->stats.envelopes_in++;
	if (tap_wanted(r))
		tap_envelope(r, "in", pipe, w, e->map);
	if (env_proto_is(e, ENV_CORE) && env_op_is(e, OP_HELLO)) {
		if (w) {
			reject(r, pipe, "second hello");
			return false;
		}
		*wp = on_hello(r, pipe, e);
		return *wp != NULL;
	}
	if (!w) {
		reject(r, pipe, "envelope before hello");
		return false;
	}
	if (env_proto_is(e, ENV_CORE) && env_op_is(e, OP_CREDIT)) {
		int64_t n;
		if (!mp_get_int(e->map, "n", &n) || n < 1 || n > w->window) {
			reject(r, pipe, "bad credit");
			return false;
		}
		w->credit += (int)n;
		if (w->credit > w->window)
			w->credit = w->window; /* never trust more than the window */
		bus_inflight_credited(&w->inflight, (int)n);
		w->asked = false;
		if (buf_used(&w->queue) > 0)
			mark_dirty(r, w);
		return true;
	}
	if (env_proto_is(e, ENV_CORE) && env_op_is(e, OP_HTTP)) {
		if (!router_http_request(r, w, e)) {
			reject(r, pipe, "malformed http request");
			return false;
		}
		return true;
	}
	if (!env_proto_is(e, w->proto->name)) {
		reject(r, pipe, "envelope for a protocol this worker did not register");
		return false;
	}
	w->proto->on_envelope(r, w, e);
	return true;
}

void workers_on_bus_message(void *router, uint32_t pipe, const uint8_t *p, size_t n)
{
	struct router *r = router;
	struct rworker *w = hmap_get_u64(&r->workers, pipe);
	if (w && w->doomed)
		return;
	size_t off = 0;
	struct envelope e;
	int rc;
	while ((rc = env_next(&e, p, n, &off)) == 1) {
		bool ok = dispatch(r, pipe, &w, &e);
		env_free(&e);
		if (!ok)
			break;
	}
	if (rc < 0)
		reject(r, pipe, "malformed envelope");
}

static void free_worker(struct router *r, struct rworker *w)
{
	queue_clear(r, w);
	buf_free(&w->queue);
	free(w->state);
	free(w);
}

void workers_on_pipe_gone(void *router, uint32_t pipe)
{
	struct router *r = router;
	struct rworker *w = hmap_del_u64(&r->workers, pipe);
	if (!w)
		return;
	hmap_del_u64(&r->conns, w->conn);
	if (w->proto->on_worker_gone)
		w->proto->on_worker_gone(r, w);
	dirty_unlink(&r->dirty, &w->dirty);
	log_debug("worker pid %d gone", w->pid);
	free_worker(r, w);
}

static void free_each(void *arg, const void *key, size_t klen, void *value)
{
	(void)key;
	(void)klen;
	free_worker(arg, value);
}

void workers_fini(struct router *r)
{
	hmap_each(&r->workers, free_each, r);
	hmap_free(&r->workers);
	hmap_free(&r->conns);
	mp_out_free(&r->scratch);
}
