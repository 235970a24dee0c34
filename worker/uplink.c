/* The worker's uplink: its end of the bus (registration, batching, credit, reconnects). */
#include <errno.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/bus.h"
#include "../common/buscredit.h"
#include "../common/clock.h"
#include "../common/envelope.h"
#include "../common/log.h"
#include "../common/utf8.h"
#include "session.h"

#define BUS_BACKOFF_MIN_MS 50
#define BUS_BACKOFF_MAX_MS 2000
#define BUS_BACKLOG (1u << 20) /* stop reading the client past this much unsent */
#define BUS_CHALLENGE_WAIT_MS 10000 /* as long as the router waits for our handshake */

static void uplink_down(struct session *s, const char *why);

/* ---- batching ---- */

/* Moves the first n bytes of the batch to the socket's queue as one bus message. */
static void queue_part(struct session *s, size_t n)
{
	if (n == 0)
		return;
	if (sp_conn_send(&s->bus, s->batch.sb.data, n) < 0)
		log_error("out of memory queueing for the bus");
	memmove(s->batch.sb.data, s->batch.sb.data + n, s->batch.sb.size - n);
	s->batch.sb.size -= n;
	s->batch_mark = s->batch_mark > n ? s->batch_mark - n : 0;
}

/*
 * Called before each envelope is packed and at the end of a turn (all):
 * the batch goes out once it has reached the target size, so a burst of
 * big messages makes several bus messages, never one over the limit. The
 * envelope packed last starts at batch_mark; one that cannot fit in a bus
 * message even alone is dropped and its client closed with 1009.
 */
static void batch_cut(struct session *s, bool all)
{
	size_t size = s->batch.sb.size, mark = s->batch_mark;
	if (size > BUS_MAX_MESSAGE) {
		if (size - mark > BUS_MAX_MESSAGE) {
			log_warn("an envelope of %zu bytes does not fit in a bus message; closing the client",
				 size - mark);
			s->batch.sb.size = mark;
			session_close(s, 1009, "message too big for the bus");
		} else {
			queue_part(s, mark); /* what came before the big one */
		}
	}
	if (s->batch.sb.size >= BUS_BATCH_TARGET || all)
		queue_part(s, s->batch.sb.size);
	s->batch_mark = s->batch.sb.size;
}

msgpack_packer *session_bus(struct session *s)
{
	batch_cut(s, false);
	return &s->batch.pk;
}

/* tag: the answer to the router's challenge, or NULL without a bus key */
static void pack_hello(struct session *s, const uint8_t *tag)
{
	msgpack_packer *pk = &s->batch.pk;
	env_begin(pk, ENV_CORE, OP_HELLO, tag ? 5 : 4);
	if (tag)
		mp_kv_bin(pk, "auth", tag, BUS_TAG_LEN);
	mp_cstr(pk, "conn");
	msgpack_pack_uint64(pk, s->conn_id);
	mp_kv_int(pk, "pid", getpid());
	mp_kv_cstr(pk, "proto", s->bus_http ? ENV_CORE : s->proto->name);
	mp_kv_int(pk, "credit", BUS_CREDIT_MAX);
}

/* Hello, then the protocol's registration, before anything queued earlier. */
static void queue_registration(struct session *s, const uint8_t *tag)
{
	/* what this turn has batched so far goes after what was queued before */
	batch_cut(s, true);
	pack_hello(s, tag);
	if (!s->bus_http && s->proto->on_register)
		s->proto->on_register(s);
	if (sp_conn_queue_front(&s->bus, s->batch.sb.data, s->batch.sb.size) < 0)
		log_error("out of memory queueing for the bus");
	mp_out_reset(&s->batch);
	s->batch_mark = 0;
}

/* One answer of the supervisor: 1 with *fd (-1 if it could not dial), 0 if
 * none is waiting, -1 if the control socket is gone. */
