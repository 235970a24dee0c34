/*
 * The supervisor's set-up: its options (from the tables, with the children's
 * command lines built from what they pass on), its listening sockets (or
 * systemd's), the users its children run as, and its descriptor limit.
 * The running supervisor is worker/supervisor.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/bus.h"
#include "../common/busauth.h"
#include "../common/config.h"
#include "../common/core_options.h"
#include "../common/log.h"
#include "bus_hand.h"
#include "supervisor.h"
#include "template.h"

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

/* "127.0.0.1:8080" or "[::1]:8080": where a socket listens, for the log. */
static void sock_name(int fd, char *out, size_t cap)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof sa;
	char host[NI_MAXHOST], port[NI_MAXSERV];
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 ||
	    getnameinfo((struct sockaddr *)&sa, len, host, sizeof host, port, sizeof port,
			NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(out, cap, "fd %d", fd);
		return;
	}
	snprintf(out, cap, sa.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
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
		char name[INET6_ADDRSTRLEN + 16];
		sock_name(fd, name, sizeof name);
		log_info("listening on %s (socket from systemd, LISTEN_FDS)", name);
	}
	if (n > 0 && S.nlisten > 0)
		log_info("--listen ignored: took %d sockets from LISTEN_FDS", n);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return n;
}

/* The --listen addresses, or systemd's sockets: -1 after logging why. */
int supervisor_listen(void)
{
	if (take_systemd_sockets() > 0)
		return 0;
	if (S.nlisten == 0)
		S.listen[S.nlisten++] = "127.0.0.1:8080";
	for (int i = 0; i < S.nlisten; i++) {
		int fd = listen_on(S.listen[i]);
		if (fd < 0) {
			log_error("cannot listen on %s: %s", S.listen[i], strerror(errno));
			return -1;
		}
		S.lfd[S.nlfd++] = fd;
		log_info("listening on %s", S.listen[i]);
	}
	return 0;
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
	/* the configuration file's options come as flags, below: not twice */
	push(S.worker_argv, &S.worker_argc, "--config");
	push(S.worker_argv, &S.worker_argc, "none");
	for (int i = 0; i < p->pass_worker.n; i++) {
		push(S.worker_argv, &S.worker_argc, p->pass_worker.v[i]);
		/* the workers may not read the key file: they get the key from us
		 * on their control socket (start_worker) */
		if (strcmp(p->pass_worker.v[i], "--bus-key") == 0 && i + 1 < p->pass_worker.n) {
			push(S.worker_argv, &S.worker_argc, "-");
			i++;
		}
	}
	/* the template's: the same, with the flag first (worker/template.h) */
	int targc = 0;
	push(S.template_argv, &targc, S.worker_argv[0]);
	push(S.template_argv, &targc, TEMPLATE_FLAG);
	for (int i = 1; i < S.worker_argc; i++)
		push(S.template_argv, &targc, S.worker_argv[i]);
	push(S.router_argv, &S.router_argc, "switchboard-router");
	push(S.router_argv, &S.router_argc, "--state-dir");
	push(S.router_argv, &S.router_argc, S.state_dir);
	push(S.router_argv, &S.router_argc, "--listen");
	push(S.router_argv, &S.router_argc, S.router_url);
	/* the router says on fd 3 when its bus listens (start_router's pipe) */
	push(S.router_argv, &S.router_argc, "--ready-fd");
	push(S.router_argv, &S.router_argc, "3");
	push(S.router_argv, &S.router_argc, "--config");
	push(S.router_argv, &S.router_argc, "none");
	for (int i = 0; i < p->pass_router.n; i++)
		push(S.router_argv, &S.router_argc, p->pass_router.v[i]);
}

void supervisor_options(int argc, char **argv)
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
	/* Whatever else we were started with (a shell's or a CI runner's stray
	 * descriptors) is not for the router nor any worker: a sandboxed worker
	 * must not hold it, and each worker would carry a file table that big. */
	(void)close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	/* the readiness descriptor is ours alone: not the router's, not a worker's */
	if (core_opt.ready_fd >= 0 && fcntl((int)core_opt.ready_fd, F_SETFD, FD_CLOEXEC) < 0) {
		fprintf(stderr, "switchboard: --ready-fd %ld: %s\n", core_opt.ready_fd, strerror(errno));
		exit(2);
	}
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
	if (core_opt.check_config) {
		if (config_path)
			printf("switchboard: %s: ok\n", config_path);
		else
			printf("switchboard: no configuration file; the options are valid\n");
		exit(0);
	}
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
void supervisor_choose_users(void)
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
void supervisor_raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("cannot raise the descriptor limit: %s", strerror(errno));
	}
}

/*
 * glibc registers every thread for restartable sequences (rseq), and the
 * kernel then updates that area on each return to user space after a
 * context switch. Our processes are single-threaded and never read it, and a
 * routed message wakes three of them: at light load about 4 % of a worker's
 * CPU went to __rseq_handle_notify_resume (perf, paced at 10 000 msgs/s). So
 * the router and the workers we exec are started with the glibc tunable
 * that skips the registration, unless the operator set rseq themselves.
 */
void supervisor_tune_children(void)
{
	static const char off[] = "glibc.pthread.rseq=0";
	const char *t = getenv("GLIBC_TUNABLES");
	if (t && strstr(t, "glibc.pthread.rseq"))
		return;
	char v[1024];
	if (t && *t && snprintf(v, sizeof v, "%s:%s", t, off) >= (int)sizeof v)
		return; /* an operator's tunables that long are left alone */
	if (setenv("GLIBC_TUNABLES", t && *t ? v : off, 1) < 0)
		log_warn("cannot set GLIBC_TUNABLES: %s", strerror(errno));
}
