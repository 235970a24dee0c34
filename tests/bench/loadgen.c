/* loadgen — WebSocket load generator for tests/bench/run.sh.
 *
 * One thread, one epoll loop, hand-made masked frames, libc only, so the
 * generator costs as little CPU as possible and treats every server alike.
 * It only ever connects to 127.0.0.1.
 *
 *   loadgen conn  PORT PATH N CONC
 *       open N connections, CONC in flight; each: connect, upgrade, send a
 *       close frame, read the server's close frame and EOF, close.
 *   loadgen idle  PORT N READYFILE [PREFIX]
 *       open N connections to /wschat, identify them as i0..iN-1 (PREFIX:
 *       another letter than i), write "ready ..." to READYFILE, then wait
 *       for SIGTERM/SIGINT (at most 120 s) and close them all cleanly.
 *   loadgen chat  PORT N WINDOW RATE WARMUP SECS PAYLOAD CPUPID
 *       N clients on /wschat identified as c0..cN-1 send direct messages
 *       (a PAYLOAD-byte string) to random other clients.
 *       RATE 0: closed loop. Each client starts WINDOW messages; every
 *       delivery a client receives makes it send one more (N*WINDOW in
 *       flight), so this measures the most the server can relay.
 *       RATE > 0: open loop, RATE messages/s in all from random clients,
 *       paced every millisecond (at most N*WINDOW undelivered).
 *       After WARMUP s, counts deliveries for SECS s, and the CPU time
 *       (utime+stime, /proc/PID/stat) of CPUPID and its children.
 *       Each payload starts with a sequence number and the addressee, so a
 *       message delivered twice or to the wrong client counts as an error.
 *   loadgen msg   PORT NONLINE NTOTAL WINDOW WARMUP SECS PAYLOAD CPUPID
 *       Messaging (/messaging?client_id=mI): of the client_ids m0..mNTOTAL-1
 *       only m0..mNONLINE-1 connect. Each sends `send` frames of one message
 *       ({"id":SEQ,"sid":..,"rid":..,"body":PAYLOAD letters}) to random
 *       others among all NTOTAL; a message to an offline id is followed at
 *       once by another, until one goes to a connected id, so WINDOW messages
 *       to connected ids are in flight per client (closed loop) and about as
 *       many to offline ids are stored along the way. Every delivery frame
 *       is answered with a `read` frame for its ids, then each delivered
 *       message makes its receiver send the next. After WARMUP s, counts
 *       sends and deliveries for SECS s and the server's CPU (as chat); then
 *       stops sending, waits until every message to a connected id has
 *       arrived (and 0.3 s for the reads), and closes. Prints the totals
 *       sent to offline ids, so that the caller can compare them with the
 *       store. A message delivered twice or to the wrong id is an error.
 *   loadgen fill  PORT FROM TO COUNT PAYLOAD
 *       Connects to /messaging as FROM, sends COUNT messages (ids 0..COUNT-1,
 *       100 per `send` frame) to TO, closes cleanly.
 *   loadgen backlog PORT TO COUNT RUNS CPUPID
 *       RUNS times: connects to /messaging as TO and times from before
 *       connect() until COUNT messages have arrived (counted across frames
 *       of at most 500; they must be ids 0..COUNT-1 in order; at most 10 s),
 *       then closes cleanly without `read`, so the next run gets the same
 *       backlog. Prints each run's ms, the median (also of the time to the
 *       first message), and the server's CPU ms per run (processes alive at
 *       the end of each run, so including that run's worker; clock ticks,
 *       so only a rough figure).
 *
 * Results go to stdout as one line of key=value pairs.
 */
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
	int evout;		/* EPOLLOUT registered */
	int got_close;		/* server close frame seen */
	char *in;
	size_t inlen, incap;
	char *out;
	size_t outoff, outlen, outcap;
};

static int port, epfd;
static const char *path = "/";
static struct conn *conns;
static int nconns;
static volatile sig_atomic_t stop_flag;
static long errors;
static char first_error[200];
static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "loadgen: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

static void err(const char *fmt, ...)
{
	errors++;
	if (!first_error[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(first_error, sizeof first_error, fmt, ap);
		va_end(ap);
		for (char *p = first_error; *p; p++)
			if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
				*p = '_';
	}
}

static void grow(char **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return;
	size_t n = *cap ? *cap : 4096;
	while (n < need)
		n *= 2;
	*buf = realloc(*buf, n);
	if (!*buf)
		die("out of memory");
	*cap = n;
}

static void set_events(struct conn *c, int out)
{
	struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c };
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
	c->evout = out;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);	/* also removes it from epoll */
	c->fd = -1;
	c->st = ST_DONE;
	c->inlen = c->outlen = c->outoff = 0;
}

static int conn_open(struct conn *c)
{
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		err("socket:%s", strerror(errno));
		c->st = ST_DONE;
		return -1;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->st = ST_CONNECTING;
	c->got_close = 0;
	c->inlen = c->outlen = c->outoff = 0;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
		err("connect:%s", strerror(errno));
		conn_close(c);
		return -1;
	}
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		die("epoll_ctl add: %s", strerror(errno));
	c->evout = 1;
	return 0;
}

