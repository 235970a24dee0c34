/*
 * The router's SP listeners, written by hand on the router's own epoll loop.
 *
 * DESIGN.md planned a libnng polyamorous pair1 listener here. Debian
 * bookworm's libnng 1.5.2 has a bug (nng issue #1518, fixed in 1.6) that
 * makes that unusable: a peer that goes away during the SP handshake makes
 * the listener stop taking new connections, for good. A worker whose client
 * leaves at once, a crashed worker or one port scan on a tcp:// bus was
 * enough to cut every later worker off the router (reproduced: fifty bare
 * connect-and-close on bus.ipc). libnng also moved each message through
 * several of its threads, about 9 context switches per message. The wire
 * protocol is unchanged: real libnng peers interoperate with this listener
 * (tests/unit/test_listener.c), and nngcat still reads the tap.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/log.h"
#include "allowfrom.h"
#include "listen_sock.h"
#include "listener.h"

int bus_init(struct bus *b, int ep, size_t max_message, uid_t allow_uid, struct bus_callbacks cb)
{
	memset(b, 0, sizeof *b);
	b->ep = ep;
	b->max_message = max_message;
	b->allow_uid = allow_uid;
	b->ipc_gid = (gid_t)-1;
	b->cb = cb;
	return hmap_init(&b->pipes);
}

void bus_set_key(struct bus *b, const uint8_t key[BUS_KEY_LEN])
{
	memcpy(b->key, key, BUS_KEY_LEN);
	b->has_key = true;
}

/* ---- listening ---- */

int bus_listen(struct bus *b, const char *url, enum bus_kind kind)
{
	if (b->nlisteners == BUS_MAX_LISTENERS) {
		log_error("too many bus addresses (at most %d)", BUS_MAX_LISTENERS);
		return -1;
	}
	struct bus_listener *l = &b->listeners[b->nlisteners];
	memset(l, 0, sizeof *l);
	l->kind = kind;
	if (strncmp(url, "ipc://", 6) == 0) {
		l->transport = SP_IPC;
		l->fd = kind == BUS_TAP ? listen_ipc(url + 6, 0600, (gid_t)-1) : listen_ipc(url + 6, 0660, b->ipc_gid);
		if (l->fd >= 0)
			l->path = strdup(url + 6);
	} else if (strncmp(url, "tcp://", 6) == 0) {
		l->transport = SP_TCP;
		l->fd = listen_tcp(b, url, kind);
	} else {
		log_error("bad bus address %s (ipc://PATH or tcp://HOST:PORT)", url);
		return -1;
	}
	if (l->fd < 0) {
		log_error("cannot listen on %s: %s", url, strerror(errno));
		return -1;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = BUS_TAG_LISTENER | (uint64_t)b->nlisteners};
	if (epoll_ctl(b->ep, EPOLL_CTL_ADD, l->fd, &ev) < 0) {
		log_error("epoll: %s", strerror(errno));
		close(l->fd);
		free(l->path);
		return -1;
	}
	b->nlisteners++;
	return 0;
}

/* ---- pipes ---- */

static struct bus_pipe *find(const struct bus *b, uint32_t id)
{
	return hmap_get_u64(&b->pipes, id);
}

/* What a worker's pipe holds in output counts towards the router's memory. */
static void account_out(struct bus *b, struct bus_pipe *p, size_t before)
{
	if (p->kind != BUS_WORKERS)
		return;
	size_t now = sp_conn_pending(&p->sp);
	b->worker_out = b->worker_out - before + now;
	/* progress, or the clock starts (not for a pipe under bus_expect_reads:
	 * what the kernel holds unread keeps its clock running) */
	if (now < before || (before == 0 && !p->drain_watched))
		p->out_moved = clock_ms();
}

