/*
 * switchboard-salty's WebSocket client (client_ws.h). Frames are decoded and
 * encoded with the server's own codec (proto/websocket/frame.c, reached
 * through proto.h as the seam asks): it decodes unmasked frames when told
 * not to require a mask and writes masked headers. TLS is OpenSSL with the
 * system's trust store or --ca, and the certificate must name the host.
 */
#include "client_ws.h"

#include <errno.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <sodium.h>

#include "../../common/alloc.h"
#include "../../common/buf.h"
#include "../../common/sha1.h"
#include "../proto.h"

struct wsc {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	struct ws_decoder dec;
	struct buf msg;  /* the data message being assembled */
	bool in_msg;     /* a fragmented message is open */
	uint8_t ctl[WS_MAX_CONTROL];
	size_t ctl_len;
	bool close_sent;
	uint8_t *early;  /* bytes read past the handshake response */
	size_t early_len;
};

static int io_write(struct wsc *w, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n > 0) {
		ssize_t k;
		if (w->ssl) {
			int r = SSL_write(w->ssl, b, n > INT32_MAX ? INT32_MAX : (int)n);
			k = r > 0 ? r : -1;
		} else {
			k = send(w->fd, b, n, MSG_NOSIGNAL);
			if (k < 0 && errno == EINTR)
				continue;
		}
		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

/* >0 bytes, 0 end of stream, -1 error. */
static ssize_t io_read(struct wsc *w, void *p, size_t n)
{
	if (w->ssl) {
		int r = SSL_read(w->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
		if (r > 0)
			return r;
		int e = SSL_get_error(w->ssl, r);
		return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
	}
	ssize_t k;
	do
		k = recv(w->fd, p, n, 0);
	while (k < 0 && errno == EINTR);
	return k;
}

struct url {
	bool tls;
	char host[256], port[8], path[1024];
};

static int parse_url(const char *url, const char *suffix, struct url *u, char *err, size_t errlen)
{
	const char *p;
	if (strncmp(url, "ws://", 5) == 0)
		u->tls = false, p = url + 5;
	else if (strncmp(url, "wss://", 6) == 0)
		u->tls = true, p = url + 6;
	else
		return snprintf(err, errlen, "URL must start with ws:// or wss://"), -1;
	const char *slash = strchr(p, '/'), *end = slash ? slash : p + strlen(p);
	const char *colon = memchr(p, ':', (size_t)(end - p));
	if (*p == '[') /* [v6 address] */
		colon = memchr(p, ']', (size_t)(end - p)), colon = colon && colon[1] == ':' ? colon + 1 : NULL;
	const char *hend = colon ? colon : end;
	if (*p == '[' && hend > p + 1)
		p++, hend = hend[-1] == ']' ? hend - 1 : hend;
	size_t hl = (size_t)(hend - p), pl = colon ? (size_t)(end - colon - 1) : 0;
	if (hl == 0 || hl >= sizeof u->host || pl >= sizeof u->port || (colon && pl == 0))
		return snprintf(err, errlen, "bad host or port in URL"), -1;
	memcpy(u->host, p, hl);
	u->host[hl] = 0;
	if (colon)
		memcpy(u->port, colon + 1, pl), u->port[pl] = 0;
	else
		strcpy(u->port, u->tls ? "443" : "80");
	const char *prefix = slash ? slash : "/";
	size_t fl = strlen(prefix);
	bool need_slash = prefix[fl - 1] != '/';
	if (snprintf(u->path, sizeof u->path, "%s%s%s", prefix, need_slash ? "/" : "", suffix) >= (int)sizeof u->path)
		return snprintf(err, errlen, "URL path too long"), -1;
	return 0;
}

/* Bounds connect, the TLS handshake and the upgrade (SO_SNDTIMEO bounds
 * connect on Linux); 0 seconds: blocking again, as the session runs. */
static void set_timeouts(int fd, int seconds)
{
	struct timeval tv = {.tv_sec = seconds};
	/* best effort: without them a silent server only makes us wait */
	(void)!setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	(void)!setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static int tcp_connect(const struct url *u, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC}, *res, *ai;
	int rc = getaddrinfo(u->host, u->port, &hints, &res);
	if (rc != 0)
		return snprintf(err, errlen, "cannot resolve %s: %s", u->host, gai_strerror(rc)), -1;
	int fd = -1, saved = 0;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd >= 0)
			set_timeouts(fd, WSC_CONNECT_TIMEOUT);
		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved = errno;
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		snprintf(err, errlen, "cannot connect to %s port %s: %s", u->host, u->port, strerror(saved));
	return fd;
}

static void tls_error(char *err, size_t errlen, const char *what)
{
	char e[256];
	unsigned long code = ERR_get_error();
	ERR_error_string_n(code, e, sizeof e);
	snprintf(err, errlen, "%s: %s", what, code ? e : "failed");
}

static int tls_start(struct wsc *w, const struct url *u, const char *ca_file, char *err, size_t errlen)
{
	w->ctx = SSL_CTX_new(TLS_client_method());
	if (!w->ctx)
		return tls_error(err, errlen, "TLS"), -1;
	SSL_CTX_set_verify(w->ctx, SSL_VERIFY_PEER, NULL);
	if (ca_file ? SSL_CTX_load_verify_locations(w->ctx, ca_file, NULL) != 1
		    : SSL_CTX_set_default_verify_paths(w->ctx) != 1)
		return tls_error(err, errlen, ca_file ? "cannot load the CA file" : "cannot load the system CAs"), -1;
	w->ssl = SSL_new(w->ctx);
	if (!w->ssl || SSL_set_fd(w->ssl, w->fd) != 1)
		return tls_error(err, errlen, "TLS"), -1;
	X509_VERIFY_PARAM *vp = SSL_get0_param(w->ssl);
	/* The name to check: an IP address literal is matched as an address. */
	if (X509_VERIFY_PARAM_set1_ip_asc(vp, u->host) != 1) {
		if (SSL_set_tlsext_host_name(w->ssl, u->host) != 1 || SSL_set1_host(w->ssl, u->host) != 1)
			return tls_error(err, errlen, "TLS host name"), -1;
	}
	if (SSL_connect(w->ssl) != 1) {
		long v = SSL_get_verify_result(w->ssl);
		if (v != X509_V_OK)
			snprintf(err, errlen, "TLS: certificate of %s not accepted: %s", u->host,
				 X509_verify_cert_error_string(v));
		else
			tls_error(err, errlen, "TLS handshake");
		return -1;
	}
	return 0;
}

/* Value of header name in the response head (lower-case name), or NULL. */
static const char *header(const char *head, const char *name, size_t *len)
{
	size_t nl = strlen(name);
	for (const char *l = strstr(head, "\r\n"); l && l[2] != '\r'; l = strstr(l + 2, "\r\n")) {
		const char *h = l + 2;
		if (strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
			const char *v = h + nl + 1, *e = strstr(v, "\r\n");
			while (*v == ' ' || *v == '\t')
				v++;
			while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			*len = (size_t)(e - v);
			return v;
		}
	}
	return NULL;
}

static int check_response(struct wsc *w, char *head, const char *key, const char *subprotocol, char *err,
			  size_t errlen)
{
	(void)w;
	size_t n;
	if (strncmp(head, "HTTP/1.1 101", 12) != 0) {
		char *e = strstr(head, "\r\n");
		*e = 0;
		return snprintf(err, errlen, "WebSocket upgrade refused: %.200s", head), -1;
	}
	char expect[29], src[128];
	uint8_t digest[SHA1_LEN];
	int sl = snprintf(src, sizeof src, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
	sha1(src, (size_t)sl, digest);
	base64_encode(digest, SHA1_LEN, expect);
	const char *acc = header(head, "sec-websocket-accept", &n);
	if (!acc || n != strlen(expect) || memcmp(acc, expect, n) != 0)
		return snprintf(err, errlen, "WebSocket upgrade: wrong or missing Sec-WebSocket-Accept"), -1;
	const char *proto = header(head, "sec-websocket-protocol", &n);
	if (!proto || n != strlen(subprotocol) || memcmp(proto, subprotocol, n) != 0)
		return snprintf(err, errlen, "the server did not select subprotocol %s", subprotocol), -1;
	return 0;
}

static int ws_handshake(struct wsc *w, const struct url *u, const char *subprotocol, char *err, size_t errlen)
{
	uint8_t nonce[16];
	char key[25], req[2048];
	randombytes_buf(nonce, sizeof nonce);
	base64_encode(nonce, sizeof nonce, key);
	bool default_port = strcmp(u->port, u->tls ? "443" : "80") == 0, v6 = strchr(u->host, ':') != NULL;
	int n = snprintf(req, sizeof req,
			 "GET %s HTTP/1.1\r\nHost: %s%s%s%s%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			 "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
			 u->path, v6 ? "[" : "", u->host, v6 ? "]" : "", default_port ? "" : ":",
			 default_port ? "" : u->port, key, subprotocol);
	if (n >= (int)sizeof req || io_write(w, req, (size_t)n) < 0)
		return snprintf(err, errlen, "cannot send the WebSocket upgrade"), -1;
	char head[16384];
	size_t got = 0;
	char *end = NULL;
	while (!end) {
		if (got == sizeof head - 1)
			return snprintf(err, errlen, "WebSocket upgrade: response head too long"), -1;
		ssize_t k = io_read(w, head + got, sizeof head - 1 - got);
		if (k < 0 && !w->ssl && (errno == EAGAIN || errno == EWOULDBLOCK))
			return snprintf(err, errlen, "no answer to the WebSocket upgrade within %d s", WSC_CONNECT_TIMEOUT), -1;
		if (k <= 0)
			return snprintf(err, errlen, "the server closed the connection during the upgrade"), -1;
		got += (size_t)k;
		head[got] = 0;
		end = strstr(head, "\r\n\r\n");
	}
	size_t used = (size_t)(end - head) + 4;
	if (got > used) {
		w->early_len = got - used;
		w->early = xmalloc(w->early_len);
		memcpy(w->early, head + used, w->early_len);
	}
	end[2] = 0; /* keep the last header line's CRLF for header() */
	return check_response(w, head, key, subprotocol, err, errlen);
}

struct wsc *wsc_connect(const char *url, const char *path_suffix, const char *subprotocol, const char *ca_file,
			char *err, size_t errlen)
{
	struct url u;
	if (parse_url(url, path_suffix, &u, err, errlen) < 0)
		return NULL;
	struct wsc *w = xcalloc(1, sizeof *w);
	ws_decoder_init(&w->dec, false);
	w->fd = tcp_connect(&u, err, errlen);
	if (w->fd < 0 || (u.tls && tls_start(w, &u, ca_file, err, errlen) < 0) ||
	    ws_handshake(w, &u, subprotocol, err, errlen) < 0) {
		wsc_free(w);
		return NULL;
	}
	set_timeouts(w->fd, 0);
	return w;
}

int wsc_fd(const struct wsc *w) { return w->fd; }

int wsc_pending(const struct wsc *w) { return w->early_len > 0 || (w->ssl && SSL_pending(w->ssl) > 0); }

static int send_frame(struct wsc *w, uint8_t opcode, const uint8_t *p, size_t n)
{
	uint8_t hdr[WS_MAX_HEADER], mask[4];
	randombytes_buf(mask, sizeof mask);
	size_t hl = ws_frame_header_masked(hdr, true, opcode, n, mask);
	uint8_t *frame = xmalloc(hl + n);
	memcpy(frame, hdr, hl);
	if (n)
		memcpy(frame + hl, p, n);
	ws_mask(frame + hl, n, mask, 0);
	int rc = io_write(w, frame, hl + n);
	free(frame);
	return rc;
}

int wsc_send_binary(struct wsc *w, const uint8_t *p, size_t n)
{
	if (w->close_sent)
		return -1;
	return send_frame(w, WS_BINARY, p, n);
}

int wsc_send_close(struct wsc *w, uint16_t code)
{
	if (w->close_sent)
		return 0;
	w->close_sent = true;
	uint8_t b[2] = {(uint8_t)(code >> 8), (uint8_t)code};
	return send_frame(w, WS_CLOSE, b, 2);
}

void wsc_free(struct wsc *w)
{
	if (!w)
		return;
	if (w->ssl)
		SSL_free(w->ssl);
	if (w->ctx)
		SSL_CTX_free(w->ctx);
	if (w->fd >= 0)
		close(w->fd);
	buf_free(&w->msg);
	free(w->early);
	free(w);
}

struct rd {
	void (*on_message)(void *ctx, const uint8_t *p, size_t n);
	void *ctx;
	uint16_t *code;
	char *err;
	size_t errlen;
};

/* A complete control frame in w->ctl. */
static enum wsc_status on_control(struct wsc *w, uint8_t opcode, struct rd *r)
{
	if (opcode == WS_PING)
		return send_frame(w, WS_PONG, w->ctl, w->ctl_len) < 0 ? WSC_CLOSED : WSC_OK;
	if (opcode != WS_CLOSE)
		return WSC_OK;
	*r->code = w->ctl_len >= 2 ? (uint16_t)(w->ctl[0] << 8 | w->ctl[1]) : 1005;
	if (w->ctl_len == 1)
		*r->code = 1002;
	/* Answer with the same code (RFC 6455 5.5.1), unless ours went first. */
	if (!w->close_sent) {
		w->close_sent = true;
		(void)send_frame(w, WS_CLOSE, w->ctl, w->ctl_len >= 2 ? 2 : 0); /* closed either way */
	}
	return WSC_CLOSED;
}

static enum wsc_status fail(struct rd *r, uint16_t code, const char *why)
{
	*r->code = code;
	snprintf(r->err, r->errlen, "%s", why);
	return WSC_ERROR;
}

/* One decoder event (the frame is w->dec.f). */
static enum wsc_status on_event(struct wsc *w, enum ws_event ev, uint8_t *p, size_t n, struct rd *r)
{
	const struct ws_frame *f = &w->dec.f;
	bool ctl = ws_is_control(f->opcode);
	if (ev == WS_EV_HEADER) {
		if (f->masked)
			return fail(r, 1002, "the server sent a masked frame");
		if (!ctl && (f->opcode == WS_CONT) != w->in_msg)
			return fail(r, 1002, "the server broke message fragmentation");
		if (f->opcode == WS_TEXT)
			return fail(r, 3001, "the server sent a text frame");
		if (!ctl && buf_used(&w->msg) + f->len > WSC_MAX_MESSAGE)
			return fail(r, 1009, "the server sent a message over 4 MiB");
		if (ctl)
			w->ctl_len = 0;
		else
			w->in_msg = true;
		return WSC_OK;
	}
	if (ev == WS_EV_DATA) {
		if (ctl) {
			memcpy(w->ctl + w->ctl_len, p, n); /* the decoder bounds control frames to 125 */
			w->ctl_len += n;
		} else if (buf_append(&w->msg, p, n) < 0)
			return fail(r, 1009, "out of memory");
		return WSC_OK;
	}
	if (ctl)
		return on_control(w, f->opcode, r);
	if (f->fin) {
		w->in_msg = false;
		r->on_message(r->ctx, buf_head(&w->msg), buf_used(&w->msg));
		buf_reset(&w->msg);
	}
	return WSC_OK;
}

static enum wsc_status feed(struct wsc *w, uint8_t *p, size_t n, struct rd *r)
{
	size_t off = 0;
	for (;;) {
		enum ws_event ev;
		uint16_t cc = 0;
		uint8_t *at = p + off;
		size_t used = ws_decode(&w->dec, at, n - off, &ev, &cc);
		off += used;
		if (ev == WS_EV_NONE)
			return WSC_OK;
		if (ev == WS_EV_ERROR)
			return fail(r, cc, "the server sent a malformed frame");
		enum wsc_status st = on_event(w, ev, at, ev == WS_EV_DATA ? used : 0, r);
		if (st != WSC_OK)
			return st;
	}
}

enum wsc_status wsc_read(struct wsc *w, void (*on_message)(void *ctx, const uint8_t *p, size_t n), void *ctx,
			 uint16_t *code, char *err, size_t errlen)
{
	struct rd r = {on_message, ctx, code, err, errlen};
	if (w->early) {
		uint8_t *e = w->early;
		size_t n = w->early_len;
		w->early = NULL, w->early_len = 0;
		enum wsc_status st = feed(w, e, n, &r);
		free(e);
		return st; /* the socket may have nothing: poll again before reading it */
	}
	uint8_t b[65536];
	do {
		ssize_t k = io_read(w, b, sizeof b);
		if (k <= 0) {
			*code = 1006;
			snprintf(err, errlen, "the connection to the server ended without a close frame");
			return WSC_CLOSED;
		}
		enum wsc_status st = feed(w, b, (size_t)k, &r);
		if (st != WSC_OK)
			return st;
	} while (w->ssl && SSL_pending(w->ssl) > 0);
	return WSC_OK;
}
