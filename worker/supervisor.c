/*
 * switchboard: the supervisor. Listens (or takes systemd's sockets), spawns
 * one switchboard-worker per connection with the socket on fd 0/1, caps the
 * number of live workers, runs and restarts the embedded router, and on
 * SIGTERM stops accepting, lets workers close with 1001, and exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
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
#include "peers.h"
#include "../common/busauth.h"
#include "bus_hand.h"

#ifndef SWITCHBOARD_VERSION
#define SWITCHBOARD_VERSION "0.1.0"
#endif

#define MAX_LISTEN 16
#define MAX_ARGS 64
#define ACCEPT_REST_MS 100

extern char **environ;

struct supervisor {
	const char *listen[MAX_LISTEN];
	int nlisten;
	int lfd[MAX_LISTEN];
	int nlfd;
	const char *state_dir;
	const char *router_url;
	bool embedded_router;
	int max_connections;
	int max_per_ip; /* live connections per source address (/64 for IPv6); 0: no cap */
	const char *user, *worker_user;
	const char *bus_key; /* --bus-key FILE, read by the router and by us for the workers */
	uint8_t key[BUS_KEY_LEN];
	char worker_path[PATH_MAX], router_path[PATH_MAX];
	const char *worker_argv[MAX_ARGS];
	int worker_argc;
	const char *router_argv[MAX_ARGS];
	int router_argc;
	int close_timeout_ms;

	int ep, sig_fd, timer_fd;
	struct hmap workers; /* pid → struct worker */
	struct hmap per_ip;  /* peer_key → live count */
	int live;
	int64_t accept_paused_until; /* out of descriptors: listeners rest until then */
	int64_t accept_warned_at;
	pid_t router_pid;
	int64_t router_started, router_restart_at;
	int router_backoff_ms;
	bool stopping;
	int64_t stop_deadline;
};

static struct supervisor S;

/* A live worker: its pid and its bus control socket. */
struct worker {
	pid_t pid;
	struct bus_hand bus;
	struct peer_key peer; /* its client's address, for --max-per-ip */
};

/* epoll tags: the listening, signal and timer fds by number; a worker's
 * control socket as EV_WORKER_CTL | pid */
#define EV_WORKER_CTL (1ull << 40)

static void die(const char *what)
{
	log_fatal("%s: %s", what, strerror(errno));
}

/* ---- listening ---- */

static int listen_on(const char *spec)
{
	char host[256];
	const char *port;
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');
		if (!close || close[1] != ':' || (size_t)(close - spec - 1) >= sizeof host)
			return -1;
		memcpy(host, spec + 1, (size_t)(close - spec - 1));
		host[close - spec - 1] = 0;
		port = close + 2;
	} else {
		const char *colon = strrchr(spec, ':');
		if (!colon || (size_t)(colon - spec) >= sizeof host)
			return -1;
		memcpy(host, spec, (size_t)(colon - spec));
		host[colon - spec] = 0;
		port = colon + 1;
	}
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *res;
	if (getaddrinfo(host[0] ? host : NULL, port, &hints, &res) != 0)
		return -1;
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (res->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
		if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	return fd;
}

/* systemd socket activation (Accept=no): LISTEN_FDS sockets from fd 3 on. */
static int take_systemd_sockets(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	if (!pid || !fds || atoi(pid) != getpid())
		return 0;
	int n = atoi(fds);
	for (int i = 0; i < n && S.nlfd < MAX_LISTEN; i++) {
		int fd = 3 + i;
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		S.lfd[S.nlfd++] = fd;
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return n;
}

/* ---- children ---- */

/* Who a child runs as: started as root, the router and the workers each drop
 * to their own user between vfork and exec, so neither ever runs a line of
 * its own code with more than that. */
struct identity {
	bool drop;
	uid_t uid;
	gid_t gid;
};

static struct identity router_id, worker_id;

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
static pid_t spawn(const char *path, const char **argv, int conn, int ctl, const struct identity *id)
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
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* the router's store, tap and keys are its own (bus.ipc is set to 0660) */
	if (id == &router_id)
		umask(077);
	execve(path, (char *const *)argv, environ);
	child_fail(path, "cannot run");
	return -1;
}

static void start_router(void)
{
	S.router_restart_at = 0;
	S.router_pid = spawn(S.router_path, S.router_argv, -1, -1, &router_id);
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
	if (S.live >= S.max_connections) {
		if (refusal_logged())
			log_warn("at --max-connections %d: refusing with 503", S.max_connections);
		refuse(fd, "503 Service Unavailable", "too many connections\n");
		return false;
	}
	if (!peers_take(&S.per_ip, k, S.max_per_ip)) {
		char who[80];
		peer_key_format(k, who, sizeof who);
		if (refusal_logged())
			log_warn("%s is at --max-per-ip %d: refusing with 429", who, S.max_per_ip);
		refuse(fd, "429 Too Many Requests", "too many connections from your address\n");
		return false;
	}
	return true;
}