/* Closes the socket now; the pipe itself goes in bus_reap. */
static void kill_pipe(struct bus *b, struct bus_pipe *p, const char *why)
{
	if (p->dead)
		return;
	log_debug("bus pipe %u: %s", p->id, why);
	p->dead = true;
	if (p->sp.fd >= 0)
		epoll_ctl(b->ep, EPOLL_CTL_DEL, p->sp.fd, NULL);
	sp_conn_disconnect(&p->sp);
	/* never sent now: its memory goes back at once */
	size_t before = sp_conn_pending(&p->sp);
	buf_free(&p->sp.out);
	account_out(b, p, before);
	p->next_dead = b->dead;
	b->dead = p;
}

/*
 * A unix socket signals EPOLLOUT every time its peer reads: watched all the
 * time, it would wake the router once more for each message a worker takes.
 */
static void watch_writes(struct bus *b, struct bus_pipe *p)
{
	bool want = !p->dead && sp_conn_wants_write(&p->sp);
	if (p->dead || want == p->out_watched)
		return;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET | (want ? EPOLLOUT : 0),
				 .data.u64 = BUS_TAG_PIPE | p->id};
	if (epoll_ctl(b->ep, EPOLL_CTL_MOD, p->sp.fd, &ev) == 0)
		p->out_watched = want;
}

/* Writes what it can; the pipe dies if the socket did. */
static void flush_pipe(struct bus *b, struct bus_pipe *p, const char *why)
{
	size_t before = sp_conn_pending(&p->sp);
	int rc = sp_conn_flush(&p->sp);
	account_out(b, p, before);
	if (rc < 0)
		return kill_pipe(b, p, why);
	bufpool_give(&b->pool, &p->sp.out); /* nor its output buffer, per worker pipe */
	watch_writes(b, p);
}

static bool peer_allowed(const struct bus *b, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	if (cred.uid == 0 || cred.uid == getuid() || cred.uid == b->allow_uid)
		return true;
	log_warn("refusing bus peer with uid %u", (unsigned)cred.uid);
	return false;
}

static uint32_t next_id(struct bus *b)
{
	do
		b->last_id++;
	while (b->last_id == 0 || find(b, b->last_id));
	return b->last_id;
}

static void add_pipe(struct bus *b, const struct bus_listener *l, int fd)
{
	struct bus_pipe *p = calloc(1, sizeof *p);
	if (!p) {
		close(fd);
		return;
	}
	p->id = next_id(b);
	p->kind = l->kind;
	sp_conn_init(&p->sp, l->transport, b->max_message + 4 /* hop count */);
	if (l->kind == BUS_TAP)
		sp_conn_set_protocols(&p->sp, SP_PROTO_PUB0, SP_PROTO_SUB0, false);
	sp_conn_adopt(&p->sp, fd);
	p->handshake_deadline = clock_ms() + BUS_HANDSHAKE_MS;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
				 .data.u64 = BUS_TAG_PIPE | p->id};
	if (hmap_put_u64(&b->pipes, p->id, p) < 0 || epoll_ctl(b->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		hmap_del_u64(&b->pipes, p->id);
		sp_conn_free(&p->sp);
		free(p);
		return;
	}
	p->out_watched = true;
	if (b->handshaking++ == 0)
		b->next_sweep = clock_ms() + 1000;
	flush_pipe(b, p, "gone during the handshake");
}

static void listeners_watch(struct bus *b, bool on)
{
	for (int i = 0; i < b->nlisteners; i++) {
		struct epoll_event ev = {.events = on ? EPOLLIN : 0, .data.u64 = BUS_TAG_LISTENER | (uint64_t)i};
		epoll_ctl(b->ep, EPOLL_CTL_MOD, b->listeners[i].fd, &ev);
	}
}

/* Out of descriptors or memory: a level-triggered listener would spin, so
 * the listeners rest for a moment while the waiting peers stay queued. */
static void pause_accepting(struct bus *b)
{
	log_warn("bus accept: %s; not accepting for 100 ms", strerror(errno));
	listeners_watch(b, false);
	b->accept_paused_until = clock_ms() + 100;
}

