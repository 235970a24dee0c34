/*
 * switchboard-worker: one WebSocket client on fd 0/1, one thread, one epoll
 * loop over {client, bus}, its timeout the next deadline. Runs
 * under the supervisor, inetd, tcpserver, s6 or systemd Accept=yes alike.
 * The session and its request handling are worker/session.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/bus.h"
#include "../common/clock.h"
#include "../common/core_options.h"
#include "../common/log.h"
#include "memtrim.h"
#include "session.h"
#include "template.h"

#ifndef SWITCHBOARD_VERSION
#define SWITCHBOARD_VERSION "0.1.0"
#endif

enum { EV_CLIENT_IN = 0, EV_CLIENT_OUT = 1, EV_BUS = 2 };

/* SIGTERM and SIGINT are blocked but while the loop waits in epoll_pwait,
 * whose wait they end: the handler only notes them. Not a signalfd: that
 * is one more descriptor made, watched and closed per connection. */
static volatile sig_atomic_t stop_asked;
static sigset_t wait_mask; /* the mask during the wait: SIGTERM and SIGINT let through */

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_asked = 1;
}
static bool read_paused; /* client reads stopped while the bus or the client's output is backlogged */
static bool client_hup;  /* epoll saw the client's FIN: read until EOF */
static bool shut_wr;     /* our FIN is sent: linger only until the peer's */

/* Echoes, pongs and answers to a client that does not read pile up in its
 * output; past --client-backlog we stop reading it, so its own TCP window
 * pushes back, and read again once the output drains below that. */
static bool output_backlogged(const struct session *s)
{
	return buf_used(&s->out) >= s->cfg->client_backlog;
}

static bool must_pause(const struct session *s)
{
	/* a file going out: the next request waits in the socket until it is sent */
	return s->phase == PHASE_HTTP || s->phase == PHASE_ASK || (s->phase == PHASE_OPEN && (uplink_backlogged(s) || output_backlogged(s)));
}

/* What read_client reads into: 128 KiB, so a 64 KiB message comes in one
 * read and is handed on without a copy (ws.c). Static, not on the stack:
 * deeper calls would sit lower and every stack page they touch stays dirty
 * in each idle worker (issue 12, point 3); a small read touches only the
 * first pages. Page-aligned, so that reads dirty its own pages only, which
 * worker/memtrim.c drops when the connection is idle. */
static uint8_t chunk[131072] __attribute__((aligned(4096)));

static void read_client(struct session *s)
{
	for (;;) {
		if (s->phase == PHASE_OPEN && s->ws.state == WS_CLOSED)
			return;
		if (must_pause(s)) {
			read_paused = true; /* the client's TCP window now pushes back */
			return;
		}
		ssize_t r = read(s->in_fd, chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0 || errno != EAGAIN)
				s->client_eof = true;
			return;
		}
		s->last_rx = clock_ms();
		s->ping_sent_at = 0;
		switch (s->phase) {
		case PHASE_HANDSHAKE:
			buf_append(&s->head, chunk, (size_t)r);
			session_request(s);
			break;
		case PHASE_OPEN:
			ws_conn_feed(&s->ws, chunk, (size_t)r);
			break;
		default:
			break; /* lingering: discard */
		}
		/* a short read drained the socket, unless a FIN is waiting behind it */
		if ((size_t)r < sizeof chunk && !client_hup)
			return;
	}
}

static void write_client(struct session *s)
{
	while (buf_used(&s->out) > 0) {
		ssize_t w = write(s->out_fd, buf_head(&s->out), buf_used(&s->out));
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			if (errno != EAGAIN) {
				s->client_eof = true;
				buf_reset(&s->out);
			}
			return;
		}
		buf_consume(&s->out, (size_t)w);
	}
	if (s->phase != PHASE_HTTP) /* a file's chunks reuse the buffer: no malloc per chunk */
		buf_shrink(&s->out, 16384);
}

/* Writes a file body a chunk at a time, so the worker never holds much of it. */
static void http_turn(struct session *s)
{
	for (;;) {
		int rc = s->client_eof ? -1 : http_refill(s);
		if (rc < 0) {
			static_close(&s->file);
			s->phase = PHASE_DONE; /* the Content-Length sent cannot be kept */
			return;
		}
		if (rc > 0) {
			s->phase = PHASE_HANDSHAKE;
			session_http_next(s); /* a pipelined request may start the next file */
			if (s->phase != PHASE_HTTP)
				return;
			continue;
		}
		size_t before = buf_used(&s->out);
		write_client(s);
		if (buf_used(&s->out) < before)
			s->http_progress_at = clock_ms();
		if (buf_used(&s->out) > 0)
			return; /* the socket is full: EPOLLOUT brings us back */
	}
}