/* false when it could not start (the caller gives the address slot back) */
static bool start_worker(int fd, const struct peer_key *k)
{
	struct worker *w = calloc(1, sizeof *w);
	int child = -1;
	if (!w || bus_hand_open(&w->bus, &child) < 0) {
		log_error("cannot start a worker: %s", strerror(errno));
		free(w);
		return false;
	}
	w->peer = *k;
	/* the worker reads this before its sandbox (--bus-key -); the socketpair's
	 * buffer holds it until then */
	if (S.bus_key && write(w->bus.ctl, S.key, sizeof S.key) != (ssize_t)sizeof S.key) {
		log_error("cannot give a worker the bus key: %s", strerror(errno));
		bus_hand_close(&w->bus);
		close(child);
		free(w);
		return false;
	}
	w->pid = spawn(S.worker_path, S.worker_argv, fd, child, &worker_id);
	close(child);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = EV_WORKER_CTL | (uint32_t)w->pid};
	if (w->pid < 0 || epoll_ctl(S.ep, EPOLL_CTL_ADD, w->bus.ctl, &ev) < 0 ||
	    hmap_put_u64(&S.workers, (uint64_t)w->pid, w) < 0) {
		log_error("cannot start a worker: %s", strerror(errno));
		bus_hand_close(&w->bus);
		if (w->pid > 0)
			kill(w->pid, SIGKILL); /* reaped as an unknown child */
		free(w);
		return false;
	}
	S.live++;
	return true;
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
		struct peer_key k;
		peer_key_of(&sa, salen, &k);
		if (!admit(fd, &k))
			continue;
		if (!start_worker(fd, &k))
			peers_release(&S.per_ip, &k);
		close(fd);
	}
}

static void reap(void)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == S.router_pid) {
			S.router_pid = 0;
			if (S.stopping)
				continue;
			if (clock_ms() - S.router_started > 10000)
				S.router_backoff_ms = 100;
			log_error("router exited (%s %d); restarting in %d ms",
				  WIFSIGNALED(status) ? "signal" : "status",
				  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), S.router_backoff_ms);
			S.router_restart_at = clock_ms() + S.router_backoff_ms;
			S.router_backoff_ms = S.router_backoff_ms * 2 > 5000 ? 5000 : S.router_backoff_ms * 2;
		} else {
			struct worker *w = hmap_del_u64(&S.workers, (uint64_t)pid);
			if (!w)
				continue;
			peers_release(&S.per_ip, &w->peer);
			bus_hand_close(&w->bus);
			free(w);
			S.live--;
			if (WIFSIGNALED(status))
				log_warn("worker %d killed by signal %d", (int)pid, WTERMSIG(status));
		}
	}
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
	S.stop_deadline = clock_ms() + S.close_timeout_ms + 2000;
}

static void finish_stop(void)
{
	int sig = SIGKILL;
	hmap_each(&S.workers, signal_worker, &sig);
	if (S.router_pid > 0) {
		kill(S.router_pid, SIGTERM);
		for (int i = 0; i < 300 && waitpid(S.router_pid, NULL, WNOHANG) == 0; i++)
			usleep(10000);
	}
	log_info("stopped");
	exit(0);
}

/* ---- loop ---- */

static void arm_timer(void)
{
	int64_t at = INT64_MAX;
	if (S.router_restart_at)
		at = S.router_restart_at;
	if (S.stopping && S.stop_deadline < at)
		at = S.stop_deadline;
	if (S.accept_paused_until && S.accept_paused_until < at)
		at = S.accept_paused_until;
	clock_arm_timerfd(S.timer_fd, at);
}

