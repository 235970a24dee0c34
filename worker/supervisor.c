/*
 * switchboard: the supervisor. Listens (or takes systemd's sockets), starts
 * one switchboard-worker per connection with the socket on fd 0/1 (forked by
 * the worker template, worker/supervisor_template.c, or spawned), caps the
 * number of live workers, runs and restarts the embedded router, and on
 * SIGTERM stops accepting, lets workers close with 1001, and exits.
 * Its options, listeners and users are set up in worker/supervisor_setup.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/bus.h"
#include "../common/clock.h"
#include "../common/core_options.h"
#include "../common/hmap.h"
#include "../common/log.h"
#include "../common/ready.h"
#include "peers.h"
#include "../common/busauth.h"
#include "bus_hand.h"
#include "supervisor.h"
#include "supervisor_stats.h"

#ifndef SWITCHBOARD_VERSION
#define SWITCHBOARD_VERSION "0.1.0"
#endif

#define ACCEPT_REST_MS 100
#define ROUTER_EARLY_MS 10000 /* a router that fails sooner is not restarted (router_ended) */

extern char **environ;

struct supervisor S;

void die(const char *what)
{
	log_fatal("%s: %s", what, strerror(errno));
}

/* ---- children ---- */
struct identity router_id, worker_id;

/* In the child between vfork and exec: raw system calls only. */
static void child_fail(const char *path, const char *what)
{
	const char *e = strerror(errno);
	struct iovec v[] = {{(void *)"switchboard: ", 13}, {(void *)what, strlen(what)}, {(void *)" ", 1},
			    {(void *)path, strlen(path)}, {(void *)": ", 2}, {(void *)e, strlen(e)}, {(void *)"\n", 1}};
	ssize_t w = writev(STDERR_FILENO, v, 7);
	(void)w;
	_exit(127);
}

/*
 * vfork, as posix_spawn does, not fork: no copy of the supervisor's page
 * tables per connection (fork halved the rate of new connections). The child
 * shares our memory until it execs, so it changes nothing but its own task:
 * credentials by raw system calls (glibc's setuid would signal our threads'
 * bookkeeping), its descriptors, signal mask and umask.
 */
pid_t supervisor_spawn(const char *path, const char **argv, int conn, int ctl, const struct identity *id)
{
	sigset_t none;
	sigemptyset(&none);
	pid_t pid = vfork();
	if (pid != 0)
		return pid;
	if (id->drop && (syscall(SYS_setgroups, 0, NULL) < 0 || syscall(SYS_setresgid, id->gid, id->gid, id->gid) < 0 ||
			 syscall(SYS_setresuid, id->uid, id->uid, id->uid) < 0))
		child_fail(path, "cannot drop privileges for");
	if (conn >= 0 && (dup2(conn, 0) < 0 || dup2(conn, 1) < 0))
		child_fail(path, "cannot set up");
	/* the bus control socket on BUS_HAND_FD, without close-on-exec */
	if (ctl >= 0 && (ctl == BUS_HAND_FD ? fcntl(ctl, F_SETFD, 0) : dup2(ctl, BUS_HAND_FD)) < 0)
		child_fail(path, "cannot set up");
	/* a worker (and the template, whose children would inherit it) gets 0-3
	 * alone, not what the supervisor's starter left open without close-on-exec */
	if (id == &worker_id)
		syscall(SYS_close_range, BUS_HAND_FD + 1, ~0u, 0);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* the router's store, tap and keys are its own (bus.ipc is set to 0660) */
	if (id == &router_id)
		umask(077);
	execve(path, (char *const *)argv, environ);
	child_fail(path, "cannot run");
	return -1;
}

/* Once: READY=1 for systemd, a newline for s6 (common/ready.c). */
static void serving(void)
{
	if (S.ready)
		return;
	S.ready = true;
	ready_notify((int)core_opt.ready_fd);
}

static void router_ready_close(void)
{
	if (S.router_ready_fd < 0)
		return;
	epoll_ctl(S.ep, EPOLL_CTL_DEL, S.router_ready_fd, NULL);
	close(S.router_ready_fd);
	S.router_ready_fd = -1;
}

