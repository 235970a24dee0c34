#include "sp.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <linux/sockios.h>
#include <unistd.h>

int sp_addr_parse(const char *url, struct sp_addr *a)
{
	memset(a, 0, sizeof *a);
	if (strncmp(url, "ipc://", 6) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)&a->sa;
		const char *path = url + 6;
		if (strlen(path) == 0 || strlen(path) >= sizeof un->sun_path)
			return -1;
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, path);
		a->salen = sizeof *un;
		a->transport = SP_IPC;
		return 0;
	}
	if (strncmp(url, "tcp://", 6) != 0)
		return -1;
	char host[256];
	const char *hp = url + 6, *colon;
	size_t hlen;
	if (*hp == '[') {
		const char *close = strchr(hp, ']');
		if (!close || close[1] != ':')
			return -1;
		hp++;
		hlen = (size_t)(close - hp);
		colon = close + 1;
	} else {
		colon = strrchr(hp, ':');
		if (!colon)
			return -1;
		hlen = (size_t)(colon - hp);
	}
	if (hlen == 0 || hlen >= sizeof host)
		return -1;
	memcpy(host, hp, hlen);
	host[hlen] = 0;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return -1;
	memcpy(&a->sa, res->ai_addr, res->ai_addrlen);
	a->salen = res->ai_addrlen;
	a->transport = SP_TCP;
	freeaddrinfo(res);
	return 0;
}

void sp_handshake_make(uint8_t out[SP_HANDSHAKE_LEN], uint16_t proto)
{
	out[0] = 0; out[1] = 'S'; out[2] = 'P'; out[3] = 0;
	out[4] = (uint8_t)(proto >> 8);
	out[5] = (uint8_t)proto;
	out[6] = 0; out[7] = 0;
}

int sp_handshake_check(const uint8_t hdr[SP_HANDSHAKE_LEN], uint16_t proto)
{
	uint8_t want[SP_HANDSHAKE_LEN];
	sp_handshake_make(want, proto);
	return memcmp(hdr, want, SP_HANDSHAKE_LEN) == 0 ? 0 : -1;
}

size_t sp_frame_header_len(enum sp_transport t) { return t == SP_IPC ? 9 : 8; }

size_t sp_frame_header(enum sp_transport t, uint8_t *out, uint64_t body_len)
{
	size_t k = 0;
	if (t == SP_IPC)
		out[k++] = 0x01;
	for (int i = 7; i >= 0; i--)
		out[k++] = (uint8_t)(body_len >> (8 * i));
	return k;
}

int sp_frame_parse(enum sp_transport t, const uint8_t *p, size_t n, size_t max_body,
		   size_t *frame_len, const uint8_t **payload, size_t *payload_len)
{
	size_t hl = sp_frame_header_len(t);
	if (n < hl)
		return 0;
	if (t == SP_IPC && p[0] != 0x01)
		return -1;
	uint64_t len = 0;
	for (size_t i = hl - 8; i < hl; i++)
		len = (len << 8) | p[i];
	if (len > max_body || len < 4)
		return -1;
	if (n - hl < len)
		return 0;
	const uint8_t *b = p + hl;
	uint32_t hops = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	if (hops == 0 || hops > SP_MAX_HOPS)
		return -1;
	*frame_len = hl + (size_t)len;
	*payload = b + 4;
	*payload_len = (size_t)len - 4;
	return 1;
}

void sp_conn_init(struct sp_conn *c, enum sp_transport t, size_t max_body)
{
	memset(c, 0, sizeof *c);
	c->fd = -1;
	c->transport = t;
	c->max_body = max_body;
	sp_conn_set_protocols(c, SP_PROTO_PAIR1, SP_PROTO_PAIR1, true);
}

void sp_conn_set_protocols(struct sp_conn *c, uint16_t mine, uint16_t peer, bool hops)
{
	c->my_proto = mine;
	c->peer_proto = peer;
	c->hops = hops;
}

static void start_handshake(struct sp_conn *c, int fd, enum sp_state state)
{
	c->fd = fd;
	c->state = state;
	sp_handshake_make(c->my_hdr, c->my_proto);
	c->my_sent = 0;
	c->peer_got = 0;
	c->head_written = 0;
	buf_reset(&c->in);
}

void sp_conn_adopt(struct sp_conn *c, int fd)
{
	start_handshake(c, fd, SP_HANDSHAKE);
}

