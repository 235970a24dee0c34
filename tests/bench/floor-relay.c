/* floor-relay — the floor of switchboard's process shape for the benchmark:
 * WSChat direct routing (init, identify, message; the same frames as
 * tests/bench/node-relay.js and tests/bench/lws-relay.c) done by one process
 * per connection that speaks WebSocket to its client and one router process
 * that routes, joined by a Unix stream socket each, as switchboard's workers
 * and router are. It does nothing else: no sandbox, no SP framing, no
 * envelopes, no limits, no logs, records of a 4-byte length and the bytes.
 * So a message at light load wakes the same three processes with the same
 * reads and writes as in switchboard, and what this costs per message is
 * what the shape costs on the machine, below anything switchboard can do.
 *
 *   floor-relay PORT     listens on 127.0.0.1:PORT until SIGTERM/SIGINT
 *
 * Built and run only by tests/bench/run.sh; never part of switchboard.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#define JSMN_STATIC
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#define MAXCONN 65536
#define RBUF (256 * 1024)
#define NBUCKET 4096

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* a growable byte buffer */
struct buf {
	char *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t c = b->cap ? b->cap : 4096;
		while (c < b->len + n)
			c *= 2;
		if (!(b->p = realloc(b->p, c)))
			die("realloc");
		b->cap = c;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

/* writes what it can; the rest stays (blocking sockets here, so all of it) */
static int flush(int fd, struct buf *b)
{
	size_t off = 0;
	while (off < b->len) {
		ssize_t w = write(fd, b->p + off, b->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	b->len = 0;
	return 0;
}

static void record(struct buf *b, const char *p, size_t n)
{
	uint32_t l = (uint32_t)n;
	put(b, &l, 4);
	put(b, p, n);
}

/* ---- the worker: one client ---- */

static int handshake(int cfd)
{
	char req[8192];
	size_t n = 0;
	char *end = NULL;
	while (!end) {
		ssize_t r = read(cfd, req + n, sizeof req - 1 - n);
		if (r <= 0)
			return -1;
		n += (size_t)r;
		req[n] = 0;
		end = strstr(req, "\r\n\r\n");
		if (!end && n == sizeof req - 1)
			return -1;
	}
	char *k = strcasestr(req, "\r\nSec-WebSocket-Key:");
	if (!k)
		return -1;
	k += 20;
	while (*k == ' ')
		k++;
	size_t kl = strcspn(k, "\r");
	char in[128];
	unsigned char md[20];
	unsigned int mdl;
	unsigned char acc[32];
	int il = snprintf(in, sizeof in, "%.*s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", (int)kl, k);
	if (il <= 0 || (size_t)il >= sizeof in || !EVP_Digest(in, (size_t)il, md, &mdl, EVP_sha1(), NULL))
		return -1;
	EVP_EncodeBlock(acc, md, 20);
	char resp[256];
	int rl = snprintf(resp, sizeof resp,
			  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			  "Sec-WebSocket-Accept: %s\r\n\r\n",
			  acc);
	return write(cfd, resp, (size_t)rl) == rl ? 0 : -1;
}

static void frame(struct buf *out, int op, const char *p, size_t n)
{
	unsigned char h[10];
	size_t hl = 2;
	h[0] = (unsigned char)(0x80 | op);
	if (n < 126)
		h[1] = (unsigned char)n;
	else if (n < 65536) {
		h[1] = 126, h[2] = (unsigned char)(n >> 8), h[3] = (unsigned char)n;
		hl = 4;
	} else {
		h[1] = 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
		hl = 10;
	}
	put(out, h, hl);
	put(out, p, n);
}

/* client frames in in[0..*len): each text frame's payload as a record to the
 * router; returns -1 on a close frame or a bad one */
static int client_frames(char *in, size_t *len, struct buf *to_router, struct buf *to_client)
{
	size_t off = 0;
	for (;;) {
		unsigned char *h = (unsigned char *)in + off;
		size_t avail = *len - off, hl = 6, n;
		if (avail < 2)
			break;
		n = h[1] & 127;
		if (n == 126) {
			hl = 8;
			if (avail < 4)
				break;
			n = (size_t)h[2] << 8 | h[3];
		} else if (n == 127) {
			hl = 14;
			if (avail < 10)
				break;
			n = 0;
			for (int i = 0; i < 8; i++)
				n = n << 8 | h[2 + i];
		}
		if (!(h[1] & 128) || n > RBUF / 2)
			return -1;
		if (avail < hl + n)
			break;
		unsigned char *m = h + hl - 4, *p = h + hl;
		for (size_t i = 0; i < n; i++)
			p[i] ^= m[i & 3];
		int op = h[0] & 15;
		if (op == 8) {
			frame(to_client, 8, (char *)p, n < 2 ? n : 2);
			return -1;
		}
		if (op == 1)
			record(to_router, (char *)p, n);
		off += hl + n;
	}
	memmove(in, in + off, *len - off);
	*len -= off;
	return 0;
}

/* router records in in[0..*len): each as a text frame to the client */
static void router_records(char *in, size_t *len, struct buf *to_client)
{
	size_t off = 0;
	uint32_t n;
	while (*len - off >= 4 && (memcpy(&n, in + off, 4), *len - off >= 4 + (size_t)n)) {
		frame(to_client, 1, in + off + 4, n);
		off += 4 + n;
	}
	memmove(in, in + off, *len - off);
	*len -= off;
}

static void worker(int cfd, int rfd)
{
	static char cin[RBUF], rin[RBUF];
	size_t cl = 0, rl = 0;
	struct buf to_router = {0}, to_client = {0};
	if (handshake(cfd) < 0)
		_exit(0);
	static const char init[] = "{\"type\":\"init\",\"message\":\"Please identify to receive messages.\"}";
	frame(&to_client, 1, init, sizeof init - 1);
	if (flush(cfd, &to_client) < 0)
		_exit(0);
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = cfd}, evs[2];
	epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev);
	ev.data.fd = rfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, rfd, &ev);
	for (;;) {
		int ne = epoll_wait(ep, evs, 2, -1);
		for (int i = 0; i < ne; i++) {
			int fd = evs[i].data.fd;
			char *in = fd == cfd ? cin : rin;
			size_t *l = fd == cfd ? &cl : &rl;
			ssize_t r = read(fd, in + *l, RBUF - *l);
			if (r <= 0)
				_exit(0);
			*l += (size_t)r;
			if (fd == rfd)
				router_records(rin, &rl, &to_client);
			else if (client_frames(cin, &cl, &to_router, &to_client) < 0) {
				flush(cfd, &to_client);
				_exit(0);
			}
		}
		/* one write per peer per turn, as switchboard's worker */
		if ((to_router.len && flush(rfd, &to_router) < 0) || (to_client.len && flush(cfd, &to_client) < 0))
			_exit(0);
	}
}

