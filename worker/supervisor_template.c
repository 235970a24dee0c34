/*
 * The supervisor's side of the worker template (worker/template.h has the
 * messages): starts `switchboard-worker --template` once, as the workers'
 * user, hands it each accepted connection with a fresh bus control socket,
 * and learns the child's pid ('p') and, later, how it ended ('x': the
 * template is the parent and reaps it). An exec per connection was most of
 * a connection's cost (the C library's start-up, libsodium's, the options);
 * a fork of the set-up template is a fraction of it.
 *
 * The template is never in the way of a connection:
 * - not running (starting, restarting after a crash with backoff, or turned
 *   off by --no-worker-template), TEMPLATE_PENDING requests in flight or
 *   waiting, or none answered for TEMPLATE_STALL_MS: the worker is spawned
 *   the old way; its socket full: the request waits for room (send_waiting);
 * - its fork fails ('n'): the connection, which we keep until the answer,
 *   gets a spawned worker;
 * - it dies: the answers already written are still read; connections it
 *   had not answered are closed (a child may have them: two workers on one
 *   client would be worse). Its live children are reparented to us (we are
 *   a child subreaper) and reaped as any worker; a child whose 'x' was lost
 *   with the template is found gone by kill(pid, 0).
 * - the worker program refuses --template (exit 1 or 2 within its first
 *   seconds: an older or foreign --worker program, or a set-up that fails):
 *   the template is turned off for good and every worker is spawned.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/log.h"
#include "supervisor.h"
#include "template.h"

#define TEMPLATE_EARLY_MS 10000
/* Requests unanswered this long: the template is stuck (stopped, say), and
 * new connections are spawned rather than queued behind it. */
#define TEMPLATE_STALL_MS 1000

struct template_state T;

void template_init(bool off)
{
	T.fd = -1;
	T.backoff_ms = 100;
	T.off = off;
	if (off)
		log_info("--no-worker-template: a worker is spawned per connection");
}

static void close_fd(void)
{
	if (T.fd >= 0)
		close(T.fd); /* out of epoll with it */
	T.fd = -1;
	T.watch_out = false;
}

/* The request at the head of the queue is answered: it leaves the queue.
 * Only sent requests are answered, and they are the oldest. */
static struct worker *pop(void)
{
	if (T.nsent == 0)
		return NULL;
	struct worker *w = T.pending[T.head];
	T.head = (T.head + 1) % TEMPLATE_PENDING;
	T.npending--;
	T.nsent--;
	T.heard_at = clock_ms();
	return w;
}

/* The oldest request not sent yet leaves the queue (the ones behind it move up). */
static struct worker *take_unsent(void)
{
	if (T.nsent == T.npending)
		return NULL;
	struct worker *w = T.pending[(T.head + T.nsent) % TEMPLATE_PENDING];
	for (int i = T.nsent; i + 1 < T.npending; i++)
		T.pending[(T.head + i) % TEMPLATE_PENDING] = T.pending[(T.head + i + 1) % TEMPLATE_PENDING];
	T.npending--;
	return w;
}

/* A connection the template will not fork for: spawned, or closed when we stop. */
static void spawn_instead(struct worker *w)
{
	int conn = w->conn;
	w->conn = -1;
	w->forked = false;
	bool ok = !S.stopping && worker_spawn(w, conn);
	close(conn);
	if (!ok)
		worker_drop(w);
}

void template_start(void)
{
	T.restart_at = 0;
	if (T.off || T.pid > 0 || S.stopping)
		return;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
	    fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0) {
		log_error("cannot start the worker template: %s", strerror(errno));
		T.restart_at = clock_ms() + T.backoff_ms;
		return;
	}
	/* --bus-key -: the template reads it, as a worker does, before anything else */
	bool ok = !S.bus_key || write(sv[0], S.key, sizeof S.key) == (ssize_t)sizeof S.key;
	pid_t pid = ok ? supervisor_spawn(S.worker_path, S.template_argv, -1, sv[1], &worker_id) : -1;
	close(sv[1]);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = EV_TEMPLATE};
	if (pid < 0 || epoll_ctl(S.ep, EPOLL_CTL_ADD, sv[0], &ev) < 0) {
		log_error("cannot start the worker template: %s", strerror(errno));
		close(sv[0]);
		if (pid > 0)
			kill(pid, SIGKILL); /* reaped as an unknown child */
		T.restart_at = clock_ms() + T.backoff_ms;
		return;
	}
	T.pid = pid;
	T.fd = sv[0];
	T.started = clock_ms();
	log_info("worker template started (pid %d)", (int)pid);
}

/* 1: sent; 0: the template's queue is full (EAGAIN); -1: failed. */
static int send_request(struct worker *w)
{
	int child;
	if (bus_hand_open(&w->bus, &child) < 0)
		return -1;
	int fds[2] = {w->conn, child};
	char c = 'c';
	struct iovec iov = {&c, 1};
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof fds)];
	} cm;
	memset(&cm, 0, sizeof cm);
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof cm.b};
	struct cmsghdr *h = CMSG_FIRSTHDR(&msg);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof fds);
	memcpy(CMSG_DATA(h), fds, sizeof fds);
	ssize_t n = sendmsg(T.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	int err = errno;
	close(child); /* the template has its own copy now, or none */
	if (n == 1)
		return 1;
	bus_hand_close(&w->bus);
	if (err == EAGAIN)
		return 0;
	log_warn("worker template: %s", strerror(err));
	return -1;
}