/* ---- timers ---- */

static int64_t next_deadline(const struct session *s)
{
	int64_t t = INT64_MAX;
#define CONSIDER(x) do { if ((x) > 0 && (x) < t) t = (x); } while (0)
	if (s->phase == PHASE_HANDSHAKE)
		CONSIDER(s->handshake_deadline);
	if (s->phase == PHASE_HTTP)
		CONSIDER(s->http_progress_at + s->cfg->handshake_timeout_ms);
	if (s->phase == PHASE_ASK)
		CONSIDER(s->ask_deadline);
	if (s->phase == PHASE_LINGER)
		CONSIDER(s->linger_until);
	if (s->phase == PHASE_OPEN) {
		if (s->ws.state == WS_CLOSING)
			CONSIDER(s->close_started + s->cfg->close_timeout_ms);
		if (s->cfg->ping_interval_ms > 0)
			CONSIDER(s->ping_sent_at ? s->last_rx + s->cfg->ping_timeout_ms
						 : s->last_rx + s->cfg->ping_interval_ms);
		CONSIDER(s->proto_timer_at);
		CONSIDER(s->bus_retry_at);
		CONSIDER(memtrim_deadline());
	}
#undef CONSIDER
	return t;
}

/* epoll_wait's timeout until the deadline at (clock_ms, whole ms: the
 * clock is truncated, so the loop wakes at the deadline or after it). The
 * deadlines are the loop's timer: no timerfd to create, arm and close for
 * each connection. */
static int timeout_until(int64_t at)
{
	if (at == INT64_MAX)
		return -1;
	int64_t left = at - clock_ms();
	return left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

static void on_timers(struct session *s)
{
	int64_t now = clock_ms();
	if (s->phase == PHASE_HANDSHAKE && now >= s->handshake_deadline) {
		if (s->http_served > 0 && buf_used(&s->head) == 0)
			return session_linger(s); /* an idle keep-alive connection: just close */
		return session_refuse(s, 408, "handshake not completed in time");
	}
	if (s->phase == PHASE_HTTP && now >= s->http_progress_at + s->cfg->handshake_timeout_ms) {
		log_info("client took none of its file for %d ms, dropping it", s->cfg->handshake_timeout_ms);
		s->phase = PHASE_DONE;
		return;
	}
	if (s->phase == PHASE_ASK && now >= s->ask_deadline)
		return http_ask_timeout(s);
	if (s->phase == PHASE_LINGER && now >= s->linger_until) {
		s->phase = PHASE_DONE;
		return;
	}
	if (s->phase != PHASE_OPEN)
		return;
	if (s->ws.state == WS_CLOSING && now >= s->close_started + s->cfg->close_timeout_ms) {
		s->ws.state = WS_CLOSED; /* the peer never answered our close */
		return;
	}
	if (s->cfg->ping_interval_ms > 0 && s->ws.state == WS_OPEN) {
		if (s->ping_sent_at && now >= s->last_rx + s->cfg->ping_timeout_ms) {
			log_info("client silent for %d ms, dropping it", s->cfg->ping_timeout_ms);
			session_close(s, 1001, "ping timeout");
			s->ws.state = WS_CLOSED;
		} else if (!s->ping_sent_at && now >= s->last_rx + s->cfg->ping_interval_ms) {
			ws_send(&s->ws, WS_PING, "", 0);
			s->ping_sent_at = now;
			memtrim_request(0); /* silent a while: likely to stay idle */
		}
	}
	if (s->proto_timer_at && now >= s->proto_timer_at) {
		s->proto_timer_at = 0;
		if (s->proto->on_timer)
			s->proto->on_timer(s);
	}
	uplink_on_timer(s, now);
}

static void on_signal(struct session *s)
{
	stop_asked = 0;
	if (s->phase == PHASE_HANDSHAKE || s->phase == PHASE_HTTP || s->phase == PHASE_ASK) {
		s->phase = PHASE_DONE;
	} else if (s->phase == PHASE_OPEN) {
		session_close(s, 1001, "server shutting down");
	}
}

/* ---- the loop ---- */

/* Frames are written whole, once per loop turn: Nagle would only hold a
 * small answer back behind the client's delayed ACK. Set here, not in the
 * supervisor, so inetd and systemd Accept=yes connections get it too; fd 0
 * may as well be a pipe or a unix socket. */
static void set_nodelay(int fd)
{
	int one = 1;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 && errno != ENOTSOCK &&
	    errno != EOPNOTSUPP && errno != ENOPROTOOPT)
		log_warn("TCP_NODELAY on the client socket: %s", strerror(errno));
}