static int recv_answer(int ctl, int *fd)
{
	char ok;
	struct iovec iov = {&ok, 1};
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } cm;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof cm.b};
	*fd = -1;
	ssize_t r = recvmsg(ctl, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (r < 0)
		return errno == EAGAIN ? 0 : -1;
	if (r == 0)
		return -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(fd, CMSG_DATA(c), sizeof *fd);
	return 1;
}

/* The bus socket is watched from the start, with EPOLLOUT to learn when the
 * connect completes; hello and the protocol's registration go first, before
 * anything queued earlier. */
static void uplink_opened(struct session *s)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.u32 = 2};
	epoll_ctl(s->ep, EPOLL_CTL_ADD, s->bus.fd, &ev);
	s->bus_out_watched = true;
	s->bus_auth_pending = s->cfg->has_bus_key;
	s->bus.hold = s->bus_auth_pending; /* nothing goes out before the hello that answers the challenge */
	if (s->bus_auth_pending)
		s->bus_retry_at = clock_ms() + BUS_CHALLENGE_WAIT_MS; /* give up waiting then */
	else
		queue_registration(s, NULL);
	s->credit_due = 0;
	s->credit_held = 0;
	s->credit_asked = false;
}

/* The router's first message, with a bus key: its challenge. */
static bool answer_challenge(struct session *s, const uint8_t *p, size_t n)
{
	uint8_t nonce[BUS_NONCE_LEN], tag[BUS_TAG_LEN];
	if (!bus_auth_nonce(p, n, nonce))
		return false;
	bus_auth_tag(tag, s->cfg->bus_key, nonce);
	queue_registration(s, tag);
	s->bus_auth_pending = false;
	s->bus.hold = false;
	s->bus_retry_at = 0;
	return true;
}

/*
 * Under the supervisor the sandbox has no socket or connect: ask it for a
 * freshly dialled connection (worker/bus_hand.c). The answer is awaited in
 * the loop (the control socket is watched, under the bus's tag, only while
 * a request is out), however long a busy supervisor takes: one request at a
 * time, so an answer always belongs to the last request.
 */
static void uplink_request(struct session *s)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 2};
	if (write(s->cfg->bus_ctl, "d", 1) != 1 || epoll_ctl(s->ep, EPOLL_CTL_ADD, s->cfg->bus_ctl, &ev) < 0)
		return uplink_down(s, "no supervisor to dial for us");
	s->bus_asking = true;
}

static void uplink_on_answer(struct session *s)
{
	int fd, rc = recv_answer(s->cfg->bus_ctl, &fd);
	if (rc == 0)
		return;
	epoll_ctl(s->ep, EPOLL_CTL_DEL, s->cfg->bus_ctl, NULL);
	s->bus_asking = false;
	if (rc < 0)
		return uplink_down(s, "the supervisor is gone");
	if (fd < 0)
		return uplink_down(s, "connect failed");
	sp_conn_adopt(&s->bus, fd);
	s->bus.state = SP_CONNECTING; /* the supervisor's connect may still be under way */
	uplink_opened(s);
}

static void uplink_connect(struct session *s)
{
	s->bus_retry_at = 0;
	if (s->cfg->bus_ctl >= 0)
		return uplink_request(s);
	if (sp_conn_connect(&s->bus, &s->bus_addr) < 0)
		return uplink_down(s, "connect failed");
	uplink_opened(s);
}

void uplink_ensure(struct session *s)
{
	if (!s->bus_wanted) {
		s->bus_http = true;
		return uplink_start(s);
	}
	if (s->bus.fd < 0 && !s->bus_asking)
		uplink_connect(s);
}