static void out_append(struct conn *c, const void *p, size_t n)
{
	if (c->outoff && c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	grow(&c->out, &c->outcap, c->outlen + n);
	memcpy(c->out + c->outlen, p, n);
	c->outlen += n;
}

/* A masked client frame, FIN set. */
static void put_frame(struct conn *c, int op, const void *payload, size_t n)
{
	unsigned char h[14];
	size_t hl;
	h[0] = 0x80 | op;
	if (n < 126) {
		h[1] = 0x80 | n;
		hl = 2;
	} else if (n < 65536) {
		h[1] = 0x80 | 126;
		h[2] = n >> 8;
		h[3] = n;
		hl = 4;
	} else {
		h[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (uint64_t)n >> (56 - 8 * i);
		hl = 10;
	}
	uint32_t m = rnd();
	memcpy(h + hl, &m, 4);
	const unsigned char *mk = h + hl;
	hl += 4;
	if (c->outoff && c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	grow(&c->out, &c->outcap, c->outlen + hl + n);
	memcpy(c->out + c->outlen, h, hl);
	unsigned char *d = (unsigned char *)c->out + c->outlen + hl;
	const unsigned char *s = payload;
	for (size_t i = 0; i < n; i++)
		d[i] = s[i] ^ mk[i & 3];
	c->outlen += hl + n;
}

/* Writes what it can; returns -1 if the connection died. */
static int flush(struct conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t w = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			err("write:%s", strerror(errno));
			conn_close(c);
			return -1;
		}
		c->outoff += w;
	}
	if (c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	int want = c->outlen > 0;
	if (want != c->evout)
		set_events(c, want);
	return 0;
}

static const char *conn_path(struct conn *c);

static void send_request(struct conn *c)
{
	char req[512];
	int n = snprintf(req, sizeof req,
			 "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			 "Sec-WebSocket-Version: 13\r\n\r\n", conn_path(c), port);
	out_append(c, req, n);
	c->st = ST_HANDSHAKE;
}

static void send_close(struct conn *c)
{
	static const unsigned char code[2] = { 0x03, 0xe8 };	/* 1000 */
	put_frame(c, 8, code, 2);
	c->st = ST_CLOSING;
}

/* ---- per-mode hooks ---- */
enum { M_CONN, M_IDLE, M_CHAT, M_MSG, M_FILL, M_BACKLOG } mode;
static void on_open(struct conn *c);
static void on_text(struct conn *c, const char *p, size_t n);
static void on_end(struct conn *c);	/* connection finished (EOF or error) */

/* Parses the upgrade response and any frames; returns -1 if closed. */
static int process_input(struct conn *c)
{
	size_t off = 0;
	if (c->st == ST_HANDSHAKE) {
		char *e = memmem(c->in, c->inlen, "\r\n\r\n", 4);
		if (!e) {
			if (c->inlen > 8192) {
				err("handshake:too_long");
				return -1;
			}
			return 0;
		}
		if (c->inlen < 12 || memcmp(c->in, "HTTP/1.1 101", 12) != 0) {
			err("handshake:%.40s", c->in);
			return -1;
		}
		if (!memmem(c->in, e - c->in, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", 28)) {
			err("handshake:bad_accept");
			return -1;
		}
		off = e + 4 - c->in;
		c->st = ST_OPEN;
		on_open(c);
		if (c->fd < 0)
			return -1;
	}
	for (;;) {
		size_t avail = c->inlen - off;
		const unsigned char *h = (const unsigned char *)c->in + off;
		if (avail < 2)
			break;
		int op = h[0] & 0x0f;
		if (h[1] & 0x80) {
			err("frame:masked_from_server");
			return -1;
		}
		uint64_t len = h[1] & 0x7f;
		size_t hl = 2;
		if (len == 126) {
			if (avail < 4)
				break;
			len = (h[2] << 8) | h[3];
			hl = 4;
		} else if (len == 127) {
			if (avail < 10)
				break;
			len = 0;
			for (int i = 0; i < 8; i++)
				len = (len << 8) | h[2 + i];
			hl = 10;
		}
		if (avail < hl + len)
			break;
		const char *p = (const char *)h + hl;
		off += hl + len;
		if (op == 1 || op == 0 || op == 2) {
			if (c->st == ST_OPEN)
				on_text(c, p, len);
			if (c->fd < 0)
				return -1;
		} else if (op == 9) {
			if (c->st == ST_OPEN)
				put_frame(c, 10, p, len);
		} else if (op == 8) {
			c->got_close = 1;
			if (c->st == ST_OPEN) {	/* server-initiated: answer */
				if (mode != M_CONN)
					err("server_closed:%u", len >= 2 ? (unsigned)(((unsigned char)p[0] << 8) | (unsigned char)p[1]) : 0);
				send_close(c);
			}
		}
	}
	if (off) {
		memmove(c->in, c->in + off, c->inlen - off);
		c->inlen -= off;
	}
	return 0;
}

static void handle(struct conn *c, uint32_t ev)
{
	if (c->st == ST_CONNECTING) {
		if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		int e = 0;
		socklen_t l = sizeof e;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &l);
		if (e) {
			err("connect:%s", strerror(e));
			conn_close(c);
			on_end(c);
			return;
		}
		send_request(c);
		if (flush(c) < 0)
			on_end(c);
		return;
	}
	if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		for (int rounds = 0; rounds < 4; rounds++) {
			grow(&c->in, &c->incap, c->inlen + 65536);
			ssize_t r = read(c->fd, c->in + c->inlen, c->incap - c->inlen);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN)
					break;
				if (c->st != ST_CLOSING || !c->got_close)
					err("read:%s", strerror(errno));
				conn_close(c);
				on_end(c);
				return;
			}
			if (r == 0) {
				if (c->st != ST_CLOSING || !c->got_close)
					err("eof_in_state_%d", c->st);
				else
					process_input(c);
				conn_close(c);
				on_end(c);
				return;
			}
			c->inlen += r;
			if (process_input(c) < 0) {
				conn_close(c);
				on_end(c);
				return;
			}
			if ((size_t)r < 65536)
				break;
		}
	}
	if (c->fd >= 0 && (c->outlen > c->outoff || (ev & EPOLLOUT)))
		if (flush(c) < 0)
			on_end(c);
}