/* The router's --ready-fd pipe: a newline once its bus listens (then the
 * supervisor serves), or the end of it if the router died first. */
static void on_router_ready(void)
{
	char c;
	ssize_t n = read(S.router_ready_fd, &c, 1);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n == 1) {
		log_info("router ready (pid %d)", (int)S.router_pid);
		serving();
	}
	router_ready_close();
}

static void start_router(void)
{
	S.router_restart_at = 0;
	router_ready_close();
	/* the router's fd 3 (its --ready-fd, in build_argv) is this pipe's end */
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0) {
		log_error("cannot start the router: pipe: %s", strerror(errno));
		S.router_restart_at = clock_ms() + S.router_backoff_ms;
		return;
	}
	S.router_pid = supervisor_spawn(S.router_path, S.router_argv, -1, pipefd[1], &router_id);
	close(pipefd[1]);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)pipefd[0]};
	if (S.router_pid > 0 && epoll_ctl(S.ep, EPOLL_CTL_ADD, pipefd[0], &ev) == 0) {
		S.router_ready_fd = pipefd[0];
	} else {
		close(pipefd[0]);
		serving(); /* cannot watch it: say we serve rather than never */
	}
	if (S.router_pid < 0) {
		log_error("cannot start %s: %s", S.router_path, strerror(errno));
		S.router_restart_at = clock_ms() + S.router_backoff_ms;
		return;
	}
	S.router_started = clock_ms();
	log_info("router started (pid %d)", (int)S.router_pid);
}

static void refuse(int fd, const char *status, const char *body)
{
	char resp[256];
	int n = snprintf(resp, sizeof resp,
			 "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\nRetry-After: 5\r\n\r\n%s",
			 status, strlen(body), body);
	/* best effort: the client may be gone, and it is closed either way */
	if (write(fd, resp, (size_t)n) < 0)
		log_debug("refusal not written: %s", strerror(errno));
	close(fd);
}

static void listeners_watch(bool on)
{
	for (int i = 0; i < S.nlfd; i++) {
		struct epoll_event ev = {.events = on ? EPOLLIN : 0, .data.u64 = (uint64_t)S.lfd[i]};
		epoll_ctl(S.ep, EPOLL_CTL_MOD, S.lfd[i], &ev);
	}
}

/*
 * Out of descriptors or buffers: the connection stays in the kernel's
 * backlog and a level-triggered listener would wake us again at once, so
 * the listeners rest for a moment (as the router's bus listener does).
 */
static void pause_accepting(void)
{
	int64_t now = clock_ms();
	if (now - S.accept_warned_at >= 10000) { /* one line per episode, not ten a second */
		log_warn("accept: %s; not accepting for %d ms at a time", strerror(errno), ACCEPT_REST_MS);
		S.accept_warned_at = now;
	}
	listeners_watch(false);
	S.accept_paused_until = now + ACCEPT_REST_MS;
}

/*
 * A flood of refused connections must not become a flood of log lines: at
 * most one a second, with the count of those not logged since.
 */
static bool refusal_logged(void)
{
	static int64_t last;
	static unsigned long quiet;
	int64_t now = clock_ms();
	if (last && now - last < 1000) {
		quiet++;
		return false;
	}
	if (quiet)
		log_warn("%lu more connections refused in the last %lld ms", quiet, (long long)(now - last));
	last = now;
	quiet = 0;
	return true;
}