void uplink_stop(struct session *s)
{
	if (s->bus.fd >= 0)
		epoll_ctl(s->ep, EPOLL_CTL_DEL, s->bus.fd, NULL);
	if (s->bus_asking) {
		/* one request at a time: its answer is awaited here, or it would
		 * be taken for the answer to the session's own request */
		epoll_ctl(s->ep, EPOLL_CTL_DEL, s->cfg->bus_ctl, NULL);
		struct pollfd pfd = {.fd = s->cfg->bus_ctl, .events = POLLIN};
		int fd = -1;
		if (poll(&pfd, 1, 2000) == 1 && recv_answer(s->cfg->bus_ctl, &fd) == 1 && fd >= 0)
			close(fd);
	}
	sp_conn_free(&s->bus);
	mp_out_free(&s->batch);
	s->bus_wanted = s->bus_http = s->bus_asking = s->bus_auth_pending = s->bus_out_watched = false;
	s->bus_refused = false;
	s->bus_retry_at = 0;
	s->batch_mark = 0;
	s->credit_due = s->credit_held = 0;
	s->credit_asked = false;
}

void uplink_start(struct session *s)
{
	sp_conn_init(&s->bus, s->bus_addr.transport, BUS_MAX_MESSAGE + 4 /* hop count */);
	mp_out_init(&s->batch);
	s->bus_backoff_ms = BUS_BACKOFF_MIN_MS;
	s->bus_wanted = true;
	uplink_connect(s);
}

/* A bus for plain-HTTP answers is not redialled: the request waiting gets
 * 503, and the next one dials again. What was queued is dropped with it. */
static void uplink_http_down(struct session *s, const char *why)
{
	log_info("bus to %s lost (%s)", s->cfg->router_url, why);
	if (s->bus.fd >= 0)
		epoll_ctl(s->ep, EPOLL_CTL_DEL, s->bus.fd, NULL);
	sp_conn_disconnect(&s->bus);
	sp_conn_drop_queued(&s->bus);
	mp_out_reset(&s->batch);
	s->batch_mark = 0;
	s->bus_auth_pending = s->bus_refused = false;
	s->bus_retry_at = 0;
	http_ask_bus_down(s);
}

static void uplink_down(struct session *s, const char *why)
{
	if (s->bus_http)
		return uplink_http_down(s, why);
	if (s->bus_refused) {
		/* the router has closed this client: what is unsent would only be
		 * refused again, so it is dropped and the bus not dialled again */
		sp_conn_disconnect(&s->bus);
		sp_conn_drop_queued(&s->bus);
		s->bus_retry_at = 0;
		return;
	}
	if (s->bus.fd >= 0 || s->bus_backoff_ms == BUS_BACKOFF_MIN_MS)
		log_warn("bus to %s lost (%s); retrying", s->cfg->router_url, why);
	/* Unwatched before it is closed: a connection the supervisor handed us
	 * lives on in its copy until it hands the next, and epoll would go on
	 * reporting it under the bus's tag. */
	if (s->bus.fd >= 0)
		epoll_ctl(s->ep, EPOLL_CTL_DEL, s->bus.fd, NULL);
	sp_conn_disconnect(&s->bus);
	s->bus_auth_pending = false;
	/* jitter spreads the reconnects of thousands of workers after a restart */
	int jitter = (int)(s->conn_id % (uint64_t)(s->bus_backoff_ms / 2 + 1));
	s->bus_retry_at = clock_ms() + s->bus_backoff_ms + jitter;
	s->bus_backoff_ms *= 2;
	if (s->bus_backoff_ms > BUS_BACKOFF_MAX_MS)
		s->bus_backoff_ms = BUS_BACKOFF_MAX_MS;
}

void uplink_on_timer(struct session *s, int64_t now)
{
	if (s->bus_auth_pending && s->bus.fd >= 0 && s->bus_retry_at && now >= s->bus_retry_at)
		return uplink_down(s, "no challenge from the router; does it have the --bus-key too?");
	if (s->bus_wanted && s->bus_retry_at && now >= s->bus_retry_at)
		uplink_connect(s);
}

int uplink_fd(const struct session *s) { return s->bus.fd; }

bool uplink_backlogged(const struct session *s) { return sp_conn_pending(&s->bus) > BUS_BACKLOG; }

