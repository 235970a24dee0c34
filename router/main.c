/*
 * switchboard-router: one process, one epoll loop, all shared state. Workers
 * reach it over SP pair1 listeners (router/bus.c); the only other thread is
 * the store's checkpointer.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/bus.h"
#include "../common/clock.h"
#include "../common/log.h"
#include "router.h"
#include "store.h"

#ifndef SWITCHBOARD_VERSION
#define SWITCHBOARD_VERSION "0.1.0"
#endif

#define MAX_LISTEN 8

struct router_config {
	const char *state_dir;
	const char *listen[MAX_LISTEN];
	int nlisten;
	const char *tap_url;
	char *owned[2]; /* defaults built from the state dir */
	size_t queue_limit;
	size_t memory_limit;
	uid_t allow_uid;
	gid_t bus_gid;
	bool store_stats;
	struct router_options opt;
	bool has_bus_key;
	uint8_t bus_key[BUS_KEY_LEN];
};

static struct router R;

static int open_bus(const struct router_config *cfg, int ep)
{
	struct bus_callbacks cb = {.on_message = workers_on_bus_message, .on_gone = workers_on_pipe_gone,
				   .on_refused = workers_on_refused, .ctx = &R};
	if (bus_init(&R.bus, ep, BUS_MAX_MESSAGE, cfg->allow_uid, cb) < 0)
		return -1;
	if (cfg->has_bus_key)
		bus_set_key(&R.bus, cfg->bus_key);
	R.bus.ipc_gid = cfg->bus_gid;
	for (int i = 0; i < cfg->nlisten; i++) {
		if (bus_listen(&R.bus, cfg->listen[i], BUS_WORKERS) < 0)
			return -1;
		log_info("bus listening on %s", cfg->listen[i]);
	}
	if (strcmp(cfg->tap_url, "none") != 0 && bus_listen(&R.bus, cfg->tap_url, BUS_TAP) < 0)
		log_warn("running without a tap");
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: switchboard-router [options]\n"
		"  --state-dir DIR       where the bus socket, tap and store live (default ./var)\n"
		"  --listen URL          bus address, repeatable (default ipc://DIR/bus.ipc)\n"
		"  --tap URL             PUB tap address, or \"none\" (default ipc://DIR/tap.ipc)\n"
		"  --worker-queue BYTES  queued for one worker before its client is closed as\n"
		"                        too slow, its pipe's output included (default 4194304,\n"
		"                        at most 8388608)\n"
		"  --router-memory BYTES bytes queued for all workers together; past it the\n"
		"                        largest queues' clients are closed (default 536870912,\n"
		"                        0 = no limit)\n"
		"  --allow-uid UID       uid allowed on ipc:// besides our own and root\n"
		"  --bus-key FILE        workers must prove they hold this key (64 hex digits,\n"
		"                        mode 0600); required to listen on tcp:// off loopback\n"
		"  --bus-group GID       group of the ipc:// bus socket (mode 0660; the tap is 0600)\n"
		"  --messaging-max-size BYTES   largest stored message (default 65536)\n"
		"  --messaging-max-queue N      stored messages per recipient (default 10000)\n"
		"  --messaging-max-per-sender N stored messages per recipient from one sender (default 1000)\n"
		"  --messaging-max-recipients N recipients one sender may have messages stored for (default 1000)\n"
		"  --messaging-max-store BYTES  stored message text in all (default 1073741824)\n"
		"  --store-stats         print each protocol's stored state (a [name] section each) and exit\n"
		"  --log-level LEVEL     error, warn, info or debug\n"
		"  --help, --version\n");
}

static char *joined(const char *dir, const char *file)
{
	size_t n = strlen(dir) + strlen(file) + 8;
	char *s = malloc(n);
	snprintf(s, n, "ipc://%s/%s", dir, file);
	return s;
}

/* A byte count in [min, max], or a clear error and exit 2: limits that would
 * combine into bus messages over the bus limit are refused at start. */
static size_t parse_size(const char *s, const char *opt, size_t min, size_t max)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (*s == 0 || *s == '-' || *end || errno) {
		fprintf(stderr, "switchboard-router: bad value for %s: %s\n", opt, s);
		exit(2);
	}
	if (v < min || v > max) {
		fprintf(stderr, "switchboard-router: %s %s is out of range (%zu to %zu%s)\n", opt, s, min, max,
			max < SIZE_MAX ? ", so that a bus message fits in the 8 MiB bus limit" : "");
		exit(2);
	}
	return (size_t)v;
}

