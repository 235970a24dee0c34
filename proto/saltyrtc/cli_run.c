/*
 * switchboard-salty's session: one poll loop over the WebSocket and stdin,
 * the client library's events turned into stdout lines and stderr messages,
 * and how the session ended turned into the exit status (cli.c's usage()).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../common/buf.h"
#include "../../common/mp.h"
#include "cli.h"
#include "client_json.h"
#include "client_ws.h"

#define MAX_LINE (1u << 20)

struct run {
	struct wsc *ws;
	struct saltyc_client *c;
	bool closing;     /* the library ended the session: close sent or to send */
	int close_code, status;
	bool paired, stdin_open;
	enum saltyc_role role;
	struct buf in;    /* stdin bytes not yet a whole line */
	unsigned long line_no;
	bool skipping;    /* dropping the rest of an over-long line */
	struct buf line;  /* scratch for one stdout line */
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *close_meaning(int code)
{
	switch (code) {
	case 1000: return "normal closure";
	case 1001: return "going away";
	case 1002: return "protocol error / no shared subprotocol";
	case 1005: return "no code";
	case 1006: return "connection lost";
	case 1009: return "message too big";
	case 3000: return "path full";
	case 3001: return "protocol error";
	case 3002: return "internal error";
	case 3003: return "handover";
	case 3004: return "dropped by the initiator";
	case 3005: return "the initiator could not decrypt our message";
	case 3006: return "no shared task";
	case 3007: return "invalid key: the server does not have the pinned key";
	case 3008: return "timeout";
	default: return "unknown code";
	}
}

static int ws_send(void *ctx, const uint8_t *p, size_t n)
{
	struct run *r = ctx;
	return wsc_send_binary(r->ws, p, n);
}

static void print_message(struct run *r, const uint8_t *p, size_t n)
{
	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	size_t off = 0;
	buf_reset(&r->line);
	if (msgpack_unpack_next(&up, (const char *)p, n, &off) != MSGPACK_UNPACK_SUCCESS ||
	    saltyc_mp_to_json(&up.data, &r->line) < 0 || buf_append(&r->line, "\n", 1) < 0) {
		fputs("switchboard-salty: a received message could not be written as JSON\n", stderr);
	} else if (fwrite(buf_head(&r->line), 1, buf_used(&r->line), stdout) != buf_used(&r->line) ||
		   fflush(stdout) != 0) {
		fprintf(stderr, "switchboard-salty: stdout: %s; closing\n", strerror(errno));
		saltyc_close(r->c, 1001);
	}
	msgpack_unpacked_destroy(&up);
}

static void on_event(void *ctx, const struct saltyc_event *ev)
{
	struct run *r = ctx;
	switch (ev->type) {
	case SALTYC_EV_SERVER_READY:
		fprintf(stderr, "switchboard-salty: server handshake done, address 0x%02x\n", ev->a);
		break;
	case SALTYC_EV_DROPPED:
		fprintf(stderr, "switchboard-salty: dropped responder 0x%02x (%d): %s\n", ev->a, ev->b, ev->text);
		break;
	case SALTYC_EV_PEER_READY:
		r->paired = true;
		fprintf(stderr, "switchboard-salty: paired with %s 0x%02x\n", ev->a == 1 ? "initiator" : "responder", ev->a);
		break;
	case SALTYC_EV_MESSAGE:
		print_message(r, ev->data, ev->len);
		break;
	case SALTYC_EV_PEER_LOST:
		fprintf(stderr, "switchboard-salty: peer lost: %s\n", ev->text);
		r->status = SALTYC_END_PEER_LOST;
		saltyc_close(r->c, 1001); /* nothing to send it to: just ends the client */
		break;
	case SALTYC_EV_PEER_CLOSE:
		fprintf(stderr, "switchboard-salty: the peer closed the session (%d: %s)\n", ev->a, close_meaning(ev->a));
		break;
	case SALTYC_EV_NOTE:
		break;
	case SALTYC_EV_CLOSE:
		if (!r->closing && r->status == 0)
			r->status = ev->b;
		if (ev->b != SALTYC_END_NORMAL && r->status != SALTYC_END_PEER_LOST)
			fprintf(stderr, "switchboard-salty: %s\n", ev->text);
		r->closing = true;
		r->close_code = ev->a;
		break;
	}
}

static void on_ws_message(void *ctx, const uint8_t *p, size_t n)
{
	struct run *r = ctx;
	if (!r->closing)
		saltyc_receive(r->c, p, n);
}

/* The server closed first: what that means depends on where we were. */
static int server_closed(struct run *r, uint16_t code, const char *detail)
{
	if (code == 1006)
		fprintf(stderr, "switchboard-salty: %s\n", detail);
	else
		fprintf(stderr, "switchboard-salty: the server closed the connection with %u (%s)\n", code,
			code == 3004 && r->role == SALTYC_INITIATOR ? "replaced: another initiator with our key came"
								    : close_meaning(code));
	if (code == 3007)
		return SALTYC_END_SERVER_KEY;
	if ((code == 3004 || code == 3005) && r->role == SALTYC_RESPONDER && !r->paired) {
		if (code == 3005)
			fputs("switchboard-salty: wrong token (or wrong initiator key)?\n", stderr);
		return SALTYC_END_HANDSHAKE;
	}
	return SALTYC_END_SERVER;
}