/*
 * RFC 6455 text frames must be UTF-8, and a client (a browser) closes with
 * 1007 on one that is not. The router checks what it forwards, but the
 * worker does not frame text it has not checked itself: invalid text is
 * dropped (and logged), and the client stays connected.
 */
static void send_checked_text(struct session *s, const void *d, size_t n)
{
	if (!utf8_valid(d, n)) {
		log_warn("router sent %zu bytes of text that is not UTF-8; not sent to the client", n);
		return;
	}
	session_send_text(s, d, n);
}

static void handle_core(struct session *s, const struct envelope *e)
{
	const char *d;
	size_t n;
	const uint8_t *b;
	if (env_op_is(e, OP_TEXT) && mp_get_str(e->map, "d", &d, &n)) {
		send_checked_text(s, d, n);
	} else if (env_op_is(e, OP_TEXT) && mp_get_bin(e->map, "d", &b, &n)) {
		send_checked_text(s, b, n);
	} else if (env_op_is(e, OP_BINARY) && mp_get_bin(e->map, "d", &b, &n)) {
		session_send_binary(s, b, n);
	} else if (env_op_is(e, OP_HTTP_REPLY)) {
		http_ask_reply(s, e);
	} else if (env_op_is(e, OP_CHALLENGE)) {
		log_error("the router wants a bus key: start the worker with --bus-key FILE");
	} else if (env_op_is(e, OP_CLOSE)) {
		int64_t code = 1000;
		const char *reason = "";
		size_t rlen = 0;
		mp_get_int(e->map, "code", &code);
		mp_get_str(e->map, "reason", &reason, &rlen);
		char r[124];
		if (rlen >= sizeof r)
			rlen = sizeof r - 1;
		/* a close reason is UTF-8 too: cut back to whole characters, or to nothing */
		while (rlen > 0 && !utf8_valid((const uint8_t *)reason, rlen))
			rlen--;
		memcpy(r, reason, rlen);
		r[rlen] = 0;
		log_info("router closes the client: %d %s", (int)code, r);
		s->bus_refused = true;
		session_close(s, (uint16_t)code, r);
	} else {
		log_warn("unknown core envelope %.*s from the router", (int)e->op_len, e->op);
	}
}

static void handle_batch(struct session *s, const uint8_t *p, size_t n)
{
	size_t off = 0;
	struct envelope e;
	int rc;
	while ((rc = env_next(&e, p, n, &off)) == 1) {
		if (env_proto_is(&e, ENV_CORE))
			handle_core(s, &e);
		else if (s->proto && env_proto_is(&e, s->proto->name) && s->proto->on_bus)
			s->proto->on_bus(s, &e);
		else if (!s->proto && s->phase >= PHASE_LINGER) /* sent before the router knew the client left */
			log_debug("envelope for protocol %.*s after the client left; dropped", (int)e.proto_len, e.proto);
		else
			log_warn("envelope for protocol %.*s ignored", (int)e.proto_len, e.proto);
		env_free(&e);
	}
	if (rc < 0)
		log_error("malformed envelope from the router ignored");
}

/*
 * A unix socket signals EPOLLOUT every time its peer reads, so watching it
 * all the time would wake the worker once more for each message the router
 * takes. Watch only while something waits to be written (or the connect).
 */
static void watch_writes(struct session *s)
{
	bool want = s->bus.fd >= 0 && sp_conn_wants_write(&s->bus);
	if (s->bus.fd < 0 || want == s->bus_out_watched)
		return;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET | (want ? EPOLLOUT : 0), .data.u32 = 2};
	if (epoll_ctl(s->ep, EPOLL_CTL_MOD, s->bus.fd, &ev) == 0)
		s->bus_out_watched = want;
}