/* Checks the caps; false when fd was refused (and closed). */
static bool admit(int fd, struct peer_key *k)
{
	char who[80]; /* formatted only for a refusal: most connections are let in */
	if (S.live >= S.max_connections) {
		peer_key_format(k, who, sizeof who);
		struct log_kv kv[] = {{"status", "503"}, {"reason", "too many connections"}, {"peer", who}};
		if (refusal_logged())
			log_event(LOG_WARN, kv, 3, "at --max-connections %d: refusing with 503", S.max_connections);
		refuse(fd, "503 Service Unavailable", "too many connections\n");
		sup_stats_refused(BY_SUPERVISOR, 503);
		return false;
	}
	if (!peers_take(&S.per_ip, k, S.max_per_ip)) {
		peer_key_format(k, who, sizeof who);
		struct log_kv kv[] = {{"status", "429"}, {"reason", "too many connections from one address"},
				      {"peer", who}};
		if (refusal_logged())
			log_event(LOG_WARN, kv, 3, "%s is at --max-per-ip %d: refusing with 429", who, S.max_per_ip);
		refuse(fd, "429 Too Many Requests", "too many connections from your address\n");
		sup_stats_refused(BY_SUPERVISOR, 429);
		return false;
	}
	return true;
}

bool worker_register(struct worker *w)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = EV_WORKER_CTL | (uint32_t)w->pid};
	if (epoll_ctl(S.ep, EPOLL_CTL_ADD, w->bus.ctl, &ev) < 0)
		return false;
	if (hmap_put_u64(&S.workers, (uint64_t)w->pid, w) < 0) {
		epoll_ctl(S.ep, EPOLL_CTL_DEL, w->bus.ctl, NULL);
		return false;
	}
	return true;
}

void worker_drop(struct worker *w)
{
	peers_release(&S.per_ip, &w->peer);
	bus_hand_close(&w->bus);
	if (w->conn >= 0)
		close(w->conn);
	free(w);
	S.live--;
}

bool worker_spawn(struct worker *w, int conn)
{
	int child = -1;
	w->forked = false;
	if (bus_hand_open(&w->bus, &child) < 0) {
		log_error("cannot start a worker: %s", strerror(errno));
		return false;
	}
	/* the worker reads this before its sandbox (--bus-key -); the socketpair's
	 * buffer holds it until then */
	if (S.bus_key && write(w->bus.ctl, S.key, sizeof S.key) != (ssize_t)sizeof S.key) {
		log_error("cannot give a worker the bus key: %s", strerror(errno));
		bus_hand_close(&w->bus);
		close(child);
		return false;
	}
	w->pid = supervisor_spawn(S.worker_path, S.worker_argv, conn, child, &worker_id);
	close(child);
	if (w->pid < 0 || !worker_register(w)) {
		log_error("cannot start a worker: %s", strerror(errno));
		bus_hand_close(&w->bus);
		if (w->pid > 0)
			kill(w->pid, SIGKILL); /* reaped as an unknown child */
		return false;
	}
	return true;
}

/*
 * A worker for the connection fd (closed here, or kept by the template
 * request until its answer): forked by the template when it runs and takes
 * the request, else spawned. The slot (S.live, the address's count) is
 * taken here and given back by worker_drop or worker_ended.
 */
static void start_worker(int fd, const struct peer_key *k)
{
	struct worker *w = calloc(1, sizeof *w);
	if (!w) {
		log_error("cannot start a worker: %s", strerror(errno));
		peers_release(&S.per_ip, k);
		close(fd);
		return;
	}
	w->peer = *k;
	w->conn = w->bus.ctl = w->bus.handed = -1;
	S.live++;
	if (template_give(w, fd))
		return;
	bool ok = worker_spawn(w, fd);
	close(fd);
	if (!ok)
		worker_drop(w);
}

/* A worker asks for a bus connection, or has gone (its end closed). */
static void on_worker_ctl(pid_t pid)
{
	struct worker *w = hmap_get_u64(&S.workers, (uint64_t)pid);
	if (w && w->bus.ctl >= 0 && bus_hand_serve(&w->bus) < 0)
		bus_hand_close(&w->bus);
}

static void accept_all(int lfd)
{
	for (;;) {
		struct sockaddr_storage sa;
		socklen_t salen = sizeof sa;
		int fd = accept4(lfd, (struct sockaddr *)&sa, &salen, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				pause_accepting();
			return;
		}
		sup_stats_accepted();
		struct peer_key k;
		peer_key_of(&sa, salen, &k);
		if (admit(fd, &k))
			start_worker(fd, &k);
	}
}