/* One line of stdin: JSON to MessagePack to the peer. */
static void send_line(struct run *r, const char *s, size_t n)
{
	r->line_no++;
	while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0)
		return;
	struct mp_out o;
	mp_out_init(&o);
	const char *why;
	if (saltyc_json_to_mp(s, n, &o.pk, &why) < 0 ||
	    saltyc_send_task(r->c, (const uint8_t *)o.sb.data, o.sb.size, &why) < 0)
		fprintf(stderr, "switchboard-salty: stdin line %lu not sent: %s\n", r->line_no, why);
	mp_out_free(&o);
}

static void read_stdin(struct run *r)
{
	if (buf_reserve(&r->in, 65536) < 0)
		return;
	ssize_t k = read(0, r->in.data + r->in.len, 65536);
	if (k < 0 && errno == EINTR)
		return;
	if (k > 0)
		r->in.len += (size_t)k;
	uint8_t *nl;
	while (!r->closing && (nl = memchr(buf_head(&r->in), '\n', buf_used(&r->in)))) {
		size_t n = (size_t)(nl - buf_head(&r->in));
		if (r->skipping) { /* the rest of a line too long to send */
			r->skipping = false;
			r->line_no++;
		} else
			send_line(r, (const char *)buf_head(&r->in), n);
		buf_consume(&r->in, n + 1);
	}
	if (buf_used(&r->in) > MAX_LINE) {
		if (!r->skipping)
			fprintf(stderr, "switchboard-salty: stdin line %lu not sent: over %u bytes\n", r->line_no + 1, MAX_LINE);
		r->skipping = true;
		buf_reset(&r->in);
	}
	if (k <= 0) { /* end of stdin (or an error): the last line, then close */
		if (buf_used(&r->in) && !r->closing && !r->skipping)
			send_line(r, (const char *)buf_head(&r->in), buf_used(&r->in));
		r->stdin_open = false;
		saltyc_close(r->c, 1001);
	}
}

/* After our close frame: wait (briefly) for the server's, then stop. */
static void finish_close(struct run *r)
{
	if (wsc_send_close(r->ws, (uint16_t)r->close_code) < 0)
		return; /* the connection is gone: nothing to wait for */
	int64_t until = now_ms() + 3000;
	char err[256];
	for (;;) {
		int64_t left = until - now_ms();
		struct pollfd p = {.fd = wsc_fd(r->ws), .events = POLLIN};
		if (left <= 0 || (!wsc_pending(r->ws) && poll(&p, 1, (int)left) <= 0))
			return;
		uint16_t code;
		if (wsc_read(r->ws, on_ws_message, r, &code, err, sizeof err) != WSC_OK)
			return;
	}
}

/* Runs until the session ends; returns the exit status. */
static int loop(struct run *r, const struct opts *o)
{
	int64_t deadline = o->wait ? now_ms() + o->wait * 1000 : 0;
	char err[256];
	while (!r->closing) {
		bool use_stdin = r->paired && r->stdin_open;
		struct pollfd p[2] = {{.fd = wsc_fd(r->ws), .events = POLLIN}, {.fd = 0, .events = POLLIN}};
		int timeout = -1;
		if (deadline && !r->paired) {
			int64_t left = deadline - now_ms();
			if (left <= 0) {
				fprintf(stderr, "switchboard-salty: not paired within %ld s\n", o->wait);
				return EXIT_TIMEOUT;
			}
			timeout = (int)left;
		}
		if (!wsc_pending(r->ws) && poll(p, use_stdin ? 2 : 1, timeout) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "switchboard-salty: poll: %s\n", strerror(errno));
			return SALTYC_END_PROTOCOL;
		}
		if (wsc_pending(r->ws) || p[0].revents) {
			uint16_t code = 0;
			enum wsc_status st = wsc_read(r->ws, on_ws_message, r, &code, err, sizeof err);
			if (st == WSC_CLOSED && !r->closing)
				return server_closed(r, code, err);
			if (st == WSC_ERROR) {
				fprintf(stderr, "switchboard-salty: %s\n", err);
				(void)wsc_send_close(r->ws, code); /* ending either way */
				return SALTYC_END_PROTOCOL;
			}
			if (st == WSC_CLOSED)
				return r->status;
		}
		if (use_stdin && p[1].revents && !r->closing)
			read_stdin(r);
	}
	finish_close(r);
	return r->status;
}

int saltyc_cli_run(const struct opts *o, const struct saltyc_config *cfg)
{
	char err[512], path[2 + 2 * SALTYC_KEY_LEN];
	uint8_t ini_pk[SALTYC_KEY_LEN];
	if (cfg->role == SALTYC_INITIATOR)
		saltyc_public_key(cfg->secret_key, ini_pk);
	else
		memcpy(ini_pk, cfg->peer_key, SALTYC_KEY_LEN);
	saltyc_path(ini_pk, path);
	struct run r = {.stdin_open = true, .role = cfg->role};
	r.ws = wsc_connect(o->url, path + 1, SALTYC_SUBPROTOCOL, o->ca, err, sizeof err);
	if (!r.ws) {
		fprintf(stderr, "switchboard-salty: %s\n", err);
		return EXIT_CONNECT;
	}
	struct saltyc_io io = {.ctx = &r, .send = ws_send, .event = on_event};
	r.c = saltyc_new(cfg, &io);
	int rc = r.c ? loop(&r, o) : EXIT_USAGE;
	saltyc_free(r.c);
	wsc_free(r.ws);
	buf_free(&r.in);
	buf_free(&r.line);
	return rc;
}