void uplink_on_event(struct session *s, uint32_t events)
{
	if (s->bus_asking)
		return uplink_on_answer(s);
	if (s->bus.fd < 0)
		return;
	bool dead = false;
	/* Finish the connect first: the router's handshake may already be here,
	 * and with edge-triggered epoll this event is our only notice of it. */
	if (s->bus.state == SP_CONNECTING && sp_conn_flush(&s->bus) < 0)
		return uplink_down(s, "connect failed");
	int more = (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ? 1 : 0;
	while (more == 1) {
		more = sp_conn_read(&s->bus);
		dead = more < 0;
		const uint8_t *p;
		size_t n;
		int rc;
		while ((rc = sp_conn_next(&s->bus, &p, &n)) == 1) {
			if (s->bus_auth_pending) { /* not a message that earns the router credit */
				if (!answer_challenge(s, p, n))
					return uplink_down(s, "the router sent no challenge");
				continue;
			}
			handle_batch(s, p, n);
			if (s->cfg->has_bus_key) /* a message after our hello: the key was right */
				s->bus_backoff_ms = BUS_BACKOFF_MIN_MS;
			if (n == 0) /* the router asks for its credit (common/buscredit.h) */
				s->credit_asked = true;
			/* One credit per bus message, unless the client is not keeping up. */
			if (buf_used(&s->out) < s->cfg->client_backlog)
				s->credit_due++;
			else
				s->credit_held++;
		}
		if (rc < 0)
			return uplink_down(s, "protocol error");
	}
	/* Edge-triggered: the router's FIN may sit behind the data just read, and
	 * the short read that drained it says nothing of the FIN. */
	if (dead || (s->bus.state != SP_CONNECTING && (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))))
		return uplink_down(s, "closed by the router");
	/* with a key, a finished SP handshake says nothing yet: a wrong key is refused after it */
	if (s->bus.state == SP_OPEN && !s->cfg->has_bus_key)
		s->bus_backoff_ms = BUS_BACKOFF_MIN_MS;
	if (sp_conn_flush(&s->bus) < 0)
		return uplink_down(s, "write failed");
	watch_writes(s);
}

void uplink_after_turn(struct session *s)
{
	if (!s->bus_wanted)
		return;
	if (s->bus_refused) { /* the router ignores this worker now: nothing more for it */
		mp_out_reset(&s->batch);
		s->batch_mark = 0;
		s->credit_due = s->credit_held = 0;
	}
	if (s->credit_held && buf_used(&s->out) < s->cfg->client_backlog / 2) {
		s->credit_due += s->credit_held;
		s->credit_held = 0;
	}
	/* Credit rides along with what goes to the router anyway; alone, it
	 * waits until half the window is used or the router asks. */
	bool sending = s->batch.sb.size > 0 || sp_conn_pending(&s->bus) > 0;
	if (s->bus.fd < 0) {
		s->credit_due = 0; /* the next connection's hello grants a whole window */
	} else if (bus_credit_return_now(s->credit_due, BUS_CREDIT_MAX, s->credit_asked, sending)) {
		msgpack_packer *pk = session_bus(s);
		env_begin(pk, ENV_CORE, OP_CREDIT, 1);
		mp_kv_int(pk, "n", s->credit_due);
		s->credit_due = 0;
		s->credit_asked = false;
	}
	batch_cut(s, true);
	if (s->bus.fd >= 0 && sp_conn_wants_write(&s->bus) && sp_conn_flush(&s->bus) < 0)
		return uplink_down(s, "write failed");
	watch_writes(s);
}

void uplink_drain(struct session *s, int timeout_ms)
{
	int64_t end = clock_ms() + timeout_ms;
	uplink_after_turn(s);
	while (s->bus.fd >= 0 && s->bus.state == SP_OPEN && !s->bus.hold && sp_conn_pending(&s->bus) > 0) {
		int64_t left = end - clock_ms();
		if (left <= 0)
			break;
		struct pollfd pfd = {.fd = s->bus.fd, .events = POLLOUT};
		if (poll(&pfd, 1, (int)left) <= 0 || sp_conn_flush(&s->bus) < 0)
			break;
	}
}
