/* loadgen: client connections, hand-made masked frames, the epoll loop. */
#include "loadgen.h"

enum loadgen_mode mode;
int soak_finished; /* set by the soak (loadgen_soak.c): closes from then on are expected */

int port, epfd;
const char *path = "/";
const char *req_headers = "";	/* more request header lines, each ending in \r\n */
struct conn *conns;
int nconns;
int src_addrs = 1;
volatile sig_atomic_t stop_flag;
long errors;
char first_error[200];
uint64_t rng = 0x9E3779B97F4A7C15ull;

uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "loadgen: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

void err(const char *fmt, ...)
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

void grow(char **buf, size_t *cap, size_t need)
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

void set_events(struct conn *c, int out)
{
	struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c };
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
	c->evout = out;
}

void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);	/* also removes it from epoll */
	c->fd = -1;
	c->st = ST_DONE;
	c->inlen = c->outlen = c->outoff = 0;
}

int conn_open(struct conn *c)
{
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		err("socket:%s", strerror(errno));
		c->st = ST_DONE;
		return -1;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (src_addrs > 1) {	/* more source addresses: more than one ephemeral port range */
		struct sockaddr_in src = { .sin_family = AF_INET };
		src.sin_addr.s_addr = htonl(INADDR_LOOPBACK + (uint32_t)(c->id % src_addrs));
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
		if (bind(c->fd, (struct sockaddr *)&src, sizeof src) < 0) {
			err("bind:%s", strerror(errno));
			conn_close(c);
			return -1;
		}
	}
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

void out_append(struct conn *c, const void *p, size_t n)
{
	if (c->outoff && c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	grow(&c->out, &c->outcap, c->outlen + n);
	memcpy(c->out + c->outlen, p, n);
	c->outlen += n;
}

/* A client frame's head (FIN, opcode, mask bit, length) into h; its length. */
static size_t frame_head(unsigned char h[10], int op, size_t n)
{
	h[0] = 0x80 | op;
	if (n < 126) {
		h[1] = 0x80 | n;
		return 2;
	}
	if (n < 65536) {
		h[1] = 0x80 | 126;
		h[2] = n >> 8;
		h[3] = n;
		return 4;
	}
	h[1] = 0x80 | 127;
	for (int i = 0; i < 8; i++)
		h[2 + i] = (uint64_t)n >> (56 - 8 * i);
	return 10;
}

/* A masked client frame, FIN set. */
void put_frame(struct conn *c, int op, const void *payload, size_t n)
{
	unsigned char h[14];
	size_t hl = frame_head(h, op, n);
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

/* A client frame masked with key 0: XOR with it is a no-op, so the payload
 * is copied as it is (the server unmasks anyway; RFC 6455 wants a random
 * key, which only matters through proxies). For bulk senders. */
void put_frame_unmasked_key(struct conn *c, int op, const void *payload, size_t n)
{
	unsigned char h[14];
	size_t hl = frame_head(h, op, n);
	memset(h + hl, 0, 4);
	out_append(c, h, hl + 4);
	out_append(c, payload, n);
}

/* Writes what it can; returns -1 if the connection died. */
int flush(struct conn *c)
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


void send_request(struct conn *c)
{
	char req[512];
	int n = snprintf(req, sizeof req,
			 "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			 "Sec-WebSocket-Version: 13\r\n%s\r\n", conn_path(c), port, req_headers);
	out_append(c, req, n);
	c->st = ST_HANDSHAKE;
}

void send_close(struct conn *c)
{
	static const unsigned char code[2] = { 0x03, 0xe8 };	/* 1000 */
	put_frame(c, 8, code, 2);
	c->st = ST_CLOSING;
}


/* Parses the upgrade response and any frames; returns -1 if closed. */
int process_input(struct conn *c)
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
				if (mode != M_CONN && !soak_finished)
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

void handle(struct conn *c, uint32_t ev)
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
				if ((c->st != ST_CLOSING || !c->got_close) && !soak_finished)
					err("read:%s", strerror(errno));
				conn_close(c);
				on_end(c);
				return;
			}
			if (r == 0) {
				if ((c->st != ST_CLOSING || !c->got_close) && !soak_finished)
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
void loop(int (*done)(void), double deadline, void (*tick)(double))
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

/* Closes every open connection (a close frame, then up to secs for the
 * ends), and drops what is left. */
void close_conns(double secs, int (*all_ended)(void))
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

/* What every load generator's main does first: SIGPIPE ignored, SIGTERM and
 * SIGINT to on_sig without SA_RESTART (a blocked wait returns), rng seeded. */
void loadgen_signals_and_seed(void (*on_sig)(int))
{
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = {.sa_handler = on_sig};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	rng ^= (uint64_t)getpid() << 20 ^ (uint64_t)time(NULL);
}

int never(void) { return stop_flag; }

void write_ready(const char *file, int ok, const char *fmt, ...)
{
	FILE *f = fopen(file, "w");
	if (!f)
		die("%s: %s", file, strerror(errno));
	va_list ap;
	va_start(ap, fmt);
	fprintf(f, "%s ", ok ? "ready" : "failed");
	vfprintf(f, fmt, ap);
	va_end(ap);
	fprintf(f, " errors=%ld first_error=%s\n", errors, first_error[0] ? first_error : "-");
	fclose(f);
}

static const struct soak *soak_now; /* for soak_back, which loop calls without arguments */
static int soak_back(void) { return *soak_now->got >= *soak_now->sent; }

int soak_run(const struct soak *s, int ok)
{
	if (ok) {
		running = 1;
		*s->t0 = now();
		loop(never, *s->t0 + 86400, s->tick);
		running = 0;
		stop_flag = 0;
		soak_now = s;
		loop(soak_back, now() + 15, NULL);
		if (*s->got < *s->sent)
			err("undelivered:%ld", *s->sent - *s->got);
	}
	printf("soak sent_%s=%ld delivered_%s=%ld errors=%ld first_error=%s\n", s->name, *s->sent, s->name, *s->got,
	       errors, first_error[0] ? first_error : "-");
	fflush(stdout);
	*s->over = 1;
	int rc = !ok || errors;
	loop(s->all_ended, now() + 120, NULL);
	return rc ? 1 : 0;
}
