/*
 * Galène, router half: the connections. Envelopes from each worker (hello,
 * with the re-join ticket after a router restart; client messages, decoded
 * again since we trust no worker, held while a join is checked; chats as
 * decoded fields: chatenv.c), the
 * timer (delayed "not authorised" replies, the groups folder's walk, the
 * rejoin grace), start and stop. Groups and members: members.c; joins:
 * join.c; chat and actions: actions.c; the folder: reload.c; what survives
 * a restart: persist.c; HTTP status: status.c; frames: out.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../../common/clock.h"
#include "../../common/log.h"
#include "../../common/utf8.h"
#include "http.h"
#include "options.h"
#include "router.h"

#define FAIL_DELAY_MS 200 /* "not authorised" waits this long, as in Galène */

struct router *galene_R;
struct buf galene_out;
static struct hmap delayed;  /* rworker pointer → peer: a fail reply waiting */
static struct hmap peers;    /* rworker pointer → rworker: every connection, for fini */
static int timer_fd = -1;
static int64_t next_scan;
static unsigned char ticket_key[crypto_auth_KEYBYTES];

/* ---- the delayed replies, the periodic reload, the rejoin grace ---- */

struct due {
	int64_t now;
	struct galene_peer *p[64];
	int n;
};

static void collect_due(void *arg, const void *key, size_t klen, void *value)
{
	(void)key, (void)klen;
	struct due *d = arg;
	struct galene_peer *p = rworker_state(value);
	if (d->n < 64 && d->now >= p->fail_at)
		d->p[d->n++] = p;
}

static void rearm(int64_t now)
{
	int64_t at = next_scan, grace = persist_tick(now);
	if (grace && grace < at)
		at = grace;
	if (delayed.count && now + 20 < at)
		at = now + 20; /* delayed replies are looked at in this step */
	clock_arm_timerfd(timer_fd, at);
}

static void on_timer(struct router *r, void *arg)
{
	(void)r, (void)arg;
	uint64_t ticks;
	if (read(timer_fd, &ticks, sizeof ticks) < 0 && errno != EAGAIN)
		log_warn("galene: timer: %s", strerror(errno));
	struct due d = {.now = clock_ms()};
	hmap_each(&delayed, collect_due, &d);
	for (int i = 0; i < d.n; i++) {
		struct galene_peer *p = d.p[i];
		hmap_del(&delayed, &p->w, sizeof p->w);
		p->fail_at = 0;
		galene_send(p, &p->fail);
		buf_free(&p->fail);
		p->busy = false;
		galene_process_held(p);
	}
	persist_tick(d.now);
	if (d.now >= next_scan) {
		galene_dir_rescan();
		next_scan = d.now + galene_opt.reload_ms;
	}
	rearm(d.now);
}

void galene_fail_later(struct galene_peer *p, const struct buf *frame)
{
	buf_reset(&p->fail);
	buf_append(&p->fail, buf_head(frame), buf_used(frame));
	p->fail_at = clock_ms() + FAIL_DELAY_MS;
	p->busy = true;
	hmap_put(&delayed, &p->w, sizeof p->w, p->w, NULL);
	rearm(clock_ms());
}

/* ---- messages from the worker ---- */

/* What a message's source and username may say (NULL: they are p's). */
const char *galene_spoofed(const struct galene_peer *p, const struct gm_str *source, const struct gm_str *username)
{
	if (gm_has(source) && !(source->n == p->id_len && memcmp(source->p, p->id, p->id_len) == 0))
		return "spoofed client id";
	if (gm_has(username) &&
	    !(username->n == p->username_len && (!p->username_len || memcmp(username->p, p->username, p->username_len) == 0)))
		return "spoofed username";
	return NULL;
}

static void handle_text(struct galene_peer *p, const char *text, size_t len)
{
	struct gmsg m;
	const char *why;
	if (!utf8_valid((const uint8_t *)text, len) || gm_decode(&m, text, len, &why) != GM_OK ||
	    m.type == GM_HANDSHAKE || m.type == GM_PING || m.type == GM_PONG) {
		gm_free(&m);
		return router_drop_worker(galene_R, p->w, "sent a message its worker must have answered or refused");
	}
	if (m.type != GM_JOIN) {
		const char *spoof = galene_spoofed(p, &m.source, &m.username);
		if (spoof)
			galene_fatal(p, 1002, spoof);
		else
			galene_dispatch(p, &m);
	} else {
		galene_join(p, &m);
	}
	gm_free(&m);
}

void galene_process_held(struct galene_peer *p)
{
	while (!p->busy && !p->doomed && buf_used(&p->held)) {
		uint32_t n;
		memcpy(&n, buf_head(&p->held), 4);
		struct buf one = {0};
		buf_append(&one, buf_head(&p->held) + 4, n);
		buf_consume(&p->held, 4 + (size_t)n);
		handle_text(p, (const char *)buf_head(&one), n);
		buf_free(&one);
	}
	if (!buf_used(&p->held))
		buf_free(&p->held);
}

#define MAX_HELD (4u << 20) /* bytes of messages kept while a join is checked */

bool galene_may_send(struct galene_peer *p)
{
	if (p->doomed)
		return false;
	if (!p->hello) {
		router_drop_worker(galene_R, p->w, "sent a message before hello");
		return false;
	}
	return true;
}