static void accept_some(struct bus *b, const struct bus_listener *l)
{
	/* bounded, so that a flood of connections does not starve routing */
	for (int i = 0; i < 256; i++) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS)
				pause_accepting(b);
			return;
		}
		if (l->transport == SP_IPC && !peer_allowed(b, fd)) {
			b->refused++;
			close(fd);
			continue;
		}
		if (l->transport == SP_TCP && l->kind == BUS_WORKERS && !allow_from_peer_ok(fd)) {
			b->refused++;
			close(fd);
			continue;
		}
		if (l->transport == SP_TCP) {
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		}
		sp_set_sndbuf(fd);
		add_pipe(b, l, fd);
	}
}

/* With a key, a worker pipe is through its handshake only once its hello checks. */
static bool needs_auth(const struct bus *b, const struct bus_pipe *p)
{
	return b->has_key && p->kind == BUS_WORKERS && !p->authed;
}

static void send_challenge(struct bus *b, struct bus_pipe *p)
{
	struct mp_out o;
	mp_out_init(&o);
	randombytes_buf(p->nonce, sizeof p->nonce);
	bus_auth_pack_challenge(&o.pk, p->nonce);
	size_t before = sp_conn_pending(&p->sp);
	if (sp_conn_queue(&p->sp, o.sb.data, o.sb.size) < 0)
		kill_pipe(b, p, "out of memory");
	else
		account_out(b, p, before); /* it leaves through flush_pipe, which counts it out */
	mp_out_free(&o);
}

/* The pipe's first message must be a hello carrying the right tag. */
static bool authenticate(struct bus *b, struct bus_pipe *p, const uint8_t *m, size_t n)
{
	if (!bus_auth_check(m, n, b->key, p->nonce)) {
		log_warn("bus pipe %u: no or wrong bus key in its hello; disconnecting that peer", p->id);
		kill_pipe(b, p, "not authenticated");
		return false;
	}
	p->authed = true;
	return true;
}

static void handshake_done(struct bus *b, struct bus_pipe *p)
{
	p->handshake_deadline = 0;
	b->handshaking--;
	if (p->kind == BUS_TAP)
		b->tap_readers++;
}

/* Reads, and hands each whole message to on_message, until the socket is drained. */
static void read_frames(struct bus *b, struct bus_pipe *p)
{
	int more = 1;
	while (more == 1 && !p->dead) {
		bool was_open = sp_conn_open(&p->sp);
		more = sp_conn_read(&p->sp);
		if (!was_open && sp_conn_open(&p->sp)) {
			if (needs_auth(b, p))
				send_challenge(b, p); /* the deadline runs on until its answer */
			else
				handshake_done(b, p);
		}
		if (p->kind == BUS_TAP) {
			buf_reset(&p->sp.in); /* a subscriber has nothing to say to us */
		} else {
			const uint8_t *m;
			size_t n;
			int rc;
			while (!p->dead && (rc = sp_conn_next(&p->sp, &m, &n)) == 1) {
				if (needs_auth(b, p)) {
					if (!authenticate(b, p, m, n))
						return;
					handshake_done(b, p);
				}
				b->cb.on_message(b->cb.ctx, p->id, m, n);
			}
			if (!p->dead && rc < 0) {
				log_warn("bus pipe %u: frame over the limit or malformed; disconnecting that worker",
					 p->id);
				if (b->cb.on_refused)
					b->cb.on_refused(b->cb.ctx, p->id);
				kill_pipe(b, p, "malformed frame");
				return;
			}
		}
		if (more < 0 && !p->dead)
			kill_pipe(b, p, sp_conn_open(&p->sp) ? "closed by the peer" : "bad or no handshake");
	}
}

static void read_pipe(struct bus *b, struct bus_pipe *p)
{
	/* thousands of idle workers: a read buffer is lent for the read only */
	bufpool_lend_read(&b->pool, &p->sp.in);
	read_frames(b, p);
	bufpool_take_back_read(&b->pool, &p->sp.in);
}