/* O_NONBLOCK on both; true when fd 1 is fd 0's open file (dup'd, as the
 * supervisor, inetd, tcpserver and systemd pass a client): the flag just set
 * on fd 0 shows on fd 1 then, so one look tells, and the socket is set up
 * once. (Were fd 1 another socket, already non-blocking, it would keep
 * Nagle: no server passes such a pair.) */
static bool set_nonblock(int in, int out)
{
	int fl = fcntl(in, F_GETFL);
	bool was = fl >= 0 && (fl & O_NONBLOCK);
	if (fl >= 0 && !was)
		fcntl(in, F_SETFL, fl | O_NONBLOCK);
	if (out == in)
		return true;
	int out_fl = fcntl(out, F_GETFL);
	if (out_fl < 0 || (out_fl & O_NONBLOCK))
		return out_fl >= 0 && !was;
	fcntl(out, F_SETFL, out_fl | O_NONBLOCK);
	return false;
}

static void setup_fds(struct session *s)
{
	bool one_socket = set_nonblock(s->in_fd, s->out_fd);
	set_nodelay(s->in_fd);
	if (!one_socket)
		set_nodelay(s->out_fd);
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, &wait_mask);
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGINT);
	struct sigaction sa = {.sa_handler = on_stop_signal}; /* no SA_RESTART: the wait ends */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* one socket: one registration for both ways */
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET | EPOLLRDHUP | (one_socket ? EPOLLOUT : 0),
				 .data.u32 = EV_CLIENT_IN};
	epoll_ctl(s->ep, EPOLL_CTL_ADD, s->in_fd, &ev);
	ev = (struct epoll_event){.events = EPOLLOUT | EPOLLET, .data.u32 = EV_CLIENT_OUT};
	if (!one_socket && epoll_ctl(s->ep, EPOLL_CTL_ADD, s->out_fd, &ev) < 0 && errno == EEXIST) {
		ev.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP;
		epoll_ctl(s->ep, EPOLL_CTL_MOD, s->in_fd, &ev);
	}
}

/* What happens once the WebSocket is over: flush, half-close, drain. */
static void start_linger(struct session *s)
{
	if (s->proto && s->proto->close && s->state) {
		s->proto->close(s);
		s->proto = NULL;
	}
	session_linger(s);
}

static void after_turn(struct session *s)
{
	if (s->bus_http) { /* plain requests the router answers (worker/http_ask.c) */
		uplink_after_turn(s);
		http_ask_turn(s);
	}
	/* Write first: bus credit depends on how much is still unsent, and a
	 * buffer drained here would otherwise never release held credit. */
	if (s->phase == PHASE_HTTP)
		http_turn(s);
	write_client(s);
	if (s->phase == PHASE_OPEN) {
		if (s->ws.state == WS_CLOSED || s->client_eof)
			start_linger(s);
		uplink_after_turn(s);
	}
	if (s->phase == PHASE_LINGER && !shut_wr && buf_used(&s->out) == 0) {
		/* We close TCP first (RFC 6455 7.1.1), then read until the peer's FIN
		 * so a late byte cannot turn our close into a reset. */
		shutdown(s->out_fd, SHUT_WR);
		shut_wr = true;
		int64_t fin_wait = clock_ms() + 1000;
		if (fin_wait < s->linger_until)
			s->linger_until = fin_wait;
		/* Unless the peer's close frame came: after it a peer sends nothing
		 * (RFC 6455 5.5.1) and we have read all it sent, so the kernel can
		 * take the rest of TCP's close; waiting for the FIN would cost one
		 * more wake-up per connection and hold the worker meanwhile. */
		if (s->phase == PHASE_LINGER && s->ws.peer_closed)
			s->phase = PHASE_DONE;
	}
	/* a half-closed client may still read what is left for it */
	if (s->phase == PHASE_LINGER && s->client_eof && (buf_used(&s->out) == 0 || shut_wr))
		s->phase = PHASE_DONE;
	if (s->phase == PHASE_HANDSHAKE && s->client_eof) {
		if (buf_used(&s->out) > 0)
			session_linger(s); /* a half-closed client still reads its last answer */
		else
			s->phase = PHASE_DONE; /* gone before finishing its request */
	}
}

