/*
 * switchboard: the supervisor. Listens (or takes systemd's sockets), spawns
 * one switchboard-worker per connection with the socket on fd 0/1, caps the
 * number of live workers, runs and restarts the embedded router, and on
 * SIGTERM stops accepting, lets workers close with 1001, and exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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
#include "../common/hmap.h"
#include "../common/log.h"
#include "peers.h"
#include "bus_hand.h"

#ifndef SWITCHBOARD_VERSION
#define SWITCHBOARD_VERSION "0.1.0"
#endif

#define MAX_LISTEN 16
#define MAX_ARGS 64
#define DEFAULT_MAX_PER_IP 256
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
	const char *bus_key; /* --bus-key FILE, passed to the worker and the router */
	char worker_path[PATH_MAX], router_path[PATH_MAX];
	const char *worker_argv[MAX_ARGS];
	int worker_argc;
	const char *router_argv[MAX_ARGS];
	int router_argc;
	int close_timeout_s;

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
	log_error("%s: %s", what, strerror(errno));
	exit(1);
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
		struct epoll_event ev = {.events = on ? EPOLLIN : 0, .data.fd = S.lfd[i]};
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
	S.stop_deadline = clock_ms() + (S.close_timeout_s + 2) * 1000;
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

static void usage(FILE *f)
{
	fprintf(f,
		"usage: switchboard [options]\n"
		"WebSocket messaging server: one isolated worker process per connection.\n"
		"  --listen HOST:PORT      listen address, repeatable; [::1]:8080 for IPv6\n"
		"                          (default 127.0.0.1:8080; systemd LISTEN_FDS are used when given)\n"
		"  --state-dir DIR         bus socket, tap and store (default ./var)\n"
		"  --router-url URL        bus address (default ipc://DIR/bus.ipc)\n"
		"  --no-router             do not start a router; one runs elsewhere at --router-url\n"
		"  --max-connections N     live connections; beyond, HTTP 503 (default 4096)\n"
		"  --max-per-ip N          live connections per client address, IPv6 by /64;\n"
		"                          beyond, HTTP 429 (default 256; 0: no cap)\n"
				"  --user USER             run the router as USER (started as root)\n"
		"  --worker-user USER      run the workers as USER, never root nor --user's user\n"
		"                          (started as root; default switchboard-worker, else nobody)\n"
		"  --worker PATH, --router PATH   programs to run (default: next to this one)\n"
		"worker options, passed on: --max-message, --allow-origin, --ping-interval,\n"
		"  --ping-timeout, --handshake-timeout, --close-timeout, --client-backlog, --no-sandbox,\n"
		"  --static-dir\n"
		"router options, passed on: --worker-queue, --router-memory, --messaging-max-size,\n"
		"  --messaging-max-queue, --messaging-max-per-sender, --messaging-max-recipients,\n"
		"  --messaging-max-store\n"
		"  --bus-key FILE          pre-shared key of the bus (64 hex digits, mode 0600), passed to\n"
		"                          workers and router; needed for a tcp:// bus off loopback\n"
		"  --log-level LEVEL       error, warn, info or debug (all processes)\n"
		"  --help, --version\n");
}

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

/* A whole non-negative number, or exit 2 naming the option. */
static int count_option(const char *v, const char *name)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < 0 || n > INT_MAX) {
		fprintf(stderr, "switchboard: %s wants a whole number of 0 or more, not %s\n", name, v);
		exit(2);
	}
	return (int)n;
}

/* Limits that would make bus messages over the bus limit are refused here,
 * not by every worker (or a restarting router) later. */
static void check_bus_limit(const char *name, const char *value)
{
	unsigned long long max = strcmp(name, "worker-queue") == 0 ? BUS_MAX_MESSAGE
				 : strcmp(name, "max-message") == 0 ? BUS_MAX_CLIENT_MESSAGE
				 : strcmp(name, "messaging-max-size") == 0 ? BUS_MAX_STORED_MESSAGE
									   : 0;
	if (max && strtoull(value, NULL, 10) > max) {
		fprintf(stderr, "switchboard: --%s %s is over %llu, so that bus messages fit in the 8 MiB bus limit\n",
			name, value, max);
		exit(2);
	}
}