/* EPOLLOUT on the template's socket while requests wait for room. */
static void watch_out(bool want)
{
	if (want == T.watch_out || T.fd < 0)
		return;
	struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.u64 = EV_TEMPLATE};
	if (epoll_ctl(S.ep, EPOLL_CTL_MOD, T.fd, &ev) == 0)
		T.watch_out = want;
}

/*
 * Sends the requests that wait, oldest first. The template's socket holds
 * what its send buffer holds (a request with its two descriptors counts
 * the better part of a kilobyte): in a burst of new connections the rest
 * wait here for room rather than be spawned, which costs the supervisor an
 * exec each and the connection more time.
 */
static void send_waiting(void)
{
	while (T.fd >= 0 && T.nsent < T.npending) {
		struct worker *w = T.pending[(T.head + T.nsent) % TEMPLATE_PENDING];
		int r = send_request(w);
		if (r == 0)
			break;
		if (r < 0) {
			spawn_instead(take_unsent());
			continue;
		}
		if (T.nsent++ == 0)
			T.heard_at = clock_ms();
	}
	watch_out(T.fd >= 0 && T.nsent < T.npending);
}

bool template_give(struct worker *w, int conn)
{
	if (T.fd >= 0 && T.nsent > 0 && clock_ms() - T.heard_at > TEMPLATE_STALL_MS) {
		for (struct worker *u; (u = take_unsent());)
			spawn_instead(u); /* stuck: those waiting for room are spawned too */
		watch_out(false);
		return false;
	}
	if (T.fd < 0 || T.npending >= TEMPLATE_PENDING)
		return false;
	w->conn = conn;
	w->forked = true;
	T.pending[(T.head + T.npending) % TEMPLATE_PENDING] = w;
	T.npending++;
	send_waiting();
	return true;
}

/* 'p': the child runs; it is tracked as any worker from here on. */
static void on_started(pid_t pid)
{
	struct worker *w = pop();
	if (!w) {
		log_error("worker template: a child (pid %d) nobody asked for", (int)pid);
		return;
	}
	close(w->conn);
	w->conn = -1;
	w->pid = pid;
	if (!worker_register(w)) {
		log_error("cannot watch worker %d: %s", (int)pid, strerror(errno));
		kill(pid, SIGKILL); /* its 'x' finds nothing */
		worker_drop(w);
	}
}

/* 'n': the template could not fork; this connection is spawned. */
static void on_failed(int err)
{
	struct worker *w = pop();
	if (!w)
		return;
	log_warn("worker template: fork: %s; spawning the worker", strerror(err));
	bus_hand_close(&w->bus);
	spawn_instead(w);
}

/* Reads what the template said; false once it hung up. */
static bool read_messages(void)
{
	while (T.fd >= 0) {
		struct template_msg m;
		ssize_t r = recv(T.fd, &m, sizeof m, MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return true;
		if (r != (ssize_t)sizeof m)
			return false;
		if (m.type == 'p')
			on_started(m.pid);
		else if (m.type == 'n')
			on_failed(m.value);
		else if (m.type == 'x')
			worker_ended(m.pid, m.value);
	}
	return false;
}

void template_on_event(void)
{
	if (!read_messages())
		close_fd(); /* it is gone: template_ended follows with its status */
	send_waiting(); /* answers read, or EPOLLOUT: there may be room */
}

/* Children of the dead template whose end it reaped but never told. */
static void find_gone(void *arg, const void *key, size_t klen, void *value)
{
	(void)key;
	(void)klen;
	struct worker *w = value;
	pid_t *gone = arg;
	if (w->forked && kill(w->pid, 0) < 0 && errno == ESRCH && gone[0] < TEMPLATE_PENDING)
		gone[++gone[0]] = w->pid;
}

void template_ended(int status)
{
	read_messages(); /* the answers it wrote before it died */
	close_fd();
	T.pid = 0;
	int lost = T.nsent;
	for (struct worker *w; (w = pop());)
		worker_drop(w);
	for (struct worker *w; (w = take_unsent());)
		spawn_instead(w); /* never sent: no child of its can have them */
	pid_t gone[TEMPLATE_PENDING + 1] = {0};
	hmap_each(&S.workers, find_gone, gone);
	for (int i = 1; i <= gone[0]; i++)
		worker_ended(gone[i], 0);
	if (S.stopping)
		return;
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	if ((code == 1 || code == 2) && clock_ms() - T.started < TEMPLATE_EARLY_MS) {
		log_error("the worker template exited with status %d at start (see above): "
			  "spawning a worker per connection from now on", code);
		T.off = true;
		return;
	}
	if (clock_ms() - T.started > TEMPLATE_EARLY_MS)
		T.backoff_ms = 100;
	log_error("worker template exited (%s %d), %d connections in hand closed; restarting in %d ms, "
		  "spawning workers meanwhile",
		  WIFSIGNALED(status) ? "signal" : "status", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
		  lost, T.backoff_ms);
	T.restart_at = clock_ms() + T.backoff_ms;
	T.backoff_ms = T.backoff_ms * 2 > 5000 ? 5000 : T.backoff_ms * 2;
}

void template_stop(int sig)
{
	if (T.pid > 0)
		kill(T.pid, sig);
}