/* Runs the loop until done() or the deadline (absolute, monotonic). */
static void loop(int (*done)(void), double deadline, void (*tick)(double))
{
	struct epoll_event evs[256];
	while (!done()) {
		double t = now();
		if (tick)
			tick(t);
		if (done())
			break;
		if (t >= deadline)
			break;
		int ms = (int)((deadline - t) * 1000) + 1;
		if (ms > (tick ? 1 : 50))
			ms = tick ? 1 : 50;
		int n = epoll_wait(epfd, evs, 256, ms);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait: %s", strerror(errno));
		}
		for (int i = 0; i < n; i++)
			handle(evs[i].data.ptr, evs[i].events);
	}
}

/* ---- CPU accounting: utime+stime and context switches of a process and
 * its children (all threads), grouped by command name ---- */
#define MAXP 8192
struct cpu_snap {
	int n;
	int pid[MAXP];
	char comm[MAXP][16];
	unsigned long long ticks[MAXP], csw[MAXP];
};

static ssize_t slurp(const char *fn, char *buf, size_t n)
{
	int fd = open(fn, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t r = read(fd, buf, n - 1);
	close(fd);
	if (r >= 0)
		buf[r] = 0;
	return r;
}

static int read_stat(int pid, int *ppid, unsigned long long *ticks, char comm[16])
{
	char fn[64], buf[1024];
	snprintf(fn, sizeof fn, "/proc/%d/stat", pid);
	if (slurp(fn, buf, sizeof buf) <= 0)
		return -1;
	char *l = strchr(buf, '('), *p = strrchr(buf, ')');
	if (!l || !p)
		return -1;
	snprintf(comm, 16, "%.*s", (int)(p - l - 1), l + 1);
	/* fields after comm: 3 state, 4 ppid, ... 14 utime, 15 stime */
	char *save, *tok = strtok_r(p + 1, " ", &save);
	unsigned long long ut = 0, st = 0;
	for (int f = 3; tok; f++, tok = strtok_r(NULL, " ", &save)) {
		if (f == 4)
			*ppid = atoi(tok);
		else if (f == 14)
			ut = strtoull(tok, NULL, 10);
		else if (f == 15) {
			st = strtoull(tok, NULL, 10);
			break;
		}
	}
	*ticks = ut + st;
	return 0;
}

/* voluntary + involuntary context switches, summed over the threads */
static unsigned long long read_csw(int pid)
{
	char fn[320], buf[2048];
	unsigned long long tot = 0;
	snprintf(fn, sizeof fn, "/proc/%d/task", pid);
	DIR *d = opendir(fn);
	if (!d)
		return 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(fn, sizeof fn, "/proc/%d/task/%s/status", pid, de->d_name);
		if (slurp(fn, buf, sizeof buf) <= 0)
			continue;
		for (char *q = buf; (q = strstr(q, "ctxt_switches:")); q += 14)
			tot += strtoull(q + 14, NULL, 10);
	}
	closedir(d);
	return tot;
}

static void cpu_snapshot(int root, struct cpu_snap *s)
{
	s->n = 0;
	if (root <= 0)
		return;
	DIR *d = opendir("/proc");
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)) && s->n < MAXP) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		int pid = atoi(de->d_name), pp = 0;
		if (read_stat(pid, &pp, &s->ticks[s->n], s->comm[s->n]) < 0)
			continue;
		if (pid == root || pp == root) {
			s->pid[s->n] = pid;
			s->csw[s->n] = read_csw(pid);
			s->n++;
		}
	}
	closedir(d);
}

/* CPU µs and context switches between a and b of the processes alive at b,
 * in all (group NULL) or for one command name. */
