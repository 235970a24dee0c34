/*
 * The core options table (core_options.h): every option of the supervisor,
 * the worker and the router that is not a protocol's, with its default,
 * bounds and owners. Derived values (the router URL from the state dir) are
 * worked out by each program after parsing.
 */
#include "core_options.h"

#include <stdio.h>
#include <string.h>

#include "../proto/websocket/forwarded.h"
#include "bus.h"
#include "config.h"
#include "cidr.h"
#include "log.h"

#ifndef SWITCHBOARD_VERSION
#define SWITCHBOARD_VERSION "0.1.0"
#endif

struct core_options core_opt = {.bus_fd = -1, .allow_uid = -1, .bus_group = -1, .ready_fd = -1};

#define S OPT_SUPERVISOR
#define W OPT_WORKER
#define R OPT_ROUTER
#define BUS_NOTE "so that bus messages fit in the 8 MiB bus limit"

int (*core_key_reader)(const char *path, uint8_t key[BUS_KEY_LEN], char *err, size_t errcap);

/*
 * Every process reads the key file itself, but for workers under the
 * supervisor: they run as another user who may not read it, so the
 * supervisor reads it and gives them "--bus-key -", the key coming on their
 * control socket (--bus-fd) before the sandbox (worker/worker.c).
 */
static int read_key(unsigned self, const char *path, const char **why)
{
	static char err[300];
	if (self == W && strcmp(path, "-") == 0) {
		core_opt.bus_key_from_ctl = true;
		return 0;
	}
	if (!core_key_reader)
		return 0;
	if (core_key_reader(path, core_opt.bus_key, err, sizeof err) < 0) {
		*why = err;
		return -1;
	}
	core_opt.has_bus_key = true;
	return 0;
}

static int set_log_level(unsigned self, const char *name, const char **why)
{
	(void)self;
	if (log_level_parse(name) < 0) {
		*why = "unknown log level (error, warn, info, debug)";
		return -1;
	}
	log_level_option(name);
	return 0;
}

static int set_log_to(unsigned self, const char *name, const char **why)
{
	(void)self;
	if (log_set_sink(name) < 0) {
		*why = "not one of auto, stderr, syslog, none";
		return -1;
	}
	return 0;
}

static int set_log_socket(unsigned self, const char *path, const char **why)
{
	(void)self;
	if (log_set_syslog_path(path) < 0) {
		*why = "empty";
		return -1;
	}
	return 0;
}

static int set_log_format(unsigned self, const char *name, const char **why)
{
	(void)self;
	if (log_set_format(name) < 0) {
		*why = "not one of text, json";
		return -1;
	}
	return 0;
}

static int check_cidr(unsigned self, const char *value, const char **why)
{
	(void)self;
	struct cidr c;
	if (cidr_parse(value, &c) < 0) {
		*why = "not an address range (ADDR or ADDR/BITS, IPv4 or IPv6)";
		return -1;
	}
	return 0;
}

