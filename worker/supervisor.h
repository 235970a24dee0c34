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
#include "bus_hand.h"
#include "peers.h"

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
	const char *template_argv[MAX_ARGS]; /* worker_argv with --template first */
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

/* A live worker: its pid and its bus control socket. */
struct worker {
	pid_t pid;
	struct bus_hand bus;
	struct peer_key peer; /* its client's address, for --max-per-ip */
	int conn;             /* the client, kept while the template forks for it; else -1 */
	bool forked;          /* a child of the template, not ours */
};

/* epoll tags: the listening, signal and timer fds by number; a worker's
 * control socket as EV_WORKER_CTL | pid; the template's as EV_TEMPLATE */
#define EV_WORKER_CTL (1ull << 40)
#define EV_TEMPLATE (1ull << 41)

/* Requests in flight to the template or waiting for room; more are spawned.
 * A burst of new connections waits here: a fork is far cheaper than a spawn. */
#define TEMPLATE_PENDING 1024

/* The worker template (worker/supervisor_template.c). */
struct template_state {
	pid_t pid; /* 0: not running */
	int fd;    /* our end of its control socket, or -1 */
	struct worker *pending[TEMPLATE_PENDING]; /* waiting for 'p' or 'n', oldest first */
	int head, npending;
	int nsent;      /* of those, the oldest nsent are sent; the others wait for room */
	bool watch_out; /* EPOLLOUT is watched on fd */
	int64_t heard_at; /* its last answer, or the request sent when none was out */
	int64_t started, restart_at;
	int backoff_ms;
	bool off; /* --no-worker-template, or the worker program refused to be one */
};

extern struct template_state T;


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
pid_t supervisor_spawn(const char *path, const char **argv, int conn, int ctl, const struct identity *id);
/* The exec path: a new switchboard-worker on conn (kept open: the caller's). */
bool worker_spawn(struct worker *w, int conn);
/* Watches a started worker's control socket: false if it could not. */
bool worker_register(struct worker *w);
void worker_ended(pid_t pid, int status);
/* A worker that never started (or is no longer tracked): its slot back. */
void worker_drop(struct worker *w);

void template_init(bool off);
void template_start(void);
/* Hands conn to the template for w (w->conn keeps it): false to spawn. */
bool template_give(struct worker *w, int conn);
void template_on_event(void);
/* The template's pid was reaped. */
void template_ended(int status);
void template_stop(int sig);
void supervisor_options(int argc, char **argv);
int supervisor_listen(void);
void supervisor_choose_users(void);
void supervisor_raise_fd_limit(void);
void supervisor_tune_children(void);

#endif