int sp_conn_connect(struct sp_conn *c, const struct sp_addr *a)
{
	int fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (a->transport == SP_TCP) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	if (connect(fd, (const struct sockaddr *)&a->sa, a->salen) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	start_handshake(c, fd, SP_CONNECTING);
	return 0;
}

void sp_set_sndbuf(int fd)
{
	int n = (int)SP_SNDBUF;
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &n, sizeof n); /* a smaller buffer only costs speed */
}

void sp_conn_disconnect(struct sp_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = SP_CLOSED;
	c->head_written = 0; /* a partly written frame is sent again whole */
	buf_reset(&c->in);
}

void sp_conn_free(struct sp_conn *c)
{
	sp_conn_disconnect(c);
	buf_free(&c->in);
	buf_free(&c->out);
}

static size_t head_frame_len(const struct sp_conn *c)
{
	const uint8_t *p = buf_head(&c->out);
	size_t hl = sp_frame_header_len(c->transport);
	uint64_t len = 0;
	for (size_t i = hl - 8; i < hl; i++)
		len = (len << 8) | p[i];
	return hl + (size_t)len;
}

bool sp_conn_wants_write(const struct sp_conn *c)
{
	return c->fd >= 0 && (c->state == SP_CONNECTING || c->my_sent < SP_HANDSHAKE_LEN ||
			      (c->state == SP_OPEN && !c->hold && buf_used(&c->out) > 0));
}

int sp_conn_flush(struct sp_conn *c)
{
	if (c->fd < 0)
		return -1;
	if (c->state == SP_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof err;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
			return -1;
		c->state = SP_HANDSHAKE;
	}
	while (c->my_sent < SP_HANDSHAKE_LEN) {
		ssize_t w = write(c->fd, c->my_hdr + c->my_sent, SP_HANDSHAKE_LEN - c->my_sent);
		if (w < 0)
			return (errno == EAGAIN || errno == ENOTCONN) ? 0 : -1;
		c->my_sent += (size_t)w;
	}
	/* Frames go out only once the peer's handshake has been checked. */
	while (c->state == SP_OPEN && !c->hold && buf_used(&c->out) > 0) {
		size_t avail = buf_used(&c->out) - c->head_written;
		ssize_t w = write(c->fd, buf_head(&c->out) + c->head_written, avail);
		if (w < 0)
			return errno == EAGAIN ? 0 : -1;
		c->head_written += (size_t)w;
		while (buf_used(&c->out) > 0 && c->head_written >= head_frame_len(c)) {
			size_t fl = head_frame_len(c);
			c->head_written -= fl;
			buf_consume(&c->out, fl);
			c->front_len = 0; /* the front message, if any, is out whole */
		}
	}
	return 0;
}

/* The buffer is full and its head frame whole (or bad): the caller takes
 * frames before the next read, rather than the buffer growing for it. */
static bool full_with_frame(const struct sp_conn *c)
{
	const uint8_t *p;
	size_t fl, n;
	return c->state == SP_OPEN && c->in.cap - c->in.len < 16384 &&
	       sp_frame_parse(c->transport, buf_head(&c->in), buf_used(&c->in), c->max_body, &fl, &p, &n) != 0;
}

int sp_conn_read(struct sp_conn *c)
{
	if (c->fd < 0 || c->state == SP_CONNECTING)
		return 0;
	for (;;) {
		/* enough for the largest frame: let the caller take frames first */
		if (buf_used(&c->in) >= c->max_body + 65536 || full_with_frame(c))
			return 1;
		if (buf_reserve(&c->in, 16384) < 0)
			return -1;
		size_t want = c->in.cap - c->in.len;
		ssize_t r = read(c->fd, c->in.data + c->in.len, want);
		if (r == 0)
			return -1;
		if (r < 0)
			return errno == EAGAIN ? 0 : -1;
		c->in.len += (size_t)r;
		if (c->state == SP_HANDSHAKE) {
			size_t k = SP_HANDSHAKE_LEN - c->peer_got;
			if (k > buf_used(&c->in))
				k = buf_used(&c->in);
			memcpy(c->peer_hdr + c->peer_got, buf_head(&c->in), k);
			c->peer_got += k;
			buf_consume(&c->in, k);
			if (c->peer_got == SP_HANDSHAKE_LEN) {
				if (sp_handshake_check(c->peer_hdr, c->peer_proto) < 0)
					return -1;
				c->state = SP_OPEN;
			}
		}
		if ((size_t)r < want)
			return 0;
	}
}