static void cpu_delta(const struct cpu_snap *a, const struct cpu_snap *b, const char *group,
		      double *us, double *csw)
{
	unsigned long long tot = 0, cs = 0;
	for (int i = 0; i < b->n; i++) {
		if (group && strcmp(group, b->comm[i]) != 0)
			continue;
		unsigned long long before = 0, cbefore = 0;
		for (int j = 0; j < a->n; j++)
			if (a->pid[j] == b->pid[i]) {
				before = a->ticks[j];
				cbefore = a->csw[j];
				break;
			}
		tot += b->ticks[i] - before;
		cs += b->csw[i] - cbefore;
	}
	*us = tot * 1e6 / sysconf(_SC_CLK_TCK);
	*csw = cs;
}

static double self_cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec;
}

/* Per command name: " us_per_msg:NAME=… cs_per_msg:NAME=…" for PER messages. */
static void print_split(const struct cpu_snap *s0, struct cpu_snap *s1, double per)
{
	for (int i = 0; i < s1->n; i++) {
		int dup = 0;
		for (int j = 0; j < i; j++)
			dup |= !strcmp(s1->comm[i], s1->comm[j]);
		if (dup)
			continue;
		double cpu, csw;
		cpu_delta(s0, s1, s1->comm[i], &cpu, &csw);
		for (char *q = s1->comm[i]; *q; q++)
			if (*q == ' ' || *q == '=')
				*q = '_';
		printf(" us_per_msg:%s=%.2f cs_per_msg:%s=%.2f", s1->comm[i], cpu / per, s1->comm[i], csw / per);
	}
}

/* ---- conn mode ---- */
static long conn_total, conn_started, conn_finished, conn_ok;
static int conn_done(void) { return conn_finished >= conn_total; }

static void conn_next(struct conn *c)
{
	while (conn_started < conn_total) {
		conn_started++;
		if (conn_open(c) == 0)
			return;
		conn_finished++;
	}
}

/* ---- idle / chat shared ---- */
static int nidentified, nended;
static char name_prefix = 'c';

static void send_identify(struct conn *c)
{
	char m[96];
	int n = snprintf(m, sizeof m, "{\"command\":\"identify\",\"name\":\"%c%d\"}", name_prefix, c->id);
	put_frame(c, 1, m, n);
}

/* ---- chat mode ---- */
static int window;
static int running;		/* sending allowed */
static long delivered, sent, seqno;	/* sent: for pacing; seqno: messages */
static double rate, pace_t0;
static char payload[4096];
static int payload_len;
static unsigned char *seen;	/* bitmap of delivered sequence numbers */
#define MAXSEQ (1L << 27)

static void send_message(struct conn *c)
{
	if (c->st != ST_OPEN)
		return;
	int to = rnd() % (nconns - 1);
	if (to >= c->id)
		to++;
	char m[4096 + 128];
	/* payload: "SSSSSSSSSS:TTTTT:" (sequence, addressee), then letters */
	char head[32];
	snprintf(head, sizeof head, "%010ld:%05d:", seqno++, to);
	memcpy(payload, head, 17);
	int n = snprintf(m, sizeof m, "{\"command\":\"message\",\"to\":\"c%d\",\"message\":\"%.*s\"}", to,
			 payload_len, payload);
	put_frame(c, 1, m, n);
	sent++;
}

/* Open loop: sends what the clock says is due, each from a random client. */
static void pace(double t)
{
	if (!running || rate <= 0)
		return;
	long due = (long)((t - pace_t0) * rate);
	if (due - sent > rate / 10)	/* fell behind by 100 ms: do not burst */
		sent = due - (long)(rate / 10);
	while (sent < due && seqno - delivered < (long)nconns * window) {
		struct conn *c = &conns[rnd() % nconns];
		if (c->st != ST_OPEN)
			return;
		send_message(c);
		if (flush(c) < 0)
			on_end(c);
	}
}

#define PREFIX(p, n, lit) ((n) >= sizeof(lit) - 1 && memcmp((p), (lit), sizeof(lit) - 1) == 0)

/* ---- messaging modes: msg, fill, backlog ---- */
static int msg_total;			/* msg: client_ids m0..msg_total-1 */
static long msg_sent_online, msg_sent_offline, msg_delivered;	/* msg: totals */
static const char *msg_from, *msg_to;	/* fill: FROM, TO; backlog: TO */
static long msg_count, msg_expect;	/* fill/backlog: messages; backlog: next id due */
static double msg_t_first, msg_t_done;	/* backlog: when the first / last one arrived */
static int nopen;
static char *mbuf;			/* frame being built */
static size_t mbuf_len, mbuf_cap;

static void mb_reset(void) { mbuf_len = 0; }
static void mb_add(const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(mbuf + mbuf_len, mbuf_cap - mbuf_len, fmt, ap);
		va_end(ap);
		if (n >= 0 && mbuf_len + n < mbuf_cap) {
			mbuf_len += n;
			return;
		}
		grow(&mbuf, &mbuf_cap, mbuf_len + (n > 0 ? n : 0) + 1);
	}
}
static void mb_message(long id, const char *sid, const char *rid)
{
	mb_add("{\"id\":%ld,\"sid\":\"%s\",\"rid\":\"%s\",\"body\":\"%.*s\"}", id, sid, rid, payload_len, payload);
}