static const struct opt core_table[] = {
	{"listen", OPT_LIST, "HOST:PORT", NULL, "listen address, repeatable; [::1]:8080 for IPv6 (default "
	 "127.0.0.1:8080; systemd LISTEN_FDS are used when given)", S, &core_opt.listen, 0, 0, NULL, NULL},
	{"listen", OPT_LIST, "URL", NULL, "bus address, repeatable (default ipc://DIR/bus.ipc)", R,
	 &core_opt.listen, 0, 0, NULL, NULL},
	{"state-dir", OPT_STR, "DIR", "var", "bus socket, tap and store", S | R, &core_opt.state_dir, 0, 0, NULL,
	 NULL},
	{"router-url", OPT_STR, "URL", NULL, "bus address of the router (supervisor: default ipc://DIR/bus.ipc; "
	 "worker: default $SWITCHBOARD_ROUTER_URL or ipc://var/bus.ipc)", S | W, &core_opt.router_url, 0, 0, NULL,
	 NULL},
	{"no-router", OPT_FLAG, NULL, NULL, "do not start a router; one runs elsewhere at --router-url", S,
	 &core_opt.no_router, 0, 0, NULL, NULL},
	{"max-connections", OPT_INT, "N", "4096", "live connections; beyond, HTTP 503", S,
	 &core_opt.max_connections, 0, 0, NULL, NULL},
	{"max-per-ip", OPT_INT, "N", "256", "live connections per client address, IPv6 by /64; beyond, HTTP 429 "
	 "(0: no cap)", S, &core_opt.max_per_ip, 0, 0x7fffffff, NULL, NULL},
	{"user", OPT_STR, "USER", NULL, "run the router as USER (started as root)", S, &core_opt.user, 0, 0, NULL,
	 NULL},
	{"worker-user", OPT_STR, "USER", NULL, "run the workers as USER, never root nor --user's user (started "
	 "as root; default switchboard-worker, else nobody)", S, &core_opt.worker_user, 0, 0, NULL, NULL},
	{"worker", OPT_STR, "PATH", NULL, "worker program (default: next to this one)", S, &core_opt.worker_path,
	 0, 0, NULL, NULL},
	{"no-worker-template", OPT_FLAG, NULL, NULL, "spawn (exec) every worker, instead of forking it from a "
	 "pre-started worker template", S, &core_opt.no_worker_template, 0, 0, NULL, NULL},
	{"router", OPT_STR, "PATH", NULL, "router program (default: next to this one)", S, &core_opt.router_path,
	 0, 0, NULL, NULL},
	{"max-message", OPT_SIZE, NULL, "1048576", "largest client message", W, &core_opt.max_message, 1,
	 BUS_MAX_CLIENT_MESSAGE, BUS_NOTE, NULL},
	{"allow-origin", OPT_LIST, "ORIGIN", NULL, "accept browsers from ORIGIN too, besides this host's own (repeatable; * for any)", W,
	 &core_opt.origins, 0, 0, NULL, NULL},
	{"ping-interval", OPT_SECONDS, NULL, "30", "keep-alive ping after this idle time (0: off)", W,
	 &core_opt.ping_interval_ms, 0, 0, NULL, NULL},
	{"ping-timeout", OPT_SECONDS, NULL, "60", "drop a client silent this long", W, &core_opt.ping_timeout_ms,
	 0, 0, NULL, NULL},
	{"handshake-timeout", OPT_SECONDS, NULL, "10", "time allowed for the HTTP upgrade", W,
	 &core_opt.handshake_timeout_ms, 0, 0, NULL, NULL},
	{"close-timeout", OPT_SECONDS, NULL, "5", "wait for the client's close reply", S | W,
	 &core_opt.close_timeout_ms, 0, 0, NULL, NULL},
	{"client-backlog", OPT_SIZE, NULL, "1048576", "unsent output before the client counts as slow", W,
	 &core_opt.client_backlog, 1, 1LL << 40, NULL, NULL},
	{"no-sandbox", OPT_FLAG, NULL, NULL, "do not enter the seccomp sandbox", W, &core_opt.no_sandbox, 0, 0,
	 NULL, NULL},
	{"proxy-protocol", OPT_FLAG, NULL, NULL, "every connection starts with a PROXY protocol v1 or v2 header "
	 "(haproxy, stunnel): the client's address is taken from it; without one it is closed", W,
	 &core_opt.proxy_protocol, 0, 0, NULL, NULL},
	{"trust-proxy", OPT_LIST, "ADDR[/BITS]", NULL, "front ends whose X-Forwarded-For (the client's address) and "
	 "X-Forwarded-Proto (https) are believed (repeatable)", S | W, &core_opt.trust_proxy, 0, 0, NULL, check_cidr},
	{"sandbox-log", OPT_FLAG, NULL, NULL, "debugging: a system call the sandbox refuses is logged and fails "
	 "with ENOSYS instead of killing the worker", W, &core_opt.sandbox_log, 0, 0, NULL, NULL},
	{"static-dir", OPT_STR, "DIR", NULL, "serve plain GET/HEAD for paths no protocol claims from the files in DIR",
	 W, &core_opt.static_dir, 0, 0, NULL, NULL},
	{"metrics-allow", OPT_LIST, "CIDR", NULL, "addresses that may GET /metrics, repeatable (default 127.0.0.0/8 "
	 "and ::1; others get 403)", S | W, &core_opt.metrics_allow, 0, 0, NULL, check_cidr},
	{"http-router-timeout", OPT_SECONDS, NULL, "5", "wait this long for the router's answer to a plain HTTP "
	 "request (then 504)", W, &core_opt.http_router_timeout_ms, 0, 600, NULL, NULL},
	{"bus-fd", OPT_INT, "FD", NULL, "ask the supervisor on FD for bus connections (it passes this)", W,
	 &core_opt.bus_fd, 0, 0x7fffffff, NULL, NULL},
	{"tap", OPT_STR, "URL", NULL, "PUB tap address, or \"none\" (default ipc://DIR/tap.ipc)", R,
	 &core_opt.tap_url, 0, 0, NULL, NULL},
	{"worker-queue", OPT_SIZE, NULL, "4194304", "queued for one worker before its client is closed as too "
	 "slow, its pipe's output included (at least 65536 is used)", R, &core_opt.worker_queue, 0,
	 BUS_MAX_MESSAGE, BUS_NOTE, NULL},
	{"router-memory", OPT_SIZE, NULL, "536870912", "bytes queued for all workers together; past it the "
	 "largest queues' clients are closed (0: no limit)", R, &core_opt.router_memory, 0, 0, NULL, NULL},
	{"allow-uid", OPT_INT, "UID", NULL, "uid allowed on ipc:// besides our own and root", R,
	 &core_opt.allow_uid, 0, 0xfffffffe, NULL, NULL},
	{"bus-group", OPT_INT, "GID", NULL, "group of the ipc:// bus socket (mode 0660; the tap is 0600)", R,
	 &core_opt.bus_group, 0, 0xfffffffe, NULL, NULL},
	{"allow-from", OPT_LIST, "CIDR", NULL, "addresses that may be workers on a tcp:// bus, repeatable (default "
	 "loopback only; needed to listen off loopback)", R, &core_opt.allow_from, 0, 0, NULL, check_cidr},
	{"metrics-file", OPT_STR, "PATH", NULL, "write the metrics textfile here, for node_exporter (default "
	 "DIR/metrics.prom; rewritten each second, atomically)", R, &core_opt.metrics_file, 0, 0, NULL, NULL},
	{"store-stats", OPT_FLAG, NULL, NULL, "print a [name] section per protocol with stored state, and exit", R,
	 &core_opt.store_stats, 0, 0, NULL, NULL},
	{"bus-key", OPT_STR, "FILE", NULL, "pre-shared key of the bus (64 hex digits, mode 0600); needed for a "
	 "tcp:// bus off loopback (worker: - for the key from the supervisor on --bus-fd)", OPT_ALL, &core_opt.bus_key_file, 0, 0, NULL, read_key},
	{"log-level", OPT_STR, "LEVEL", NULL, "error, warn, info or debug (default info, or $SWITCHBOARD_LOG)", OPT_ALL, &core_opt.log_level, 0, 0,
	 NULL, set_log_level},
	{"log-to", OPT_STR, "SINK", "auto", "stderr, syslog or none; auto: stderr, unless stderr is a client's "
	 "connection (inetd, xinetd), then syslog", OPT_ALL, &core_opt.log_to, 0, 0, NULL, set_log_to},
	{"log-socket", OPT_STR, "PATH", "/dev/log", "the syslog socket for --log-to syslog", OPT_ALL,
	 &core_opt.log_socket, 0, 0, NULL, set_log_socket},
	{"log-format", OPT_STR, "FORMAT", "text", "text, or json: one object per line, for log shippers", OPT_ALL,
	 &core_opt.log_format, 0, 0, NULL, set_log_format},
	/* one entry per owner, so that the supervisor keeps these and does not
	 * pass them on: its children get the file's options as flags, and a
	 * readiness descriptor is one process's */
	{"config", OPT_STR, "FILE", NULL, "read options from FILE (default " CONFIG_DEFAULT_PATH " when it exists; "
	 "none: no file); flags override it", S, &core_opt.config_file, 0, 0, NULL, NULL},
	{"config", OPT_STR, "FILE", NULL, "read this program's options from FILE (default " CONFIG_DEFAULT_PATH
	 " when it exists; none: no file); flags override it", W | R,
	 &core_opt.config_file, 0, 0, NULL, NULL},
	{"check-config", OPT_FLAG, NULL, NULL, "check the configuration file and the flags, every program's "
	 "options, and exit (0, or 2 with the file, line and reason)", S, &core_opt.check_config, 0, 0, NULL, NULL},
	{"ready-fd", OPT_INT, "FD", NULL, "once serving, write a newline to FD and close it (s6's notification-fd)",
	 S, &core_opt.ready_fd, 0, 0x7fffffff, NULL, NULL},
	{"ready-fd", OPT_INT, "FD", NULL, "once serving, write a newline to FD and close it (s6's notification-fd)",
	 R, &core_opt.ready_fd, 0, 0x7fffffff, NULL, NULL},
	{.name = NULL},
};
static const struct opt_group core_group = {"core", core_table};

#define MAX_GROUPS 64

int core_options_parse(struct opt_parse *p, const char *prog, unsigned self, const char *usage_line, int argc,
		       char **argv)
{
	static const struct opt_group *groups[MAX_GROUPS + 2];
	int n = 0;
	groups[n++] = &core_group;
	for (int i = 0; protocol_option_groups[i] && n <= MAX_GROUPS; i++)
		groups[n++] = protocol_option_groups[i];
	groups[n] = NULL;
	*p = (struct opt_parse){.prog = prog, .self = self, .groups = groups, .usage_line = usage_line,
				.version = SWITCHBOARD_VERSION};
	if (opt_defaults(p) < 0)
		return 2;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help-man") == 0) {
			opt_man(p, stdout);
			return 0;
		}
		if (strcmp(argv[i], "--help-config") == 0) {
			config_example(p, stdout);
			return 0;
		}
	}
	int rc = config_load(p, argc, argv, CONFIG_DEFAULT_PATH);
	if (rc >= 0)
		return rc;
	return opt_parse_argv(p, argc, argv);
}