int sp_conn_next(struct sp_conn *c, const uint8_t **p, size_t *n)
{
	if (c->state != SP_OPEN)
		return 0;
	size_t fl;
	int rc = sp_frame_parse(c->transport, buf_head(&c->in), buf_used(&c->in), c->max_body, &fl, p, n);
	if (rc == 1)
		buf_consume(&c->in, fl); /* bytes stay in place until the next read */
	return rc;
}

static int make_frame(struct sp_conn *c, uint8_t *hdr, size_t n)
{
	if (!c->hops)
		return (int)sp_frame_header(c->transport, hdr, (uint64_t)n);
	size_t hl = sp_frame_header(c->transport, hdr, (uint64_t)n + 4);
	hdr[hl] = 0; hdr[hl + 1] = 0; hdr[hl + 2] = 0; hdr[hl + 3] = 1; /* one hop */
	return (int)(hl + 4);
}

int sp_conn_queue(struct sp_conn *c, const void *p, size_t n)
{
	uint8_t hdr[13];
	int hl = make_frame(c, hdr, n);
	if (buf_reserve(&c->out, (size_t)hl + n) < 0)
		return -1;
	buf_append(&c->out, hdr, (size_t)hl);
	return buf_append(&c->out, p, n);
}

int sp_conn_send(struct sp_conn *c, const void *p, size_t n)
{
	if (c->fd < 0 || c->state != SP_OPEN || c->hold || c->my_sent < SP_HANDSHAKE_LEN || buf_used(&c->out) > 0)
		return sp_conn_queue(c, p, n);
	uint8_t hdr[13];
	int hl = make_frame(c, hdr, n);
	struct iovec iov[2] = {{hdr, (size_t)hl}, {(void *)p, n}};
	ssize_t w = writev(c->fd, iov, n ? 2 : 1);
	if (w == (ssize_t)hl + (ssize_t)n)
		return 0;
	/* The rest waits in the output as a whole frame, its head marked
	 * written. On an error nothing counts as written: the next flush
	 * finds the error, and a redial sends the frame again whole. */
	if (sp_conn_queue(c, p, n) < 0)
		return -1;
	c->head_written = w > 0 ? (size_t)w : 0;
	return 0;
}

int sp_conn_send_buf(struct sp_conn *c, struct buf *m)
{
	size_t n = buf_used(m);
	if (m->off < SP_HEADROOM || c->fd < 0 || c->state != SP_OPEN || c->hold || c->my_sent < SP_HANDSHAKE_LEN ||
	    buf_used(&c->out) > 0) {
		int rc = sp_conn_send(c, buf_head(m), n);
		buf_reset(m);
		return rc;
	}
	uint8_t hdr[13];
	int hl = make_frame(c, hdr, n);
	m->off -= (size_t)hl;
	memcpy(m->data + m->off, hdr, (size_t)hl);
	ssize_t w = write(c->fd, buf_head(m), buf_used(m));
	if (w != (ssize_t)buf_used(m)) {
		/* the rest waits: m's storage becomes the output, the output's m's */
		struct buf empty = c->out;
		c->out = *m;
		*m = empty;
		c->head_written = w > 0 ? (size_t)w : 0;
	}
	buf_reset(m);
	return 0;
}

int sp_conn_queue_front(struct sp_conn *c, const void *p, size_t n)
{
	/* Only valid while nothing of the head frame is written. A front
	 * message still unsent was meant for a connection that died before
	 * it went out (a hello answering that connection's challenge): it is
	 * dropped, or the next connection would carry two hellos. */
	if (c->front_len > 0 && c->head_written == 0 && c->front_len <= buf_used(&c->out))
		buf_consume(&c->out, c->front_len);
	c->front_len = 0;
	struct buf rest = {0};
	if (buf_append(&rest, buf_head(&c->out), buf_used(&c->out)) < 0)
		return -1;
	buf_reset(&c->out);
	size_t before = buf_used(&c->out);
	int rc = sp_conn_queue(c, p, n);
	if (rc == 0)
		c->front_len = buf_used(&c->out) - before;
	if (rc == 0)
		rc = buf_append(&c->out, buf_head(&rest), buf_used(&rest));
	buf_free(&rest);
	return rc;
}

void sp_conn_drop_queued(struct sp_conn *c)
{
	buf_reset(&c->out);
	c->head_written = 0;
	c->front_len = 0;
}

size_t sp_conn_pending(const struct sp_conn *c) { return buf_used(&c->out); }

size_t sp_conn_unread(const struct sp_conn *c)
{
	int q = 0;
	if (c->fd < 0 || ioctl(c->fd, SIOCOUTQ, &q) < 0 || q < 0)
		q = 0;
	return buf_used(&c->out) + (size_t)q;
}