static void run(void)
{
	for (;;) {
		if (S.stopping && (S.live == 0 || clock_ms() >= S.stop_deadline))
			finish_stop();
		arm_timer();
		struct epoll_event evs[16];
		int n = epoll_wait(S.ep, evs, 16, -1);
		for (int i = 0; i < n; i++) {
			uint64_t data = evs[i].data.u64;
			int tag = (int)data;
			if (data & EV_WORKER_CTL) {
				on_worker_ctl((pid_t)(uint32_t)data);
			} else if (tag == S.sig_fd) {
				struct signalfd_siginfo si;
				while (read(S.sig_fd, &si, sizeof si) == sizeof si) {
					if (si.ssi_signo == SIGCHLD)
						reap();
					else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
						begin_stop();
				}
			} else if (tag == S.timer_fd) {
				uint64_t t;
				ssize_t r = read(S.timer_fd, &t, sizeof t);
				(void)r;
				if (S.router_restart_at && clock_ms() >= S.router_restart_at && !S.stopping)
					start_router();
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

/* ---- options ---- */

static void push(const char **argv, int *argc, const char *a)
{
	if (*argc >= MAX_ARGS - 1) {
		fprintf(stderr, "switchboard: too many options\n");
		exit(2);
	}
	argv[(*argc)++] = a;
	argv[*argc] = NULL;
}

static void sibling(char *out, const char *name)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n < 0)
		die("readlink /proc/self/exe");
	self[n] = 0;
	snprintf(out, PATH_MAX, "%s/%s", dirname(self), name);
}

/* ipc://, or tcp:// to a loopback address (the router says the same at listen). */
static bool loopback_url(const char *url)
{
	if (strncmp(url, "tcp://", 6) != 0)
		return true;
	const char *h = url + 6;
	return strncmp(h, "127.", 4) == 0 || strncmp(h, "localhost:", 10) == 0 || strncmp(h, "[::1]:", 6) == 0 ||
	       strncmp(h, "[::ffff:127.", 12) == 0;
}

/* The supervisor's own options, from core_opt, with what derives from them. */
static void take_own_options(void)
{
	const struct core_options *o = &core_opt;
	if (o->listen.n > MAX_LISTEN) {
		fprintf(stderr, "switchboard: at most %d --listen\n", MAX_LISTEN);
		exit(2);
	}
	for (int i = 0; i < o->listen.n; i++)
		S.listen[S.nlisten++] = o->listen.v[i];
	S.state_dir = o->state_dir;
	S.router_url = o->router_url;
	S.embedded_router = !o->no_router;
	S.max_connections = o->max_connections < 1 ? 1 : o->max_connections > INT_MAX ? INT_MAX
										    : (int)o->max_connections;
	S.max_per_ip = (int)o->max_per_ip;
	S.user = o->user;
	S.worker_user = o->worker_user;
	S.bus_key = o->bus_key_file;
	memcpy(S.key, o->bus_key, sizeof S.key); /* read by the table's hook, for the workers */
	S.close_timeout_ms = o->close_timeout_ms;
	if (o->worker_path)
		snprintf(S.worker_path, PATH_MAX, "%s", o->worker_path);
	else
		sibling(S.worker_path, "switchboard-worker");
	if (o->router_path)
		snprintf(S.router_path, PATH_MAX, "%s", o->router_path);
	else
		sibling(S.router_path, "switchboard-router");
}

/*
 * The children's command lines: what the supervisor decides (the bus
 * address, --bus-fd, the router's --listen), then the options given for
 * them, as the tables sorted them (struct opt_parse's pass_worker and
 * pass_router). p's strings stay for the life of the process.
 */
static void build_argv(const struct opt_parse *p)
{
	push(S.worker_argv, &S.worker_argc, "switchboard-worker");
	push(S.worker_argv, &S.worker_argc, "--router-url");
	push(S.worker_argv, &S.worker_argc, S.router_url);
	/* the supervisor dials the bus for its workers (worker/bus_hand.c) */
	push(S.worker_argv, &S.worker_argc, "--bus-fd");
	push(S.worker_argv, &S.worker_argc, "3");
	for (int i = 0; i < p->pass_worker.n; i++) {
		push(S.worker_argv, &S.worker_argc, p->pass_worker.v[i]);
		/* the workers may not read the key file: they get the key from us
		 * on their control socket (start_worker) */
		if (strcmp(p->pass_worker.v[i], "--bus-key") == 0 && i + 1 < p->pass_worker.n) {
			push(S.worker_argv, &S.worker_argc, "-");
			i++;
		}
	}
	push(S.router_argv, &S.router_argc, "switchboard-router");
	push(S.router_argv, &S.router_argc, "--state-dir");
	push(S.router_argv, &S.router_argc, S.state_dir);
	push(S.router_argv, &S.router_argc, "--listen");
	push(S.router_argv, &S.router_argc, S.router_url);
	for (int i = 0; i < p->pass_router.n; i++)
		push(S.router_argv, &S.router_argc, p->pass_router.v[i]);
}

static void parse_options(int argc, char **argv)
{
	static struct opt_parse p; /* its strings are the children's arguments */
	core_key_reader = bus_key_read;
	int rc = core_options_parse(&p, "switchboard", OPT_SUPERVISOR,
				    "usage: switchboard [options]\n"
				    "WebSocket server for existing protocols: one isolated worker process per connection.\n"
				    "Options marked [worker] or [router] are checked here and passed on.",
				    argc, argv);
	if (rc >= 0)
		exit(rc);
	for (int i = 0; i < p.pass_worker.n; i++)
		if (strcmp(p.pass_worker.v[i], "--bus-fd") == 0) {
			fprintf(stderr, "switchboard: --bus-fd is set by the supervisor for its workers\n");
			exit(2);
		}
	take_own_options();
	if (S.router_url && S.embedded_router && !S.bus_key && !loopback_url(S.router_url)) {
		fprintf(stderr, "switchboard: --router-url %s is not a loopback address: a tcp:// bus "
			"needs --bus-key FILE (and a private network or WireGuard)\n", S.router_url);
		exit(2);
	}
	if (!S.router_url) {
		size_t n = strlen(S.state_dir) + 16;
		char *u = malloc(n);
		if (!u)
			die("malloc");
		snprintf(u, n, "ipc://%s/bus.ipc", S.state_dir);
		S.router_url = u;
	}
	build_argv(&p);
}

#define WORKER_USER_DEFAULT "switchboard-worker"

static int lookup_user(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd *pw = getpwnam(name);
	if (!pw) {
		log_error("no such user %s", name);
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

/*
 * Started as root, the supervisor chooses who its children run as: the
 * router as --user (root without it), the workers as --worker-user (default
 * switchboard-worker if that user exists, else nobody), never root and never
 * the router's user, with no supplementary group: they need no file, not
 * even bus.ipc, since the supervisor dials the bus for them. The supervisor
 * itself stays root to start them. Started as any other user, everything
 * runs as that user.
 */
static void choose_users(void)
{
	if (geteuid() != 0) {
		if (S.user || S.worker_user) {
			log_error("--user and --worker-user need the supervisor to start as root");
			exit(1); /* the operator's error, not the system's */
		}
		log_info("not started as root: the router and the workers keep uid %u", (unsigned)getuid());
		return;
	}
	const char *wname = S.worker_user;
	if (!wname)
		wname = getpwnam(WORKER_USER_DEFAULT) ? WORKER_USER_DEFAULT : "nobody";
	worker_id.drop = true;
	if (lookup_user(wname, &worker_id.uid, &worker_id.gid) < 0)
		exit(1);
	if (worker_id.uid == 0) {
		log_error("--worker-user %s is root: workers never run as root", wname);
		exit(1); /* the operator's error, not the system's */
	}
	if (S.user) {
		router_id.drop = true;
		if (lookup_user(S.user, &router_id.uid, &router_id.gid) < 0)
			exit(1);
		if (router_id.uid == worker_id.uid) {
			log_error("the workers' user %s is the router's (--user): give another with --worker-user", wname);
			exit(1); /* the operator's error, not the system's */
		}
	}
	/* the state dir is the router's (the supervisor, root, dials bus.ipc) */
	if (chown(S.state_dir, router_id.uid, router_id.gid) < 0 || chmod(S.state_dir, 0750) < 0)
		log_warn("setting the owner of %s: %s", S.state_dir, strerror(errno));
	log_info("workers run as %s (uid %u), the router as %s", wname, (unsigned)worker_id.uid,
		 S.user ? S.user : "root");
}

/* Two descriptors per worker (its bus control socket and the connection
 * handed to it): the soft limit (often 1024) goes up to the hard one. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("cannot raise the descriptor limit: %s", strerror(errno));
	}
}

int main(int argc, char **argv)
{
	log_init("switchboard");
	parse_options(argc, argv);
	if (mkdir(S.state_dir, 0750) < 0 && errno != EEXIST)
		die(S.state_dir);
	if (take_systemd_sockets() == 0) {
		if (S.nlisten == 0)
			S.listen[S.nlisten++] = "127.0.0.1:8080";
		for (int i = 0; i < S.nlisten; i++) {
			int fd = listen_on(S.listen[i]);
			if (fd < 0) {
				log_error("cannot listen on %s: %s", S.listen[i], strerror(errno));
				return 1;
			}
			S.lfd[S.nlfd++] = fd;
			log_info("listening on %s", S.listen[i]);
		}
	}
	choose_users();
	if (bus_hand_setup(S.router_url) < 0) {
		log_error("bad --router-url %s", S.router_url);
		return 2;
	}
	raise_fd_limit();
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
	if (S.embedded_router)
		start_router();
	run();
	return 0;
}