static int run(struct session *s)
{
	struct epoll_event evs[8];
	while (s->phase != PHASE_DONE) {
		memtrim_if_due(s);
		int64_t at = next_deadline(s);
		/* A read paused for backpressure whose output drained in after_turn
		 * gets no new edge: the bytes already wait in the socket. Poll, do
		 * not block, so it resumes now, not at the next timer. */
		int n = epoll_pwait(s->ep, evs, 8, read_paused && !must_pause(s) ? 0 : timeout_until(at), &wait_mask);
		if (n < 0 && errno != EINTR)
			return 1;
		bool client_in = false;
		for (int i = 0; i < n; i++) {
			uint32_t e = evs[i].events;
			switch (evs[i].data.u32) {
			case EV_CLIENT_IN:
				if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
					client_in = true;
				if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
					client_hup = true;
				if (e & EPOLLOUT)
					write_client(s);
				break;
			case EV_CLIENT_OUT:
				write_client(s);
				break;
			case EV_BUS:
				uplink_on_event(s, e);
				break;
			}
		}
		if (stop_asked)
			on_signal(s);
		if (at != INT64_MAX && clock_ms() >= at)
			on_timers(s);
		/* Edge-triggered: a read paused for backpressure resumes here. */
		if (client_in || (read_paused && !must_pause(s))) {
			read_paused = false;
			read_client(s);
		}
		after_turn(s);
	}
	if (s->bus_wanted)
		uplink_drain(s, 1000);
	return 0;
}

/* gcc defines __SANITIZE_ADDRESS__; clang answers __has_feature. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SB_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SB_ASAN 1
#endif
static bool built_with_asan(void)
{
#ifdef SB_ASAN
	return true;
#else
	return false;
#endif
}

/* --bus-key -: the supervisor wrote the key on our control socket before it started us. */
static void key_from_supervisor(struct worker_config *cfg)
{
	ssize_t n = cfg->bus_ctl >= 0 ? read(cfg->bus_ctl, cfg->bus_key, sizeof cfg->bus_key) : -1;
	if (n != (ssize_t)sizeof cfg->bus_key) {
		fprintf(stderr, "switchboard-worker: --bus-key - needs the key from the supervisor on --bus-fd\n");
		exit(2);
	}
	cfg->has_bus_key = true;
}

static const char *const metrics_default[] = {"127.0.0.0/8", "::1", NULL};

/* The ranges of an address option (checked when parsed), or def when none is given. */
static void cidr_list(const struct opt_list *l, struct cidr **out, int *n, const char *const *def)
{
	int count = l->n;
	if (count == 0 && def)
		while (def[count])
			count++;
	*n = 0;
	*out = count ? calloc((size_t)count, sizeof **out) : NULL;
	if (count && !*out)
		log_fatal("out of memory");
	for (int i = 0; i < count; i++)
		if (cidr_parse(l->n ? l->v[i] : def[i], &(*out)[*n]) == 0)
			(*n)++;
}

