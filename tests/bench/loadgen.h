/* loadgen: what its parts share (see loadgen.c for what it does). */
#ifndef LOADGEN_H
#define LOADGEN_H
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>


enum { ST_CONNECTING, ST_HANDSHAKE, ST_OPEN, ST_CLOSING, ST_DONE };

struct conn {
	int fd, st, id;
	int kind;		/* soak: SK_CHAT, SK_MSG or SK_ECHO */
	int evout;		/* EPOLLOUT registered */
	int got_close;		/* server close frame seen */
	char *in;
	size_t inlen, incap;
	char *out;
	size_t outoff, outlen, outcap;
};

#define MAXP 8192
struct cpu_snap {
	int n;
	int pid[MAXP];
	char comm[MAXP][16];
	unsigned long long ticks[MAXP], csw[MAXP];
};

enum loadgen_mode { M_CONN, M_IDLE, M_HOLD, M_CHAT, M_MSG, M_FILL, M_BACKLOG, M_SOAK };
extern enum loadgen_mode mode;

/* loadgen_net.c: connections, frames, the event loop */
uint32_t rnd(void);
double now(void);
void die(const char *fmt, ...);
void err(const char *fmt, ...);
void grow(char **buf, size_t *cap, size_t need);
void set_events(struct conn *c, int out);
void conn_close(struct conn *c);
int conn_open(struct conn *c);
void out_append(struct conn *c, const void *p, size_t n);
void put_frame(struct conn *c, int op, const void *payload, size_t n);
void put_frame_unmasked_key(struct conn *c, int op, const void *payload, size_t n);
int flush(struct conn *c);
void send_request(struct conn *c);
void send_close(struct conn *c);
int process_input(struct conn *c);
void handle(struct conn *c, uint32_t ev);
void loop(int (*done)(void), double deadline, void (*tick)(double));
void close_conns(double secs, int (*all_ended)(void));
void loadgen_signals_and_seed(void (*on_sig)(int));
int never(void);		/* loop's done for "until SIGTERM or SIGINT" (stop_flag) */
/* The file a load generator writes once set up (soak.sh and the benches wait
 * for it): "ready" or "failed", what is up (fmt), errors=N first_error=E. */
void write_ready(const char *file, int ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The soak of loadgen_salty and loadgen_galene, after their set-up. */
struct soak {
	const char *name;		/* the result's sent_NAME= and delivered_NAME= */
	void (*tick)(double);		/* sends what is due, paced from *t0 */
	double *t0;			/* set to when the sending starts */
	const long *sent, *got;		/* messages sent, and delivered back */
	int (*all_ended)(void);		/* every connection has ended */
	int *over;			/* set once the result is out: ends are expected */
};
/* With the set-up gone well (ok): sends until SIGTERM, waits up to 15 s for
 * the rest to arrive; then the line "soak sent_NAME=S delivered_NAME=D
 * errors=E first_error=F" on stdout, and up to 120 s for the ends. The exit
 * status: 1 unless ok and no errors. */
int soak_run(const struct soak *s, int ok);
extern int port, epfd;
extern const char *path;
extern const char *req_headers;
extern struct conn *conns;
extern int nconns;
extern int src_addrs;		/* connect from 127.0.0.1 .. 127.0.0.src_addrs, round robin */
extern volatile sig_atomic_t stop_flag;
extern long errors;
extern char first_error[200];
extern uint64_t rng;

/* loadgen_cpu.c: CPU time and context switches from /proc */
ssize_t slurp(const char *fn, char *buf, size_t n);
int read_stat(int pid, int *ppid, unsigned long long *ticks, char comm[16]);
unsigned long long read_csw(int pid);
void cpu_snapshot(int root, struct cpu_snap *s);
double self_cpu_us(void);
void print_split(const struct cpu_snap *s0, struct cpu_snap *s1, double per);
void cpu_delta(const struct cpu_snap *a, const struct cpu_snap *b, const char *group,
		      double *us, double *csw);
/* A measured window: secs of the loop (with tick), the CPU of the process
 * tree at cpupid around it and the load generator's own. Large (two
 * snapshots): keep one static. */
struct window {
	struct cpu_snap s0, s1;
	double secs, gen_us;		/* elapsed; the load generator's CPU */
	double cpu, csw;		/* the tree's CPU (us) and context switches */
};
/* *flag (unless NULL) is 1 during the window only, e.g. &lat_on. */
void window_measure(struct window *w, int cpupid, double secs, void (*tick)(double), int *flag);

/* loadgen.c: the hooks each mode fills in */
const char *conn_path(struct conn *c);
void on_open(struct conn *c);
void on_text(struct conn *c, const char *p, size_t n);
void on_end(struct conn *c);	/* connection finished (EOF or error) */

/* loadgen.c: chat-mode state the Messaging modes share */
#define MAXSEQ (1L << 27)
#define PREFIX(p, n, lit) ((n) >= sizeof(lit) - 1 && memcmp((p), (lit), sizeof(lit) - 1) == 0)
extern int running;
extern long delivered, sent, seqno;
extern char payload[4096];
extern int payload_len;
extern unsigned char *seen;

/* loadgen_lat.c: chat delivery latency (send to receipt) */
#define LAT_RING (1L << 20)	/* send times kept: more than the messages ever in flight */
extern int lat_on;
void lat_init(void);
void lat_sent(long seq);
void lat_delivered(long seq);
void lat_print(void);

/* loadgen_msg.c: the Messaging modes */
extern int msg_total;
extern long msg_sent_online, msg_sent_offline, msg_delivered;
extern const char *msg_from, *msg_to;
extern long msg_count, msg_expect;
extern double msg_t_first, msg_t_done;
extern int nopen;
extern char *mbuf;
extern size_t mbuf_len, mbuf_cap;
void mb_reset(void);
void mb_add(const char *fmt, ...);
void mb_message(long id, const char *sid, const char *rid);
void msg_chain(struct conn *c);
void msg_on_text(struct conn *c, const char *p, size_t n);
void fill_send(struct conn *c);

/* loadgen.c: opening many connections at a bounded pace */
extern int nupgraded, nended;
void open_ramp(int n, int inflight, double secs);
void raise_nofile(long need);

/* loadgen_soak.c: the soak mode (mixed WSChat, Messaging and echo traffic) */
enum { SK_CHAT, SK_MSG, SK_ECHO, SK_N };
extern int soak_finished;
const char *soak_path(struct conn *c);
void soak_on_text(struct conn *c, const char *p, size_t n);
int soak_main(int argc, char **argv);

#endif