static void parse_options(int argc, char **argv)
{
	enum { O_LISTEN = 256, O_STATE, O_ROUTER_URL, O_NO_ROUTER, O_MAX_CONN, O_USER, O_WORKER_USER, O_WORKER, O_ROUTER,
	       O_W_ARG, O_W_FLAG, O_R_ARG, O_LOG, O_HELP, O_VERSION, O_CLOSE, O_PER_IP, O_BUS_KEY };
	static const struct option opts[] = {
		{"listen", required_argument, 0, O_LISTEN},
		{"state-dir", required_argument, 0, O_STATE},
		{"router-url", required_argument, 0, O_ROUTER_URL},
		{"no-router", no_argument, 0, O_NO_ROUTER},
		{"max-connections", required_argument, 0, O_MAX_CONN},
		{"max-per-ip", required_argument, 0, O_PER_IP},
		{"user", required_argument, 0, O_USER},
		{"worker-user", required_argument, 0, O_WORKER_USER},
		{"worker", required_argument, 0, O_WORKER},
		{"router", required_argument, 0, O_ROUTER},
		{"max-message", required_argument, 0, O_W_ARG},
		{"allow-origin", required_argument, 0, O_W_ARG},
		{"ping-interval", required_argument, 0, O_W_ARG},
		{"ping-timeout", required_argument, 0, O_W_ARG},
		{"handshake-timeout", required_argument, 0, O_W_ARG},
		{"client-backlog", required_argument, 0, O_W_ARG},
		{"static-dir", required_argument, 0, O_W_ARG},
		{"close-timeout", required_argument, 0, O_CLOSE},
		{"no-sandbox", no_argument, 0, O_W_FLAG},
		{"worker-queue", required_argument, 0, O_R_ARG},
		{"router-memory", required_argument, 0, O_R_ARG},
		{"messaging-max-size", required_argument, 0, O_R_ARG},
		{"messaging-max-queue", required_argument, 0, O_R_ARG},
		{"messaging-max-per-sender", required_argument, 0, O_R_ARG},
		{"messaging-max-recipients", required_argument, 0, O_R_ARG},
		{"messaging-max-store", required_argument, 0, O_R_ARG},
		{"log-level", required_argument, 0, O_LOG},
		{"bus-key", required_argument, 0, O_BUS_KEY},
		{"help", no_argument, 0, O_HELP},
		{"version", no_argument, 0, O_VERSION},
		{0, 0, 0, 0}};
	S.state_dir = "var";
	S.embedded_router = true;
	S.max_connections = 4096;
	S.max_per_ip = DEFAULT_MAX_PER_IP;
	S.close_timeout_s = 5;
	sibling(S.worker_path, "switchboard-worker");
	sibling(S.router_path, "switchboard-router");
	const char *wargs[MAX_ARGS], *rargs[MAX_ARGS];
	int nw = 0, nr = 0, c, idx = -1;
	while ((c = getopt_long(argc, argv, "", opts, &idx)) != -1) {
		/* idx is set only when a long option matched: not for '?' */
		if (c == '?' || idx < 0) {
			usage(stderr);
			exit(2);
		}
		char *flag = malloc(strlen(opts[idx].name) + 3);
		if (!flag)
			die("malloc");
		sprintf(flag, "--%s", opts[idx].name);
		idx = -1;
		switch (c) {
		case O_LISTEN:
			if (S.nlisten == MAX_LISTEN) {
				fprintf(stderr, "switchboard: at most %d --listen\n", MAX_LISTEN);
				exit(2);
			}
			S.listen[S.nlisten++] = optarg;
			break;
		case O_STATE: S.state_dir = optarg; break;
		case O_ROUTER_URL: S.router_url = optarg; break;
		case O_NO_ROUTER: S.embedded_router = false; break;
		case O_MAX_CONN: S.max_connections = atoi(optarg); break;
		case O_PER_IP: S.max_per_ip = count_option(optarg, "--max-per-ip"); break;
		case O_USER: S.user = optarg; break;
		case O_WORKER_USER: S.worker_user = optarg; break;
		case O_WORKER: snprintf(S.worker_path, PATH_MAX, "%s", optarg); break;
		case O_ROUTER: snprintf(S.router_path, PATH_MAX, "%s", optarg); break;
		case O_CLOSE: S.close_timeout_s = atoi(optarg); /* fall through */
		case O_W_ARG: check_bus_limit(flag + 2, optarg); wargs[nw++] = flag; wargs[nw++] = optarg; flag = NULL; break;
		case O_W_FLAG: wargs[nw++] = flag; flag = NULL; break;
		case O_R_ARG: check_bus_limit(flag + 2, optarg); rargs[nr++] = flag; rargs[nr++] = optarg; flag = NULL; break;
		case O_BUS_KEY: /* both ends of the bus read it themselves */
			S.bus_key = optarg;
			wargs[nw++] = flag;
			wargs[nw++] = optarg;
			rargs[nr++] = "--bus-key";
			rargs[nr++] = optarg;
			flag = NULL;
			break;
		case O_LOG:
			log_level_option(optarg);
			wargs[nw++] = flag;
			wargs[nw++] = optarg;
			rargs[nr++] = "--log-level";
			rargs[nr++] = optarg;
			flag = NULL;
			break;
		case O_HELP: usage(stdout); exit(0);
		case O_VERSION: printf("switchboard %s\n", SWITCHBOARD_VERSION); exit(0);
		default: usage(stderr); exit(2);
		}
		free(flag);
		if (nw > MAX_ARGS - 8 || nr > MAX_ARGS - 8) {
			fprintf(stderr, "switchboard: too many options\n");
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "switchboard: unexpected argument %s\n", argv[optind]);
		exit(2);
	}
	if (S.max_connections < 1)
		S.max_connections = 1;
	if (S.router_url && S.embedded_router && !S.bus_key && !loopback_url(S.router_url)) {
		fprintf(stderr, "switchboard: --router-url %s is not a loopback address: a tcp:// bus "
			"needs --bus-key FILE (and a private network or WireGuard)\n", S.router_url);
		exit(2);
	}
	if (!S.router_url) {
		char *u = malloc(strlen(S.state_dir) + 16);
		sprintf(u, "ipc://%s/bus.ipc", S.state_dir);
		S.router_url = u;
	}
	push(S.worker_argv, &S.worker_argc, "switchboard-worker");
	push(S.worker_argv, &S.worker_argc, "--router-url");
	push(S.worker_argv, &S.worker_argc, S.router_url);
	/* the supervisor dials the bus for its workers (worker/bus_hand.c) */
	push(S.worker_argv, &S.worker_argc, "--bus-fd");
	push(S.worker_argv, &S.worker_argc, "3");
	for (int i = 0; i < nw; i++)
		push(S.worker_argv, &S.worker_argc, wargs[i]);
	push(S.router_argv, &S.router_argc, "switchboard-router");
	push(S.router_argv, &S.router_argc, "--state-dir");
	push(S.router_argv, &S.router_argc, S.state_dir);
	push(S.router_argv, &S.router_argc, "--listen");
	push(S.router_argv, &S.router_argc, S.router_url);
	for (int i = 0; i < nr; i++)
		push(S.router_argv, &S.router_argc, rargs[i]);
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
			exit(1);
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
		exit(1);
	}
	if (S.user) {
		router_id.drop = true;
		if (lookup_user(S.user, &router_id.uid, &router_id.gid) < 0)
			exit(1);
		if (router_id.uid == worker_id.uid) {
			log_error("the workers' user %s is the router's (--user): give another with --worker-user", wname);
			exit(1);
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
	struct epoll_event ev = {.events = EPOLLIN};
	ev.data.fd = S.sig_fd;
	epoll_ctl(S.ep, EPOLL_CTL_ADD, S.sig_fd, &ev);
	ev.data.fd = S.timer_fd;
	epoll_ctl(S.ep, EPOLL_CTL_ADD, S.timer_fd, &ev);
	for (int i = 0; i < S.nlfd; i++) {
		ev.data.fd = S.lfd[i];
		epoll_ctl(S.ep, EPOLL_CTL_ADD, S.lfd[i], &ev);
	}
	S.router_backoff_ms = 100;
	if (S.embedded_router)
		start_router();
	run();
	return 0;
}