static void parse_options(int argc, char **argv, struct router_config *cfg)
{
	static const struct option opts[] = {
		{"state-dir", required_argument, 0, 's'}, {"listen", required_argument, 0, 'l'},
		{"tap", required_argument, 0, 't'},       {"worker-queue", required_argument, 0, 'q'},
		{"router-memory", required_argument, 0, 'R'},
		{"allow-uid", required_argument, 0, 'u'}, {"bus-group", required_argument, 0, 'g'}, {"log-level", required_argument, 0, 'L'},
		{"messaging-max-size", required_argument, 0, 'M'}, {"messaging-max-queue", required_argument, 0, 'Q'},
		{"messaging-max-per-sender", required_argument, 0, 'P'},
		{"messaging-max-recipients", required_argument, 0, 'N'},
		{"messaging-max-store", required_argument, 0, 'B'},
		{"store-stats", no_argument, 0, 'S'},     {"bus-key", required_argument, 0, 'K'},
		{"help", no_argument, 0, 'h'},            {"version", no_argument, 0, 'V'},
		{0, 0, 0, 0}};
	*cfg = (struct router_config){.state_dir = "var", .queue_limit = 4u << 20,
				      .memory_limit = (size_t)512 << 20, .allow_uid = getuid(), .bus_gid = (gid_t)-1,
				      .opt = {.messaging_max_size = 65536, .messaging_max_queue = 10000,
					      .messaging_max_per_sender = 1000, .messaging_max_recipients = 1000,
					      .messaging_max_store = 1ull << 30}};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': cfg->state_dir = optarg; break;
		case 'l':
			if (cfg->nlisten == MAX_LISTEN) {
				fprintf(stderr, "switchboard-router: at most %d --listen\n", MAX_LISTEN);
				exit(2);
			}
			cfg->listen[cfg->nlisten++] = optarg;
			break;
		case 't': cfg->tap_url = optarg; break;
		case 'q': cfg->queue_limit = parse_size(optarg, "--worker-queue", 0, BUS_MAX_MESSAGE); break;
		case 'R': cfg->memory_limit = parse_size(optarg, "--router-memory", 0, SIZE_MAX); break;
		case 'u': cfg->allow_uid = (uid_t)strtoul(optarg, NULL, 10); break;
		case 'g': cfg->bus_gid = (gid_t)strtoul(optarg, NULL, 10); break;
		case 'M':
			cfg->opt.messaging_max_size =
			    parse_size(optarg, "--messaging-max-size", 1, BUS_MAX_STORED_MESSAGE);
			break;
		case 'Q': cfg->opt.messaging_max_queue = strtol(optarg, NULL, 10); break;
		case 'P': cfg->opt.messaging_max_per_sender = strtol(optarg, NULL, 10); break;
		case 'N': cfg->opt.messaging_max_recipients = strtol(optarg, NULL, 10); break;
		case 'B': cfg->opt.messaging_max_store = strtoull(optarg, NULL, 10); break;
		case 'S': cfg->store_stats = true; break;
		case 'K': {
			char err[300];
			if (bus_key_read(optarg, cfg->bus_key, err, sizeof err) < 0) {
				fprintf(stderr, "switchboard-router: %s\n", err);
				exit(2);
			}
			cfg->has_bus_key = true;
			break;
		}
		case 'L':
			log_level_option(optarg);
			break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("switchboard-router %s\n", SWITCHBOARD_VERSION); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (cfg->queue_limit < 65536)
		cfg->queue_limit = 65536;
	if (cfg->nlisten == 0)
		cfg->listen[cfg->nlisten++] = cfg->owned[0] = joined(cfg->state_dir, "bus.ipc");
	if (!cfg->tap_url)
		cfg->tap_url = cfg->owned[1] = joined(cfg->state_dir, "tap.ipc");
}

#define TAG_SIGNAL 0

/* One descriptor per worker: the soft limit (often 1024) goes up to the hard one. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("cannot raise the descriptor limit: %s", strerror(errno));
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		log_debug("descriptor limit %llu", (unsigned long long)rl.rlim_cur);
}

/* How long the loop may sleep: the next timer, or not at all with work pending. */
static int wait_ms(void)
{
	if (R.dirty)
		return 0;
	int64_t due = metrics_due(), commit = store_commit_due(), bus = bus_due(&R.bus);
	if (commit && commit < due)
		due = commit;
	if (bus < due)
		due = bus;
	int64_t wait = due - clock_ms();
	return wait < 0 ? 0 : wait > 60000 ? 60000 : (int)wait;
}

static int run(int ep, int sig_fd)
{
	struct epoll_event evs[256];
	for (;;) {
		int n = epoll_wait(ep, evs, 256, wait_ms());
		if (n < 0 && errno != EINTR)
			return 1;
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u64 == TAG_SIGNAL) {
				struct signalfd_siginfo si;
				if (read(sig_fd, &si, sizeof si) == sizeof si)
					log_info("signal %u: stopping", si.ssi_signo);
				return 0;
			}
			bus_on_event(&R.bus, evs[i].data.u64, evs[i].events);
		}
		/* departures first: they may queue quit events for the others */
		bus_reap(&R.bus, clock_ms());
		workers_flush(&R);
		if (store_commit_due() && clock_ms() >= store_commit_due())
			store_commit();
		metrics_tick(&R);
		log_tick();
	}
}

int main(int argc, char **argv)
{
	log_init("switchboard-router");
	struct router_config cfg;
	parse_options(argc, argv, &cfg);
	if (cfg.store_stats) {
		int rc = store_print_stats(cfg.state_dir, router_protocols);
		free(cfg.owned[0]);
		free(cfg.owned[1]);
		return rc;
	}
	mkdir(cfg.state_dir, 0750);
	R.opt = cfg.opt;
	R.queue_limit = cfg.queue_limit;
	R.memory_limit = cfg.memory_limit;
	R.state_dir = cfg.state_dir;
	raise_fd_limit();
	if (workers_init(&R) < 0)
		return 1;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event sev = {.events = EPOLLIN, .data.u64 = TAG_SIGNAL};
	if (sig_fd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, sig_fd, &sev) < 0) {
		log_error("cannot set up the loop: %s", strerror(errno));
		return 1;
	}
	if (store_open(cfg.state_dir, router_protocols) < 0)
		return 1;
	for (int i = 0; router_protocols[i]; i++)
		if (router_protocols[i]->init && router_protocols[i]->init(&R) < 0) {
			log_error("protocol %s failed to start", router_protocols[i]->name);
			return 1;
		}
	if (open_bus(&cfg, ep) < 0)
		return 1;
	int rc = run(ep, sig_fd);
	metrics_write(&R);
	bus_fini(&R.bus);
	for (int i = 0; router_protocols[i]; i++)
		if (router_protocols[i]->fini)
			router_protocols[i]->fini(&R);
	workers_fini(&R);
	store_close();
	free(cfg.owned[0]);
	free(cfg.owned[1]);
	return rc;
}
