/*
 * switchboard-router: one process, one loop, all shared state. Workers reach
 * it over a libnng polyamorous pair1 listener; its loop polls nng's
 * notification fds so that none of our code runs on nng's threads, except
 * the two pipe callbacks, which only check a peer and post a pipe id.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/bus.h"
#include "../common/clock.h"
#include "../common/log.h"
#include "router.h"
#include "store.h"

#include <nng/protocol/pair1/pair.h>

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
	uid_t allow_uid;
	bool store_stats;
	struct router_options opt;
};

static struct router R;
static uid_t allowed_uid;

/* nng thread: refuse ipc peers that are not us (or root). */
static void on_pipe_add(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)ev;
	(void)arg;
	uint64_t uid;
	if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &uid) == 0 && uid != 0 && uid != allowed_uid) {
		log_warn("refusing bus peer with uid %llu", (unsigned long long)uid);
		nng_pipe_close(p);
	}
}

/* nng thread: hand the id of a departed pipe to the loop. */
static void on_pipe_rem(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)ev;
	(void)arg;
	uint32_t id = p.id;
	ssize_t w = write(R.pipe_events[1], &id, sizeof id); /* atomic: < PIPE_BUF */
	(void)w;
}

static int open_bus(const struct router_config *cfg)
{
	int rv;
	if ((rv = nng_pair1_open_poly(&R.bus)) != 0) {
		log_error("cannot open the bus socket: %s", nng_strerror(rv));
		return -1;
	}
	nng_socket_set_size(R.bus, NNG_OPT_RECVMAXSZ, BUS_MAX_MESSAGE);
	nng_socket_set_int(R.bus, NNG_OPT_SENDBUF, 8192);
	nng_socket_set_int(R.bus, NNG_OPT_RECVBUF, 8192);
	nng_pipe_notify(R.bus, NNG_PIPE_EV_ADD_PRE, on_pipe_add, NULL);
	nng_pipe_notify(R.bus, NNG_PIPE_EV_REM_POST, on_pipe_rem, NULL);
	for (int i = 0; i < cfg->nlisten; i++) {
		nng_listener l;
		const char *url = cfg->listen[i];
		if ((rv = nng_listener_create(&l, R.bus, url)) != 0) {
			log_error("bad bus address %s: %s", url, nng_strerror(rv));
			return -1;
		}
		if (strncmp(url, "ipc://", 6) == 0) {
			nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0660);
			unlink(url + 6); /* a stale socket of a killed router */
		}
		if ((rv = nng_listener_start(l, 0)) != 0) {
			log_error("cannot listen on %s: %s", url, nng_strerror(rv));
			return -1;
		}
		log_info("bus listening on %s", url);
	}
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
		"                        too slow (default 4194304)\n"
		"  --allow-uid UID       uid allowed on ipc:// besides our own and root\n"
		"  --messaging-max-size BYTES   largest stored message (default 65536)\n"
		"  --messaging-max-queue N      stored messages per recipient (default 10000)\n"
		"  --store-stats         print `<recipient> <stored messages>` lines and exit\n"
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

