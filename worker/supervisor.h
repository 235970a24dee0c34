/*
 * The supervisor's state, shared by its set-up (worker/supervisor_setup.c)
 * and its loop (worker/supervisor.c). One supervisor per process.
 */
#ifndef SB_SUPERVISOR_H
#define SB_SUPERVISOR_H
#include <stdbool.h>
#include <stdint.h>
#include <limits.h>
#include <sys/types.h>

#include "../common/busauth.h"
#include "../common/hmap.h"

#define MAX_LISTEN 16
#define MAX_ARGS 64

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
	int router_ready_fd; /* read end of the router's --ready-fd pipe, or -1 */
	bool ready;          /* READY=1 / --ready-fd said (once) */
	int router_backoff_ms;
	bool stopping;
	int exit_status; /* the supervisor's, once stopped: the router's when it ended first */
	int64_t stop_deadline;
};

extern struct supervisor S;


/* Who a child runs as: started as root, the router and the workers each drop
 * to their own user between vfork and exec, so neither ever runs a line of
 * its own code with more than that. */
struct identity {
	bool drop;
	uid_t uid;
	gid_t gid;
};

extern struct identity router_id, worker_id;

void die(const char *what) __attribute__((noreturn)); /* log_fatal with errno */
void supervisor_options(int argc, char **argv);
int supervisor_listen(void);
void supervisor_choose_users(void);
void supervisor_raise_fd_limit(void);

#endif