static const char *conn_path(struct conn *c)
{
	static char p[300];
	if (mode == M_MSG)
		snprintf(p, sizeof p, "/messaging?client_id=m%d", c->id);
	else if (mode == M_FILL)
		snprintf(p, sizeof p, "/messaging?client_id=%s", msg_from);
	else if (mode == M_BACKLOG)
		snprintf(p, sizeof p, "/messaging?client_id=%s", msg_to);
	else
		return path;
	return p;
}

/* msg: sends one message to a random other id; while that id is offline,
 * one more, so that each call puts exactly one online message in flight. */
static void msg_chain(struct conn *c)
{
	if (c->st != ST_OPEN)
		return;
	char sid[16], rid[16];
	snprintf(sid, sizeof sid, "m%d", c->id);
	for (;;) {
		int to = rnd() % (msg_total - 1);
		if (to >= c->id)
			to++;
		snprintf(rid, sizeof rid, "m%d", to);
		mb_reset();
		mb_add("{\"send\":[");
		mb_message(seqno++, sid, rid);
		mb_add("]}");
		put_frame(c, 1, mbuf, mbuf_len);
		if (to < nconns) {
			msg_sent_online++;
			return;
		}
		msg_sent_offline++;
	}
}

/* A {"messages":[…]} frame: checks each message is for us (and, for the
 * backlog, in order), answers msg mode with `read` and the next sends. */
static void msg_on_text(struct conn *c, const char *p, size_t n)
{
	if (!PREFIX(p, n, "{\"messages\":[")) {
		err("unexpected:%.*s", (int)(n < 120 ? n : 120), p);
		return;
	}
	char me[140];
	int ml = mode == M_MSG ? snprintf(me, sizeof me, "m%d", c->id) : snprintf(me, sizeof me, "%s", msg_to);
	const char *q = p + 13, *e = p + n;
	int k = 0;
	mb_reset();
	mb_add("{\"read\":[");
	while (q < e && *q == '{') {
		char *end;
		const char *r, *rq, *close;
		if (!PREFIX(q, (size_t)(e - q), "{\"id\":") || (strtol(q + 6, &end, 10), end == q + 6) ||
		    !(r = memmem(end, e - end, ",\"rid\":\"", 8)) || !(rq = memchr(r + 8, '"', e - r - 8)) ||
		    !(close = memchr(rq, '}', e - rq))) {
			err("bad_delivery:%.*s", (int)(e - q < 120 ? e - q : 120), q);
			return;
		}
		long id = strtol(q + 6, NULL, 10);
		if (rq - (r + 8) != ml || memcmp(r + 8, me, ml) != 0)
			err("misdelivered:id_%ld_for_%.*s_to_%s", id, (int)(rq - (r + 8)), r + 8, me);
		if (mode == M_BACKLOG) {
			if (id != msg_expect)
				err("out_of_order:got_%ld_expected_%ld", id, msg_expect);
			msg_expect++;
		} else {
			if (id < 0 || id >= MAXSEQ)
				err("bad_sequence:%ld", id);
			else if (seen[id >> 3] & (1 << (id & 7)))
				err("duplicate:id_%ld", id);
			else
				seen[id >> 3] |= 1 << (id & 7);
			msg_delivered++;
			mb_add("%s{\"id\":%ld}", k ? "," : "", id);
		}
		k++;
		q = close + 1;
		if (q < e && *q == ',')
			q++;
	}
	if (q >= e || *q != ']')
		err("bad_frame_end:%.*s", (int)(e - q < 60 ? e - q : 60), q);
	if (k > 500)
		err("frame_of_%d_messages", k);	/* the spec: at most 500 per frame */
	if (mode == M_BACKLOG) {
		if (!msg_t_first)
			msg_t_first = now();
		if (msg_expect >= msg_count && !msg_t_done)
			msg_t_done = now();
		return;
	}
	if (k == 0)
		return;
	mb_add("]}");
	put_frame(c, 1, mbuf, mbuf_len);
	for (int i = 0; running && i < k; i++)
		msg_chain(c);
}

/* fill: everything at once, 100 messages per frame, then close. */
static void fill_send(struct conn *c)
{
	for (long i = 0; i < msg_count;) {
		mb_reset();
		mb_add("{\"send\":[");
		for (int k = 0; k < 100 && i < msg_count; k++, i++) {
			if (k)
				mb_add(",");
			mb_message(i, msg_from, msg_to);
		}
		mb_add("]}");
		put_frame(c, 1, mbuf, mbuf_len);
	}
	send_close(c);
}

static void on_open(struct conn *c)
{
	if (mode == M_CONN)
		send_close(c);
	else if (mode == M_FILL)
		fill_send(c);
	else if (mode == M_MSG)
		nopen++;
	/* wschat: wait for init */
}