static void parse_options(int argc, char **argv, struct router_config *cfg)
{
	static const struct option opts[] = {
		{"state-dir", required_argument, 0, 's'}, {"listen", required_argument, 0, 'l'},
		{"tap", required_argument, 0, 't'},       {"worker-queue", required_argument, 0, 'q'},
		{"allow-uid", required_argument, 0, 'u'}, {"log-level", required_argument, 0, 'L'},
		{"messaging-max-size", required_argument, 0, 'M'}, {"messaging-max-queue", required_argument, 0, 'Q'},
		{"store-stats", no_argument, 0, 'S'},
		{"help", no_argument, 0, 'h'},            {"version", no_argument, 0, 'V'},
		{0, 0, 0, 0}};
	*cfg = (struct router_config){.state_dir = "var", .queue_limit = 4u << 20, .allow_uid = getuid(),
				      .opt = {.messaging_max_size = 65536, .messaging_max_queue = 10000}};
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
		case 'q': cfg->queue_limit = strtoull(optarg, NULL, 10); break;
		case 'u': cfg->allow_uid = (uid_t)strtoul(optarg, NULL, 10); break;
		case 'M': cfg->opt.messaging_max_size = strtoull(optarg, NULL, 10); break;
		case 'Q': cfg->opt.messaging_max_queue = strtol(optarg, NULL, 10); break;
		case 'S': cfg->store_stats = true; break;
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

static int nng_fd(nng_socket s, const char *opt)
{
	int fd = -1;
	nng_socket_get_int(s, opt, &fd);
	return fd;
}

static void drain_bus(void)
{
	/* Bounded so that departures and flushing get a turn under load. */
	for (int i = 0; i < 512; i++) {
		nng_msg *m;
		if (nng_recvmsg(R.bus, &m, NNG_FLAG_NONBLOCK) != 0)
			return;
		workers_on_bus_message(&R, m);
	}
}

static void drain_pipe_events(void)
{
	uint32_t ids[64];
	ssize_t n;
	while ((n = read(R.pipe_events[0], ids, sizeof ids)) > 0)
		for (ssize_t i = 0; i < n / (ssize_t)sizeof ids[0]; i++)
			workers_on_pipe_gone(&R, ids[i]);
}

static int run(int sig_fd)
{
	int recv_fd = nng_fd(R.bus, NNG_OPT_RECVFD), send_fd = nng_fd(R.bus, NNG_OPT_SENDFD);
	for (;;) {
		struct pollfd pfd[4] = {
			{.fd = recv_fd, .events = POLLIN},
			{.fd = R.pipe_events[0], .events = POLLIN},
			{.fd = sig_fd, .events = POLLIN},
			{.fd = R.send_blocked ? send_fd : -1, .events = POLLIN},
		};
		int64_t due = metrics_due(), commit = store_commit_due();
		if (commit && commit < due)
			due = commit;
		int64_t wait = due - clock_ms();
		if (wait < 0)
			wait = 0;
		if (poll(pfd, 4, (int)wait) < 0 && errno != EINTR)
			return 1;
		if (pfd[2].revents) {
			struct signalfd_siginfo si;
			if (read(sig_fd, &si, sizeof si) == sizeof si)
				log_info("signal %u: stopping", si.ssi_signo);
			return 0;
		}
		if (pfd[0].revents)
			drain_bus();
		if (pfd[1].revents)
			drain_pipe_events();
		workers_flush(&R);
		if (store_commit_due() && clock_ms() >= store_commit_due())
			store_commit();
		metrics_tick(&R);
	}
}

int main(int argc, char **argv)
{
	log_init("switchboard-router");
	struct router_config cfg;
	parse_options(argc, argv, &cfg);
	if (cfg.store_stats) {
		int rc = store_print_stats(cfg.state_dir);
		free(cfg.owned[0]);
		free(cfg.owned[1]);
		return rc;
	}
	allowed_uid = cfg.allow_uid;
	mkdir(cfg.state_dir, 0750);
	R.opt = cfg.opt;
	R.queue_limit = cfg.queue_limit;
	R.state_dir = cfg.state_dir;
	if (pipe2(R.pipe_events, O_NONBLOCK | O_CLOEXEC) < 0 || workers_init(&R) < 0)
		return 1;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (store_open(cfg.state_dir) < 0)
		return 1;
	for (int i = 0; router_protocols[i]; i++)
		if (router_protocols[i]->init && router_protocols[i]->init(&R) < 0) {
			log_error("protocol %s failed to start", router_protocols[i]->name);
			return 1;
		}
	if (strcmp(cfg.tap_url, "none") != 0 && tap_open(&R, cfg.tap_url) < 0)
		log_warn("running without a tap");
	if (open_bus(&cfg) < 0)
		return 1;
	int rc = run(sig_fd);
	metrics_write(&R);
	nng_close(R.bus);
	tap_close(&R);
	for (int i = 0; router_protocols[i]; i++)
		if (router_protocols[i]->fini)
			router_protocols[i]->fini(&R);
	workers_fini(&R);
	store_close();
	free(cfg.owned[0]);
	free(cfg.owned[1]);
	return rc;
}