/* Options from the tables (common/core_options.c, each protocol's options.c). */
static void parse_options(int argc, char **argv, struct worker_config *cfg)
{
	struct opt_parse p;
	core_key_reader = bus_key_read;
	int rc = core_options_parse(&p, "switchboard-worker", OPT_WORKER,
				    "usage: switchboard-worker [options]\n"
				    "Serves one WebSocket client on stdin/stdout (inetd, tcpserver, systemd Accept=yes).\n"
				    "Options marked [supervisor] or [router] are not this program's: they are refused.",
				    argc, argv);
	opt_free(&p);
	if (rc >= 0)
		exit(rc);
	const struct core_options *o = &core_opt;
	const char *env = getenv("SWITCHBOARD_ROUTER_URL");
	*cfg = (struct worker_config){
		.router_url = o->router_url ? o->router_url : env ? env : "ipc://var/bus.ipc",
		.max_message = o->max_message,
		.origins = o->origins.v,
		.norigins = o->origins.n,
		.handshake_timeout_ms = o->handshake_timeout_ms,
		.ping_interval_ms = o->ping_interval_ms,
		.ping_timeout_ms = o->ping_timeout_ms,
		.close_timeout_ms = o->close_timeout_ms,
		.client_backlog = o->client_backlog,
		.sandbox = !o->no_sandbox,
		.sandbox_log = o->sandbox_log,
		.proxy_protocol = o->proxy_protocol,
		.has_bus_key = o->has_bus_key,
		.bus_key_from_ctl = o->bus_key_from_ctl,
		.bus_ctl = (int)o->bus_fd,
		.static_dir = o->static_dir,
		.http_router_timeout_ms = o->http_router_timeout_ms,
	};
	cidr_list(&o->metrics_allow, &cfg->metrics_allow, &cfg->nmetrics_allow, metrics_default);
	cidr_list(&o->trust_proxy, &cfg->trusted, &cfg->ntrusted, NULL);
	memcpy(cfg->bus_key, o->bus_key, sizeof cfg->bus_key);
	if (cfg->ping_timeout_ms <= cfg->ping_interval_ms && cfg->ping_interval_ms > 0)
		cfg->ping_timeout_ms = cfg->ping_interval_ms * 2;
	if (cfg->bus_key_from_ctl)
		key_from_supervisor(cfg);
	if (built_with_asan())
		cfg->sandbox = false; /* LeakSanitizer needs ptrace and threads at exit */
}

/* --template first (the supervisor's worker template, worker/template.c):
 * taken off before the options are parsed. */
static bool template_flag(int *argc, char **argv)
{
	if (*argc < 2 || strcmp(argv[1], TEMPLATE_FLAG) != 0)
		return false;
	memmove(&argv[1], &argv[2], (size_t)(*argc - 1) * sizeof *argv); /* with the NULL */
	(*argc)--;
	return true;
}

/* Once per process, before any byte of the request and before the sandbox
 * (proto/proto.h): 0, or the exit status. */
static int setup_once(struct worker_config *cfg, struct session *s)
{
	if (http_setup(cfg) < 0)
		return 1;
	if (sp_addr_parse(cfg->router_url, &s->bus_addr) < 0) {
		log_error("bad --router-url %s", cfg->router_url);
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	log_init("switchboard-worker");
	/* big message buffers come from mmap and go back when freed */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	bool is_template = template_flag(&argc, argv);
	struct worker_config cfg;
	parse_options(argc, argv, &cfg);
	struct session s = {.cfg = &cfg, .in_fd = 0, .out_fd = 1, .phase = PHASE_HANDSHAKE};
	s.bus.fd = -1;
	s.file.fd = -1;
	int setup_rc = 0;
	if (is_template) {
		if (cfg.bus_ctl < 0)
			log_fatal("--template needs --bus-fd");
		if ((setup_rc = setup_once(&cfg, &s)) != 0)
			return setup_rc;
		/* returns in each child, a worker from here on */
		template_run(cfg.bus_ctl, cfg.sandbox, cfg.sandbox_log);
	}
	session_identify(&s);
	if (!is_template && (setup_rc = setup_once(&cfg, &s)) != 0)
		return setup_rc;
	setup_fds(&s);
	memtrim_scratch(chunk, sizeof chunk);
	s.handshake_deadline = clock_ms() + cfg.handshake_timeout_ms;
	int rc = run(&s);
	session_log_close(&s);
	if (s.proto && s.proto->close && s.state)
		s.proto->close(&s);
	/* Nothing else is left to say to anyone: the kernel frees the rest at
	 * once. exit() would run the C library's handlers and destructors and
	 * free() every buffer, touching pages the fork shared with the template,
	 * each one copied just to be thrown away (a tenth of a forked worker's
	 * time). Only LeakSanitizer wants the buffers freed. */
	if (!built_with_asan())
		_exit(rc);
	static_close(&s.file);
	ws_conn_free(&s.ws);
	sp_conn_free(&s.bus);
	if (s.bus_wanted)
		mp_out_free(&s.batch);
	buf_free(&s.out);
	buf_free(&s.head);
	free(s.state);
	free(core_opt.origins.v);
	free((void *)cfg.trusted);
	free(core_opt.metrics_allow.v);
	free(cfg.metrics_allow);
	return rc;
}