void bus_on_event(struct bus *b, uint64_t tag, uint32_t events)
{
	uint32_t n = (uint32_t)tag;
	if ((tag & BUS_TAG_MASK) == BUS_TAG_LISTENER) {
		if (n < (uint32_t)b->nlisteners)
			accept_some(b, &b->listeners[n]);
		return;
	}
	struct bus_pipe *p = find(b, n);
	if (!p || p->dead)
		return;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		read_pipe(b, p);
	/* Edge-triggered: data and the peer's FIN can come in one event, and the
	 * short read that drained the data says nothing of the FIN behind it.
	 * All the peer sent has been read by now, and SP peers never half-close. */
	if (!p->dead && (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
		kill_pipe(b, p, "closed by the peer");
		return;
	}
	if (!p->dead)
		flush_pipe(b, p, "write failed");
}

/* One message for a worker's pipe, from m (and n) or from the buffer mb. */
static int send_to(struct bus *b, uint32_t pipe, const void *m, size_t n, struct buf *mb)
{
	struct bus_pipe *p = find(b, pipe);
	if (!p || p->dead || p->kind != BUS_WORKERS)
		return -1;
	size_t before = sp_conn_pending(&p->sp);
	/* what the socket does not take is copied there: room for a big one is lent */
	if (before > 0 || (!mb && n >= BUFPOOL_SMALL))
		bufpool_reserve(&b->pool, &p->sp.out, n + 16);
	int rc = mb ? sp_conn_send_buf(&p->sp, mb) : sp_conn_send(&p->sp, m, n);
	account_out(b, p, before);
	if (rc < 0) {
		kill_pipe(b, p, "out of memory");
		return -1;
	}
	flush_pipe(b, p, "write failed");
	return 0;
}

int bus_send(struct bus *b, uint32_t pipe, const void *m, size_t n) { return send_to(b, pipe, m, n, NULL); }

int bus_send_buf(struct bus *b, uint32_t pipe, struct buf *m)
{
	int rc = send_to(b, pipe, NULL, buf_used(m), m);
	buf_reset(m);
	return rc;
}

void bus_send_last(struct bus *b, uint32_t pipe, const void *m, size_t n)
{
	struct bus_pipe *p = find(b, pipe);
	if (!p || p->dead)
		return;
	/* best effort: it goes out only if the socket takes it now */
	if (p->kind == BUS_WORKERS && sp_conn_open(&p->sp))
		bus_send(b, pipe, m, n);
	kill_pipe(b, p, "closed by the router");
}

size_t bus_pending(const struct bus *b, uint32_t pipe)
{
	const struct bus_pipe *p = find(b, pipe);
	return p && !p->dead ? sp_conn_pending(&p->sp) : 0;
}

int64_t bus_stalled_ms(const struct bus *b, uint32_t pipe, int64_t now)
{
	const struct bus_pipe *p = find(b, pipe);
	return p && !p->dead && sp_conn_pending(&p->sp) > 0 ? now - p->out_moved : 0;
}

struct publish {
	struct bus *b;
	const void *m;
	size_t n;
};

static void publish_one(void *arg, const void *key, size_t klen, void *value)
{
	(void)key;
	(void)klen;
	struct publish *pub = arg;
	struct bus_pipe *p = value;
	if (p->kind != BUS_TAP || p->dead || !sp_conn_open(&p->sp) || sp_conn_pending(&p->sp) > BUS_TAP_BACKLOG)
		return;
	if (sp_conn_queue(&p->sp, pub->m, pub->n) < 0)
		return kill_pipe(pub->b, p, "out of memory");
	flush_pipe(pub->b, p, "tap reader gone");
}

void bus_publish(struct bus *b, const void *m, size_t n)
{
	/* Only called while someone reads the tap, so walking every pipe is fine. */
	struct publish pub = {b, m, n};
	hmap_each(&b->pipes, publish_one, &pub);
}

void bus_close(struct bus *b, uint32_t pipe)
{
	struct bus_pipe *p = find(b, pipe);
	if (p)
		kill_pipe(b, p, "closed by the router");
}

/* ---- timeouts and reaping ---- */

struct expiry {
	struct bus *b;
	int64_t now;
};

void bus_expect_reads(struct bus *b, uint32_t pipe)
{
	struct bus_pipe *p = find(b, pipe);
	if (!p || p->dead || p->drain_watched || p->kind != BUS_WORKERS)
		return;
	p->drain_watched = true;
	p->last_unread = sp_conn_unread(&p->sp);
	p->out_moved = clock_ms();
	if (b->drain_watched++ == 0 && b->handshaking == 0 && b->worker_out == 0)
		b->next_sweep = p->out_moved + 1000;
}

/* What a pipe has sent that its worker has not read, when that counts. */
static size_t unread(struct bus_pipe *p, int64_t now)
{
	if (!p->drain_watched)
		return sp_conn_pending(&p->sp);
	size_t u = sp_conn_unread(&p->sp);
	if (u < p->last_unread)
		p->out_moved = now; /* read some */
	p->last_unread = u;
	return u;
}

static void expire_one(void *arg, const void *key, size_t klen, void *value)
{
	(void)key;
	(void)klen;
	struct expiry *x = arg;
	struct bus_pipe *p = value;
	if (!p->dead && p->handshake_deadline && x->now >= p->handshake_deadline)
		kill_pipe(x->b, p, "no handshake in time");
	size_t u = !p->dead && p->kind == BUS_WORKERS ? unread(p, x->now) : 0;
	if (u > 0 && x->now - p->out_moved >= BUS_STALL_MS) {
		log_warn("bus pipe %u: %zu bytes unread for %d s; dropping that worker", p->id, u,
			 BUS_STALL_MS / 1000);
		x->b->stalled++;
		kill_pipe(x->b, p, "does not read");
	}
}

static void release(struct bus *b, struct bus_pipe *p)
{
	hmap_del_u64(&b->pipes, p->id);
	if (p->drain_watched)
		b->drain_watched--;
	if (p->handshake_deadline) { /* it never became a pipe anybody could use */
		b->handshaking--;
		b->refused++;
	} else if (p->kind == BUS_TAP)
		b->tap_readers--;
	if (p->kind == BUS_WORKERS && b->cb.on_gone)
		b->cb.on_gone(b->cb.ctx, p->id);
	sp_conn_free(&p->sp);
	free(p);
}

bool bus_reap(struct bus *b, int64_t now)
{
	bool did = b->dead != NULL;
	if (b->accept_paused_until && now >= b->accept_paused_until) {
		b->accept_paused_until = 0;
		listeners_watch(b, true);
	}
	if ((b->handshaking > 0 || b->worker_out > 0 || b->drain_watched > 0) && now >= b->next_sweep) {
		struct expiry x = {b, now};
		hmap_each(&b->pipes, expire_one, &x);
		b->next_sweep = now + 1000;
	}
	while (b->dead) {
		struct bus_pipe *p = b->dead;
		b->dead = p->next_dead;
		release(b, p);
	}
	return did;
}

int64_t bus_due(const struct bus *b)
{
	if (b->dead)
		return 0;
	int64_t due = b->handshaking > 0 || b->worker_out > 0 || b->drain_watched > 0 ? b->next_sweep : INT64_MAX;
	if (b->accept_paused_until && b->accept_paused_until < due)
		due = b->accept_paused_until;
	return due;
}

static void free_pipe(void *arg, const void *key, size_t klen, void *value)
{
	(void)arg;
	(void)key;
	(void)klen;
	struct bus_pipe *p = value;
	sp_conn_free(&p->sp);
	free(p);
}

void bus_fini(struct bus *b)
{
	hmap_each(&b->pipes, free_pipe, NULL);
	hmap_free(&b->pipes);
	bufpool_free(&b->pool);
	for (int i = 0; i < b->nlisteners; i++) {
		close(b->listeners[i].fd);
		if (b->listeners[i].path)
			unlink(b->listeners[i].path);
		free(b->listeners[i].path);
	}
	b->nlisteners = 0;
}