/* ---- the router ---- */

struct peer {
	int fd;
	char name[72];
	struct buf in, out;
	struct peer *hnext; /* name table chain */
	int dirty;	    /* on the dirty list: output to write this turn */
};
static struct peer *peers[MAXCONN];
static struct peer *names[NBUCKET];
static struct peer *dirty[MAXCONN];
static int ndirty;

static unsigned hash(const char *s, size_t n)
{
	unsigned h = 2166136261u;
	while (n--)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h % NBUCKET;
}

static struct peer *by_name(const char *s, size_t n)
{
	for (struct peer *p = names[hash(s, n)]; p; p = p->hnext)
		if (strlen(p->name) == n && !memcmp(p->name, s, n))
			return p;
	return NULL;
}

static void unname(struct peer *p)
{
	if (!p->name[0])
		return;
	struct peer **pp = &names[hash(p->name, strlen(p->name))];
	while (*pp && *pp != p)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = p->hnext;
	p->name[0] = 0;
}

static void mark(struct peer *p)
{
	if (!p->dirty)
		p->dirty = 1, dirty[ndirty++] = p;
}

static int tok_is(const char *js, const jsmntok_t *t, const char *s)
{
	size_t n = strlen(s);
	return t->type == JSMN_STRING && (size_t)(t->end - t->start) == n && !memcmp(js + t->start, s, n);
}

static void outcome(struct peer *p, int code, const char *msg)
{
	char m[160];
	int n = snprintf(m, sizeof m, "{\"type\":\"outcome\",\"success\":%s,\"message\":\"%s\",\"code\":%d}",
			 code == 300 ? "true" : "false", msg, code);
	record(&p->out, m, (size_t)n);
	mark(p);
}

static void route(struct peer *p, const char *js, size_t n)
{
	jsmn_parser jp;
	jsmntok_t t[32];
	jsmn_init(&jp);
	int nt = jsmn_parse(&jp, js, n, t, 32);
	if (nt < 1 || t[0].type != JSMN_OBJECT)
		return outcome(p, 400, "Malformed JSON!");
	const jsmntok_t *cmd = NULL, *name = NULL, *to = NULL, *msg = NULL;
	for (int i = 1; i + 1 < nt; i++) { /* top-level keys only: values here are strings */
		if (t[i].type != JSMN_STRING || t[i].parent != 0)
			continue;
		const jsmntok_t *v = &t[i + 1];
		if (tok_is(js, &t[i], "command"))
			cmd = v;
		else if (tok_is(js, &t[i], "name"))
			name = v;
		else if (tok_is(js, &t[i], "to"))
			to = v;
		else if (tok_is(js, &t[i], "message"))
			msg = v;
	}
	if (cmd && tok_is(js, cmd, "identify") && name && name->end - name->start < 72) {
		struct peer *o = by_name(js + name->start, (size_t)(name->end - name->start));
		if (o && o != p)
			return outcome(p, 305, "Client with that name already exists!");
		unname(p);
		snprintf(p->name, sizeof p->name, "%.*s", name->end - name->start, js + name->start);
		unsigned h = hash(p->name, strlen(p->name));
		p->hnext = names[h], names[h] = p;
		return outcome(p, 300, "Identified successfully!");
	}
	if (!cmd || !tok_is(js, cmd, "message") || !to || !msg)
		return outcome(p, 400, "Missing 'command' field!");
	struct peer *d = by_name(js + to->start, (size_t)(to->end - to->start));
	if (!d)
		return outcome(p, 404, "No client with that name is currently connected!");
	char head[128];
	int hl = snprintf(head, sizeof head, "{\"type\":\"message\",\"from\":\"%s\",\"message\":", p->name);
	int q = msg->type == JSMN_STRING; /* jsmn's string token excludes the quotes */
	uint32_t len = (uint32_t)(hl + (msg->end - msg->start) + 2 * q + 1);
	put(&d->out, &len, 4);
	put(&d->out, head, (size_t)hl);
	put(&d->out, js + msg->start - q, (size_t)(msg->end - msg->start + 2 * q));
	put(&d->out, "}", 1);
	mark(d);
}