static void on_text(struct conn *c, const char *p, size_t n)
{
	if (mode == M_CONN || mode == M_FILL)
		return;
	if (mode == M_MSG || mode == M_BACKLOG)
		return msg_on_text(c, p, n);
	if (PREFIX(p, n, "{\"type\":\"message\"")) {
		delivered++;
		const char *q = memmem(p, n, ",\"message\":\"", 12);
		if (!q || (size_t)(p + n - q) < 12 + 17 + 2 || q[12 + 10] != ':' || q[12 + 16] != ':') {
			err("bad_delivery:%.*s", (int)(n < 120 ? n : 120), p);
		} else {
			long seq = strtol(q + 12, NULL, 10);
			int to = atoi(q + 12 + 11);
			if (to != c->id)
				err("misdelivered:seq_%ld_for_c%d_to_c%d", seq, to, c->id);
			else if (seq < 0 || seq >= MAXSEQ || !seen)
				err("bad_sequence:%ld", seq);
			else if (seen[seq >> 3] & (1 << (seq & 7)))
				err("duplicate:seq_%ld", seq);
			else
				seen[seq >> 3] |= 1 << (seq & 7);
		}
		if (running && rate <= 0)
			send_message(c);
	} else if (PREFIX(p, n, "{\"type\":\"init\"")) {
		send_identify(c);
	} else if (PREFIX(p, n, "{\"type\":\"outcome\"")) {
		if (memmem(p, n, "\"code\":300", 10))
			nidentified++;
		else
			err("outcome:%.*s", (int)(n < 120 ? n : 120), p);
	} else if (PREFIX(p, n, "{\"type\":\"quit\"")) {
		/* another client left (only during teardown) */
	} else {
		err("unexpected:%.*s", (int)(n < 120 ? n : 120), p);
	}
}

static void on_end(struct conn *c)
{
	if (mode == M_CONN) {
		conn_finished++;
		if (c->got_close)
			conn_ok++;
		conn_next(c);
	} else {
		nended++;
	}
}

static int all_identified(void) { return nidentified + nended >= nconns; }
static int all_open(void) { return nopen + nended >= nconns; }
static int all_delivered(void) { return msg_delivered >= msg_sent_online || nended > 0 || stop_flag; }
static int backlog_done(void) { return msg_expect >= msg_count || nended > 0 || stop_flag; }
static int all_ended(void) { return nended >= nconns; }
static int never(void) { return stop_flag; }

static void open_all(int n)
{
	nconns = n;
	conns = calloc(n, sizeof *conns);
	for (int i = 0; i < n; i++) {
		conns[i].id = i;
		conns[i].fd = -1;
		if (conn_open(&conns[i]) < 0)
			nended++;
	}
}

static void close_all(double secs)
{
	for (int i = 0; i < nconns; i++) {
		struct conn *c = &conns[i];
		if (c->fd >= 0 && c->st == ST_OPEN) {
			send_close(c);
			if (flush(c) < 0)
				on_end(c);
		}
	}
	loop(all_ended, now() + secs, NULL);
	for (int i = 0; i < nconns; i++)
		if (conns[i].fd >= 0)
			conn_close(&conns[i]);
}

static void on_signal(int s) { (void)s; stop_flag = 1; }