bool galene_held(struct galene_peer *p, const void *text, size_t n)
{
	if (!p->busy)
		return false;
	if (buf_used(&p->held) + n > MAX_HELD) {
		galene_fatal(p, 1002, "too many messages while joining");
		return true;
	}
	uint32_t l = (uint32_t)n;
	buf_append(&p->held, &l, 4);
	buf_append(&p->held, text, n);
	return true;
}

static void on_msg(struct galene_peer *p, const struct envelope *e)
{
	const uint8_t *d;
	size_t n;
	if (!mp_get_bin(e->map, "d", &d, &n))
		return router_drop_worker(galene_R, p->w, "sent a message envelope without d");
	if (galene_may_send(p) && !galene_held(p, d, n))
		handle_text(p, (const char *)d, n);
}

static void on_hello(struct galene_peer *p, const struct envelope *e)
{
	const char *id;
	size_t n;
	if (!mp_get_str(e->map, "id", &id, &n) || n > GALENE_MAX_ID)
		return router_drop_worker(galene_R, p->w, "sent a bad hello");
	if (p->hello && (n != p->id_len || memcmp(id, p->id, n) != 0))
		return router_drop_worker(galene_R, p->w, "changed its client id");
	memcpy(p->id, id, n);
	p->id_len = n;
	p->hello = true;
	const char *addr;
	size_t an;
	if (mp_get_str(e->map, "addr", &addr, &an) && an < sizeof p->addr && utf8_valid((const uint8_t *)addr, an)) {
		memcpy(p->addr, addr, an);
		p->addr[an] = 0;
	}
	const uint8_t *t;
	size_t tn;
	if (mp_get_bin(e->map, "t", &t, &tn))
		galene_rejoin(p, t, tn);
}

static void galene_envelope(struct router *r, struct rworker *w, const struct envelope *e)
{
	(void)r;
	struct galene_peer *p = rworker_state(w);
	if (!p->w)
		hmap_put(&peers, &w, sizeof w, w, NULL);
	p->w = w;
	if (env_op_is(e, GALENE_OP_CHAT))
		galene_on_chat(p, e); /* chatenv.c */
	else if (env_op_is(e, GALENE_OP_MSG))
		on_msg(p, e);
	else if (env_op_is(e, GALENE_OP_HELLO))
		on_hello(p, e);
	else
		router_drop_worker(galene_R, w, "sent an unknown envelope");
}

static void peer_free(struct galene_peer *p)
{
	if (p->pending) {
		pool_cancel(p->pending);
		galene_pending_free(p->pending);
		p->pending = NULL;
	}
	free(p->username);
	p->username = NULL;
	buf_free(&p->data);
	buf_free(&p->status);
	buf_free(&p->held);
	buf_free(&p->fail);
}

static void galene_gone(struct router *r, struct rworker *w)
{
	(void)r;
	struct galene_peer *p = rworker_state(w);
	p->w = w;
	p->doomed = true;
	hmap_del(&peers, &w, sizeof w);
	galene_leave(p);
	if (p->fail_at)
		hmap_del(&delayed, &p->w, sizeof p->w);
	peer_free(p);
}

/* ---- start and stop ---- */

/* The key that signs re-join tickets: made once, kept in the state dir. */
static int load_key(const char *state_dir)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/galene.key", state_dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, ticket_key, sizeof ticket_key);
		close(fd);
		if (n == (ssize_t)sizeof ticket_key)
			return 0;
		log_warn("galene: %s is short; making a new key (members will not come back after a restart)", path);
	}
	crypto_auth_keygen(ticket_key);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, ticket_key, sizeof ticket_key) != (ssize_t)sizeof ticket_key) {
		log_error("galene: cannot write %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return close(fd);
}

static int galene_init(struct router *r)
{
	galene_R = r;
	if (galene_groups_init() < 0 || hmap_init(&delayed) < 0 || hmap_init(&peers) < 0 || load_key(router_state_dir(r)) < 0)
		return -1;
	if (galene_dir_init() < 0)
		return -1;
	timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (timer_fd < 0 || router_watch_fd(r, timer_fd, on_timer, NULL) < 0)
		return -1;
	if (galene_opt.reload_ms < 100)
		galene_opt.reload_ms = 100;
	next_scan = clock_ms() + galene_opt.reload_ms;
	clock_arm_timerfd(timer_fd, next_scan);
	if (history_init() < 0 || persist_init(ticket_key) < 0 || pool_init(r) < 0 ||
	    tokens_init(router_state_dir(r)) < 0)
		return -1;
	rearm(clock_ms());
	return 0;
}

static void free_peer(void *arg, const void *key, size_t klen, void *value)
{
	(void)arg, (void)key, (void)klen;
	peer_free(rworker_state(value));
}

static void galene_fini(struct router *r)
{
	(void)r;
	pool_fini();
	hmap_each(&peers, free_peer, NULL);
	hmap_free(&peers);
	tokens_fini();
	persist_fini();
	galene_groups_fini();
	hmap_free(&delayed);
	galene_dir_fini();
	if (timer_fd >= 0)
		close(timer_fd);
	buf_free(&galene_out);
}

const struct proto_router galene_router = {
	.name = GALENE_PROTO,
	.state_size = sizeof(struct galene_peer),
	.init = galene_init,
	.on_envelope = galene_envelope,
	.on_worker_gone = galene_gone,
	.fini = galene_fini,
	.store = &galene_store,
	.metrics = galene_metrics, /* metrics.c */
	.http = galene_http_router, /* HTTP: http_router.c */
};