static void router_read(struct peer *p)
{
	char tmp[RBUF];
	ssize_t r = read(p->fd, tmp, sizeof tmp);
	if (r <= 0) {
		unname(p);
		if (p->dirty) /* its output goes nowhere now */
			for (int i = 0; i < ndirty; i++)
				if (dirty[i] == p)
					dirty[i] = dirty[--ndirty];
		close(p->fd);
		peers[p->fd] = NULL;
		free(p->in.p);
		free(p->out.p);
		free(p);
		return;
	}
	put(&p->in, tmp, (size_t)r);
	size_t off = 0;
	uint32_t n;
	while (p->in.len - off >= 4 && (memcpy(&n, p->in.p + off, 4), p->in.len - off >= 4 + (size_t)n)) {
		route(p, p->in.p + off + 4, n);
		off += 4 + n;
	}
	memmove(p->in.p, p->in.p + off, p->in.len - off);
	p->in.len -= off;
}

/* one descriptor passed with one byte over the control socket */
struct fdmsg {
	char c;
	struct iovec iov;
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr m;
};

static struct msghdr *fdmsg_init(struct fdmsg *f)
{
	f->c = 0;
	f->iov = (struct iovec){&f->c, 1};
	f->m = (struct msghdr){.msg_iov = &f->iov, .msg_iovlen = 1, .msg_control = f->u.b, .msg_controllen = sizeof f->u.b};
	return &f->m;
}

static int recv_fd(int ctl)
{
	struct fdmsg f;
	struct msghdr *m = fdmsg_init(&f);
	if (recvmsg(ctl, m, 0) <= 0 || !CMSG_FIRSTHDR(m))
		exit(0);
	int fd;
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(m)), sizeof fd);
	return fd;
}

static void router(int ctl)
{
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = ctl}, evs[256];
	epoll_ctl(ep, EPOLL_CTL_ADD, ctl, &ev);
	for (;;) {
		int ne = epoll_wait(ep, evs, 256, -1);
		for (int i = 0; i < ne; i++) {
			int fd = evs[i].data.fd;
			if (fd == ctl) {
				int wfd = recv_fd(ctl);
				if (wfd >= MAXCONN)
					die("too many connections");
				peers[wfd] = calloc(1, sizeof *peers[wfd]);
				peers[wfd]->fd = wfd;
				ev.data.fd = wfd;
				epoll_ctl(ep, EPOLL_CTL_ADD, wfd, &ev);
			} else if (peers[fd])
				router_read(peers[fd]);
		}
		/* one write per worker per turn, as switchboard's router */
		for (int i = 0; i < ndirty; i++) {
			dirty[i]->dirty = 0;
			flush(dirty[i]->fd, &dirty[i]->out);
		}
		ndirty = 0;
	}
}

static void send_fd(int ctl, int fd)
{
	struct fdmsg f;
	struct msghdr *m = fdmsg_init(&f);
	struct cmsghdr *h = CMSG_FIRSTHDR(m);
	h->cmsg_level = SOL_SOCKET, h->cmsg_type = SCM_RIGHTS, h->cmsg_len = CMSG_LEN(sizeof fd);
	memcpy(CMSG_DATA(h), &fd, sizeof fd);
	if (sendmsg(ctl, m, 0) < 0)
		die("sendmsg");
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return fprintf(stderr, "usage: floor-relay PORT\n"), 2;
	signal(SIGCHLD, SIG_IGN); /* workers reaped by the kernel */
	signal(SIGPIPE, SIG_IGN);
	int ctl[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, ctl) < 0)
		die("socketpair");
	pid_t r = fork();
	if (r == 0) {
		close(ctl[0]);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		router(ctl[1]);
	}
	close(ctl[1]);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 4096) < 0)
		die("listen");
	for (;;) {
		int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* as switchboard's worker */
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			die("socketpair");
		pid_t w = fork();
		if (w == 0) {
			close(l), close(ctl[0]), close(sv[1]);
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			worker(c, sv[0]);
		}
		send_fd(ctl[0], sv[1]);
		close(c), close(sv[0]), close(sv[1]);
	}
}