static void begin_stop(void);

/*
 * A router that exits with status 0 did what it was asked and ended (e.g.
 * --store-stats); one that exits with 1 or 2 (the operator's error: a bad
 * option or file) within its first seconds would only fail again. Either
 * way restarting it would loop, so the supervisor stops with that status.
 */
static bool router_ended(int status)
{
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	if (code != 0 && !((code == 1 || code == 2) && clock_ms() - S.router_started < ROUTER_EARLY_MS))
		return false;
	if (code == 0)
		log_info("router ended (status 0): stopping");
	else
		log_error("router refused to start (status %d, see above): stopping", code);
	S.exit_status = code;
	begin_stop();
	return true;
}

static void reap(void)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == S.router_pid) {
			S.router_pid = 0;
			if (S.stopping || router_ended(status))
				continue;
			if (clock_ms() - S.router_started > ROUTER_EARLY_MS)
				S.router_backoff_ms = 100;
			log_error("router exited (%s %d); restarting in %d ms",
				  WIFSIGNALED(status) ? "signal" : "status",
				  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), S.router_backoff_ms);
			S.router_restart_at = clock_ms() + S.router_backoff_ms;
			sup_stats_router_restart();
			S.router_backoff_ms = S.router_backoff_ms * 2 > 5000 ? 5000 : S.router_backoff_ms * 2;
		} else if (pid == T.pid) {
			template_ended(status);
		} else {
			worker_ended(pid, status);
		}
	}
}

/* A worker ended: reaped by us, or by the template (its 'x'). */
void worker_ended(pid_t pid, int status)
{
	struct worker *w = hmap_del_u64(&S.workers, (uint64_t)pid);
	if (!w)
		return;
	worker_drop(w); /* closing its control socket takes it out of epoll */
	if (WIFSIGNALED(status))
		log_warn("worker %d killed by signal %d", (int)pid, WTERMSIG(status));
}

static void signal_worker(void *arg, const void *key, size_t klen, void *value)
{
	(void)klen;
	(void)value;
	uint64_t pid;
	memcpy(&pid, key, sizeof pid);
	kill((pid_t)pid, *(int *)arg);
}

static void begin_stop(void)
{
	if (S.stopping)
		return;
	S.stopping = true;
	log_info("stopping: %d connections to close", S.live);
	for (int i = 0; i < S.nlfd; i++)
		close(S.lfd[i]);
	S.nlfd = 0;
	int sig = SIGTERM;
	hmap_each(&S.workers, signal_worker, &sig);
	template_stop(SIGTERM);
	S.stop_deadline = clock_ms() + S.close_timeout_ms + 2000;
}

static void finish_stop(void)
{
	int sig = SIGKILL;
	hmap_each(&S.workers, signal_worker, &sig);
	template_stop(SIGKILL);
	if (S.router_pid > 0) {
		kill(S.router_pid, SIGTERM);
		int i = 0;
		while (i < 300 && waitpid(S.router_pid, NULL, WNOHANG) == 0) {
			usleep(10000);
			i++;
		}
		/* a router that did not stop in 3 s is not left running on its own,
		 * holding the bus socket and the store */
		if (i == 300) {
			log_warn("the router (pid %d) did not stop within 3 s of SIGTERM; killing it", (int)S.router_pid);
			kill(S.router_pid, SIGKILL);
			waitpid(S.router_pid, NULL, 0);
		}
	}
	sup_stats_remove();
	log_info("stopped");
	exit(S.exit_status);
}

/* ---- loop ---- */

/* The deadline the timer holds: re-armed only when it changes (not once per
 * event, i.e. twice per connection), or after it fired. */
static int64_t timer_at = -1;

