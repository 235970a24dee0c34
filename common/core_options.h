/*
 * The core options of the three programs (supervisor, worker, router) in
 * one table, so that each process knows every option's name and owner: the
 * supervisor passes on its children's options, a worker refuses a router
 * option by name. Protocols' options come from their own tables
 * (proto/<name>/options.c), listed in the generated protocol_option_groups.
 */
#ifndef SB_CORE_OPTIONS_H
#define SB_CORE_OPTIONS_H
#include <stdbool.h>
#include <stdint.h>

#include "busauth.h"
#include "options.h"

struct core_options {
	/* supervisor */
	struct opt_list listen; /* HOST:PORT (supervisor), bus URL (router) */
	const char *state_dir, *router_url, *user, *worker_user, *worker_path, *router_path;
	bool no_router, no_worker_template;
	long max_connections, max_per_ip;
	/* worker */
	size_t max_message, client_backlog;
	struct opt_list origins, trust_proxy;
	int ping_interval_ms, ping_timeout_ms, handshake_timeout_ms, close_timeout_ms;
	bool no_sandbox, sandbox_log, proxy_protocol;
	long bus_fd; /* -1: the worker dials the bus itself */
	const char *static_dir; /* plain GET/HEAD files (worker/http.c); NULL: none */
	struct opt_list metrics_allow; /* CIDR ranges (common/cidr.h) */
	int http_router_timeout_ms;
	/* router */
	const char *tap_url;
	size_t worker_queue, router_memory;
	long allow_uid, bus_group; /* -1: not given */
	bool store_stats;
	struct opt_list allow_from; /* CIDR ranges of tcp:// workers (router/allowfrom.h) */
	const char *metrics_file;   /* the textfile; NULL: STATE/metrics.prom */
	/* all */
	const char *bus_key_file, *log_level, *log_to, *log_socket, *log_format;
	const char *config_file; /* --config; read before the flags (common/config.c) */
	bool check_config;       /* supervisor: check the options and exit */
	long ready_fd;           /* supervisor, router: -1, or s6's notification-fd */
	bool has_bus_key; /* read from --bus-key FILE */
	bool bus_key_from_ctl; /* worker, --bus-key -: the supervisor writes it first on --bus-fd */
	uint8_t bus_key[BUS_KEY_LEN];
};

extern struct core_options core_opt;
/* bus_key_read (common/busauth.h), set by each program before parsing (so
 * that the table does not make every user of it link the key code). */
extern int (*core_key_reader)(const char *path, uint8_t key[BUS_KEY_LEN], char *err, size_t errcap);
/* Generated from PROTOS (proto/registry.sh): NULL-terminated. */
extern const struct opt_group *const protocol_option_groups[];

/*
 * Sets the defaults and parses argv for process `self` with the core table
 * and every protocol's: -1 to run on, or the status to exit with (0 after
 * --help or --version, 2 for a usage error). p is for the supervisor's
 * pass_worker / pass_router; opt_free it when done.
 */
int core_options_parse(struct opt_parse *p, const char *prog, unsigned self, const char *usage_line, int argc,
		       char **argv);

#endif
