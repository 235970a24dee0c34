/*
 * switchboard-router: one process, one epoll loop, all shared state. Workers
 * reach it over SP pair1 listeners (router/listener.c); the only other thread is
 * the store's checkpointer.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "../common/core_options.h"
#include "../common/log.h"
#include "../common/ready.h"
#include "allowfrom.h"
#include "heaptrim.h"
#include "router.h"
#include "store.h"

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
	if (strcmp(cfg->tap_url, "none") == 0)
		log_info("no tap (--tap none)");
	else if (bus_listen(&R.bus, cfg->tap_url, BUS_TAP) < 0)
		log_warn("running without a tap");
	else
		log_info("tap on %s", cfg->tap_url);
	return 0;
}

static char *joined(const char *dir, const char *file)
{
	size_t n = strlen(dir) + strlen(file) + 8;
	char *s = malloc(n);
	snprintf(s, n, "ipc://%s/%s", dir, file);
	return s;
}

/* --allow-from, and a tcp:// bus off loopback only with it (allowfrom.h):
 * exit 2 at once, before the store is opened. */
static void check_allow_from(const struct router_config *cfg)
{
	char err[400];
	if (allow_from_setup(&core_opt.allow_from) < 0) {
		fprintf(stderr, "switchboard-router: --allow-from: out of memory or a bad range\n");
		exit(2);
	}
	/* without a key, bus_listen refuses such an address first, naming --bus-key */
	for (int i = 0; i < cfg->nlisten && cfg->has_bus_key; i++)
		if (!allow_from_listen_ok(cfg->listen[i], err, sizeof err)) {
			fprintf(stderr, "switchboard-router: %s\n", err);
			exit(2);
		}
	for (int i = 0; i < core_opt.allow_from.n; i++)
		log_info("tcp:// bus workers allowed from %s", core_opt.allow_from.v[i]);
}

/* Options from the tables (common/core_options.c, each protocol's options.c);
 * the defaults derived from the state dir are worked out here. */
static void parse_options(int argc, char **argv, struct router_config *cfg)
{
	struct opt_parse p;
	core_key_reader = bus_key_read;
	int rc = core_options_parse(&p, "switchboard-router", OPT_ROUTER, "usage: switchboard-router [options]\n"
				    "Options marked [supervisor] or [worker] are not this program's: they are refused.",
				    argc, argv);
	opt_free(&p);
	if (rc >= 0)
		exit(rc);
	const struct core_options *o = &core_opt;
	if (o->listen.n > MAX_LISTEN) {
		fprintf(stderr, "switchboard-router: at most %d --listen\n", MAX_LISTEN);
		exit(2);
	}
	*cfg = (struct router_config){.state_dir = o->state_dir, .tap_url = o->tap_url,
				      .queue_limit = o->worker_queue, .memory_limit = o->router_memory,
				      .allow_uid = o->allow_uid >= 0 ? (uid_t)o->allow_uid : getuid(),
				      .bus_gid = o->bus_group >= 0 ? (gid_t)o->bus_group : (gid_t)-1,
				      .store_stats = o->store_stats, .has_bus_key = o->has_bus_key};
	memcpy(cfg->bus_key, o->bus_key, sizeof cfg->bus_key);
	for (int i = 0; i < o->listen.n; i++)
		cfg->listen[cfg->nlisten++] = o->listen.v[i];
	if (cfg->queue_limit < 65536)
		cfg->queue_limit = 65536;
	if (cfg->nlisten == 0)
		cfg->listen[cfg->nlisten++] = cfg->owned[0] = joined(cfg->state_dir, "bus.ipc");
	check_allow_from(cfg);
	if (!cfg->tap_url)
		cfg->tap_url = cfg->owned[1] = joined(cfg->state_dir, "tap.ipc");
}

#define TAG_SIGNAL 0
#define TAG_WATCH (4ull << 32) /* | index: a protocol's descriptor (router_watch_fd) */
#define MAX_WATCH 8

static int loop_ep = -1;
static struct watch {
	void (*fn)(struct router *r, void *arg);
	void *arg;
} watches[MAX_WATCH];
static int nwatches;

int router_watch_fd(struct router *r, int fd, void (*fn)(struct router *r, void *arg), void *arg)
{
	(void)r;
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_WATCH | (uint64_t)nwatches};
	if (nwatches == MAX_WATCH || loop_ep < 0 || epoll_ctl(loop_ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -1;
	watches[nwatches++] = (struct watch){fn, arg};
	return 0;
}

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

/* When each protocol's tick runs next (router_protocols order); 0: never. */
static int64_t tick_due[64];

static void tick_protocols(void)
{
	int64_t now = clock_ms();
	for (int i = 0; router_protocols[i] && i < 64; i++)
		if (tick_due[i] && now >= tick_due[i])
			tick_due[i] = router_protocols[i]->tick(&R, now);
}

/* How long the loop may sleep: the next timer, or not at all with work pending. */
static int wait_ms(void)
{
	if (dirty_any(&R.dirty))
		return 0;
	int64_t due = metrics_due(), commit = store_commit_due(), bus = bus_due(&R.bus);
	for (int i = 0; router_protocols[i] && i < 64; i++)
		if (tick_due[i] && tick_due[i] < due)
			due = tick_due[i];
	if (commit && commit < due)
		due = commit;
	if (heaptrim_due() && heaptrim_due() < due)
		due = heaptrim_due();
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
			if ((evs[i].data.u64 & BUS_TAG_MASK) == TAG_WATCH) {
				struct watch *wt = &watches[(uint32_t)evs[i].data.u64];
				wt->fn(&R, wt->arg);
				continue;
			}
			bus_on_event(&R.bus, evs[i].data.u64, evs[i].events);
		}
		/* departures first: they may queue quit events for the others */
		bus_reap(&R.bus, clock_ms());
		tick_protocols();
		workers_flush(&R);
		if (store_commit_due() && clock_ms() >= store_commit_due())
			store_commit();
		metrics_tick(&R);
		log_tick();
		heaptrim_turn(clock_ms()); /* a burst's freed heap goes back (router/heaptrim.c) */
	}
}

int main(int argc, char **argv)
{
	log_init("switchboard-router");
	ready_init();
	struct router_config cfg;
	parse_options(argc, argv, &cfg);
	if (core_opt.ready_fd >= 0 && fcntl((int)core_opt.ready_fd, F_SETFD, FD_CLOEXEC) < 0) {
		fprintf(stderr, "switchboard-router: --ready-fd %ld: %s\n", core_opt.ready_fd, strerror(errno));
		return 2;
	}
	if (cfg.store_stats) {
		int rc = store_print_stats(cfg.state_dir, router_protocols);
		free(cfg.owned[0]);
		free(cfg.owned[1]);
		return rc;
	}
	mkdir(cfg.state_dir, 0750);
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
	loop_ep = ep;
	if (store_open(cfg.state_dir, router_protocols) < 0)
		return 1;
	for (int i = 0; router_protocols[i]; i++)
		if (router_protocols[i]->init && router_protocols[i]->init(&R) < 0) {
			log_error("protocol %s failed to start", router_protocols[i]->name);
			return 1;
		}
	for (int i = 0; router_protocols[i] && i < 64; i++)
		tick_due[i] = router_protocols[i]->tick ? 1 : 0;
	if (open_bus(&cfg, ep) < 0)
		return 1;
	ready_notify((int)core_opt.ready_fd);
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