static void arm_timer(void)
{
	int64_t at = INT64_MAX;
	if (S.router_restart_at)
		at = S.router_restart_at;
	if (S.stopping && S.stop_deadline < at)
		at = S.stop_deadline;
	if (S.accept_paused_until && S.accept_paused_until < at)
		at = S.accept_paused_until;
	if (sup_stats_due() && sup_stats_due() < at)
		at = sup_stats_due();
	if (T.restart_at && !S.stopping && T.restart_at < at)
		at = T.restart_at;
	if (at != timer_at)
		clock_arm_timerfd(S.timer_fd, at);
	timer_at = at;
}

static void run(void)
{
	for (;;) {
		if (S.stopping && (S.live == 0 || clock_ms() >= S.stop_deadline))
			finish_stop();
		sup_stats_tick(clock_ms());
		arm_timer();
		struct epoll_event evs[16];
		int n = epoll_wait(S.ep, evs, 16, -1);
		for (int i = 0; i < n; i++) {
			uint64_t data = evs[i].data.u64;
			int tag = (int)data;
			if (data & EV_WORKER_CTL) {
				on_worker_ctl((pid_t)(uint32_t)data);
			} else if (data & EV_TEMPLATE) {
				template_on_event();
			} else if (tag == S.sig_fd) {
				struct signalfd_siginfo si;
				while (read(S.sig_fd, &si, sizeof si) == sizeof si) {
					if (si.ssi_signo == SIGCHLD)
						reap();
					else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
						begin_stop();
				}
			} else if (tag == S.router_ready_fd) {
				on_router_ready();
			} else if (tag == S.timer_fd) {
				uint64_t t;
				ssize_t r = read(S.timer_fd, &t, sizeof t);
				(void)r;
				timer_at = -1;
				if (S.router_restart_at && clock_ms() >= S.router_restart_at && !S.stopping)
					start_router();
				if (T.restart_at && clock_ms() >= T.restart_at && !S.stopping)
					template_start();
				if (S.accept_paused_until && clock_ms() >= S.accept_paused_until && !S.stopping) {
					S.accept_paused_until = 0;
					listeners_watch(true);
				}
			} else if (!S.stopping) {
				accept_all(tag);
			}
		}
	}
}

int main(int argc, char **argv)
{
	log_init("switchboard");
	ready_init();
	supervisor_options(argc, argv);
	if (mkdir(S.state_dir, 0750) < 0 && errno != EEXIST)
		die(S.state_dir);
	if (supervisor_listen() < 0)
		return 1;
	supervisor_choose_users();
	if (bus_hand_setup(S.router_url) < 0) {
		log_error("bad --router-url %s", S.router_url);
		return 2;
	}
	supervisor_raise_fd_limit();
	supervisor_tune_children();
	if (hmap_init(&S.workers) < 0 || hmap_init(&S.per_ip) < 0)
		die("hmap_init");
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	S.sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	S.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	S.ep = epoll_create1(EPOLL_CLOEXEC);
	if (S.sig_fd < 0 || S.timer_fd < 0 || S.ep < 0)
		die("setting up the loop");
	/* tags are read as u64 (EV_WORKER_CTL | pid): set all of it, never only .fd */
	struct epoll_event ev = {.events = EPOLLIN};
	ev.data.u64 = (uint64_t)S.sig_fd;
	epoll_ctl(S.ep, EPOLL_CTL_ADD, S.sig_fd, &ev);
	ev.data.u64 = (uint64_t)S.timer_fd;
	epoll_ctl(S.ep, EPOLL_CTL_ADD, S.timer_fd, &ev);
	for (int i = 0; i < S.nlfd; i++) {
		ev.data.u64 = (uint64_t)S.lfd[i];
		epoll_ctl(S.ep, EPOLL_CTL_ADD, S.lfd[i], &ev);
	}
	S.router_backoff_ms = 100;
	S.router_ready_fd = -1;
	bus_hand_on_refusal = supervisor_worker_refused;
	/* orphans of the template (when it dies) come to us, to be reaped */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		log_warn("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	template_init(core_opt.no_worker_template);
	template_start();
	/* ready once the listeners are up and the router's bus listens (a
	 * router elsewhere, --no-router: at once) */
	if (S.embedded_router)
		start_router();
	else
		serving();
	run();
	return 0;
}