/* Median of v[0..n-1] (sorts a copy); 0 for none. */
static double median(const double *v, int n)
{
	double s[100];
	if (n <= 0 || n > 100)
		return 0;
	for (int i = 0; i < n; i++) {
		int j = i;
		while (j > 0 && s[j - 1] > v[i]) {
			s[j] = s[j - 1];
			j--;
		}
		s[j] = v[i];
	}
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void usage(void)
{
	fprintf(stderr, "usage: loadgen conn PORT PATH N CONC\n"
		"       loadgen idle PORT N READYFILE [PREFIX]\n"
		"       loadgen chat PORT N WINDOW RATE WARMUP SECS PAYLOAD CPUPID\n"
		"       loadgen msg PORT NONLINE NTOTAL WINDOW WARMUP SECS PAYLOAD CPUPID\n"
		"       loadgen fill PORT FROM TO COUNT PAYLOAD\n"
		"       loadgen backlog PORT TO COUNT RUNS CPUPID\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		usage();
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	rng ^= (uint64_t)getpid() << 20 ^ (uint64_t)time(NULL);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	port = atoi(argv[2]);
	if (port <= 0 || port > 65535)
		usage();

	if (!strcmp(argv[1], "conn") && argc == 6) {
		mode = M_CONN;
		path = argv[3];
		conn_total = atol(argv[4]);
		int conc = atoi(argv[5]);
		if (conc > conn_total)
			conc = conn_total;
		nconns = conc;
		conns = calloc(conc, sizeof *conns);
		double t0 = now();
		for (int i = 0; i < conc; i++) {
			conns[i].id = i;
			conns[i].fd = -1;
			conn_next(&conns[i]);
		}
		loop(conn_done, t0 + 60, NULL);
		double t = now() - t0;
		printf("conns=%ld ok=%ld secs=%.3f rate=%.0f errors=%ld first_error=%s\n", conn_finished, conn_ok, t,
		       conn_ok / t, errors, first_error[0] ? first_error : "-");
		return conn_ok == conn_total ? 0 : 1;
	}
	if (!strcmp(argv[1], "idle") && (argc == 5 || argc == 6)) {
		mode = M_IDLE;
		path = "/wschat";
		name_prefix = argc == 6 ? argv[5][0] : 'i';
		open_all(atoi(argv[3]));
		loop(all_identified, now() + 20, NULL);
		FILE *f = fopen(argv[4], "w");
		if (!f)
			die("%s: %s", argv[4], strerror(errno));
		fprintf(f, "%s identified=%d errors=%ld first_error=%s\n",
			nidentified == nconns ? "ready" : "failed", nidentified, errors,
			first_error[0] ? first_error : "-");
		fclose(f);
		loop(never, now() + 120, NULL);	/* until SIGTERM */
		close_all(3);
		return 0;
	}
	if (!strcmp(argv[1], "chat") && argc == 10) {
		mode = M_CHAT;
		path = "/wschat";
		int n = atoi(argv[3]);
		window = atoi(argv[4]);
		rate = atof(argv[5]);
		double warm = atof(argv[6]), secs = atof(argv[7]);
		int plen = atoi(argv[8]);
		int cpupid = atoi(argv[9]);
		if (n < 2 || n > 99999 || window < 1 || plen < 17 || plen >= (int)sizeof payload)
			usage();
		payload_len = plen;
		seen = calloc(MAXSEQ / 8, 1);
		for (int i = 0; i < plen; i++)
			payload[i] = 'a' + i % 26;
		open_all(n);
		loop(all_identified, now() + 20, NULL);
		if (nidentified != n) {
			printf("delivered=0 secs=0 rate=0 cpu_us=0 us_per_msg=0 gen_us_per_msg=0 procs=0 errors=%ld "
			       "first_error=identify_failed(%d/%d):%s\n", errors, nidentified, n,
			       first_error[0] ? first_error : "-");
			close_all(2);
			return 1;
		}
		running = 1;
		pace_t0 = now();
		for (int w = 0; rate <= 0 && w < window; w++)
			for (int i = 0; i < n; i++)
				send_message(&conns[i]);
		for (int i = 0; i < n; i++)
			if (conns[i].fd >= 0 && flush(&conns[i]) < 0)
				on_end(&conns[i]);
		static struct cpu_snap s0, s1;
		void (*tick)(double) = rate > 0 ? pace : NULL;
		loop(never, now() + warm, tick);
		long d0 = delivered;
		double g0 = self_cpu_us();
		cpu_snapshot(cpupid, &s0);
		double t0 = now();
		loop(never, t0 + secs, tick);
		double t1 = now();
		cpu_snapshot(cpupid, &s1);
		double g1 = self_cpu_us();
		long d = delivered - d0;
		running = 0;
		double cpu, csw;
		cpu_delta(&s0, &s1, NULL, &cpu, &csw);
		double el = t1 - t0, dd = d ? d : 1;
		printf("delivered=%ld secs=%.3f rate=%.0f cpu_us=%.0f us_per_msg=%.2f cs_per_msg=%.2f gen_us_per_msg=%.2f "
		       "procs=%d", d, el, d / el, cpu, cpu / dd, csw / dd, (g1 - g0) / dd, s1.n);
		print_split(&s0, &s1, dd);
		printf(" errors=%ld first_error=%s\n", errors, first_error[0] ? first_error : "-");
		fflush(stdout);
		close_all(3);
		return errors ? 1 : 0;
	}
	if (!strcmp(argv[1], "msg") && argc == 10) {
		mode = M_MSG;
		int n = atoi(argv[3]);
		msg_total = atoi(argv[4]);
		window = atoi(argv[5]);
		double warm = atof(argv[6]), secs = atof(argv[7]);
		int plen = atoi(argv[8]);
		int cpupid = atoi(argv[9]);
		if (n < 1 || msg_total < 2 || msg_total < n || msg_total > 99999 || window < 1 || plen < 1 ||
		    plen >= (int)sizeof payload)
			usage();
		payload_len = plen;
		for (int i = 0; i < plen; i++)
			payload[i] = 'a' + i % 26;
		seen = calloc(MAXSEQ / 8, 1);
		open_all(n);
		loop(all_open, now() + 20, NULL);
		if (nopen != n) {
			printf("delivered=0 stored=0 secs=0 rate_stored=0 rate_delivered=0 cpu_us=0 us_per_msg=0 errors=%ld "
			       "first_error=open_failed(%d/%d):%s\n", errors, nopen, n, first_error[0] ? first_error : "-");
			close_all(2);
			return 1;
		}
		running = 1;
		for (int w = 0; w < window; w++)
			for (int i = 0; i < n; i++)
				msg_chain(&conns[i]);
		for (int i = 0; i < n; i++)
			if (conns[i].fd >= 0 && flush(&conns[i]) < 0)
				on_end(&conns[i]);
		static struct cpu_snap s0, s1;
		loop(never, now() + warm, NULL);
		long d0 = msg_delivered, on0 = msg_sent_online, off0 = msg_sent_offline;
		double g0 = self_cpu_us();
		cpu_snapshot(cpupid, &s0);
		double t0 = now();
		loop(never, t0 + secs, NULL);
		double t1 = now();
		cpu_snapshot(cpupid, &s1);
		double g1 = self_cpu_us();
		long d = msg_delivered - d0, st = msg_sent_online - on0 + msg_sent_offline - off0;
		running = 0;
		/* drain: everything to online ids arrives, then their reads get through */
		loop(all_delivered, now() + 10, NULL);
		loop(never, now() + 0.3, NULL);
		double cpu, csw;
		cpu_delta(&s0, &s1, NULL, &cpu, &csw);
		double el = t1 - t0, ss = st ? st : 1;
		if (msg_delivered != msg_sent_online)
			err("undelivered:%ld", msg_sent_online - msg_delivered);
		printf("delivered=%ld stored=%ld secs=%.3f rate_delivered=%.0f rate_stored=%.0f cpu_us=%.0f us_per_msg=%.2f "
		       "cs_per_msg=%.2f gen_us_per_msg=%.2f procs=%d", d, st, el, d / el, st / el, cpu, cpu / ss, csw / ss,
		       (g1 - g0) / ss, s1.n);
		print_split(&s0, &s1, ss);
		printf(" sent_online_total=%ld sent_offline_total=%ld delivered_total=%ld errors=%ld first_error=%s\n",
		       msg_sent_online, msg_sent_offline, msg_delivered, errors, first_error[0] ? first_error : "-");
		fflush(stdout);
		close_all(3);
		return errors ? 1 : 0;
	}
	if (!strcmp(argv[1], "fill") && argc == 7) {
		mode = M_FILL;
		msg_from = argv[3];
		msg_to = argv[4];
		msg_count = atol(argv[5]);
		int plen = atoi(argv[6]);
		if (msg_count < 1 || plen < 1 || plen >= (int)sizeof payload || strlen(msg_from) > 128 ||
		    strlen(msg_to) > 128)
			usage();
		payload_len = plen;
		for (int i = 0; i < plen; i++)
			payload[i] = 'a' + i % 26;
		double t0 = now();
		open_all(1);
		loop(all_ended, t0 + 60, NULL);
		if (conns[0].fd >= 0) {
			err("fill_not_finished");
			conn_close(&conns[0]);
		}
		printf("sent=%ld secs=%.3f errors=%ld first_error=%s\n", msg_count, now() - t0, errors,
		       first_error[0] ? first_error : "-");
		return errors ? 1 : 0;
	}
	if (!strcmp(argv[1], "backlog") && argc == 7) {
		mode = M_BACKLOG;
		msg_to = argv[3];
		msg_count = atol(argv[4]);
		int runs = atoi(argv[5]), cpupid = atoi(argv[6]);
		if (msg_count < 1 || runs < 1 || runs > 100 || strlen(msg_to) > 128)
			usage();
		double ms[100], first_ms[100], cpu_ms = 0;
		int done = 0;
		static struct cpu_snap s0, s1;
		nconns = 1;
		conns = calloc(1, sizeof *conns);
		conns[0].fd = -1;
		printf("runs=%d count=%ld ms=", runs, msg_count);
		for (int r = 0; r < runs && !stop_flag; r++) {
			nended = 0;
			msg_expect = 0;
			msg_t_first = msg_t_done = 0;
			cpu_snapshot(cpupid, &s0);
			double t0 = now();
			if (conn_open(&conns[0]) < 0)
				break;
			loop(backlog_done, t0 + 10, NULL);
			ms[r] = ((msg_t_done ? msg_t_done : now()) - t0) * 1e3;
			first_ms[r] = ((msg_t_first ? msg_t_first : now()) - t0) * 1e3;
			cpu_snapshot(cpupid, &s1);
			double cpu, csw;
			cpu_delta(&s0, &s1, NULL, &cpu, &csw);
			cpu_ms += cpu / 1e3;
			if (msg_expect != msg_count)
				err("incomplete:%ld/%ld", msg_expect, msg_count);
			printf("%s%.1f", r ? "," : "", ms[r]);
			close_all(5);
			if (errors)
				break;
			done++;
		}
		double med = median(ms, done), min = done ? ms[0] : 0;
		for (int r = 1; r < done; r++)
			if (ms[r] < min)
				min = ms[r];
		printf(" median_ms=%.1f min_ms=%.1f first_frame_median_ms=%.1f rate=%.0f cpu_ms_per_run=%.1f errors=%ld "
		       "first_error=%s\n", med, min, median(first_ms, done), med > 0 ? msg_count / (med / 1e3) : 0,
		       done ? cpu_ms / done : 0, errors, first_error[0] ? first_error : "-");
		return errors || done < runs ? 1 : 0;
	}
	usage();
}
