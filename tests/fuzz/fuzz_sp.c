/*
 * SP framing: sp_frame_parse over arbitrary bytes on both transports,
 * sp_handshake_check, frame round trips, and the client's receive path
 * (sp_conn_read / sp_conn_next over a socketpair, the input written in
 * pieces), which must yield exactly the frames a direct parse finds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../common/sp.h"

/* Parses frames back to back; returns how many, writes their payloads to log. */
static int parse_all(enum sp_transport t, const uint8_t *p, size_t n, size_t max, struct buf *log, int *last)
{
	size_t hl = sp_frame_header_len(t), off = 0;
	int count = 0, rc;
	for (;;) {
		size_t fl = 0, pn = 0;
		const uint8_t *pl = NULL;
		rc = sp_frame_parse(t, p + off, n - off, max, &fl, &pl, &pn);
		if (rc != 1)
			break;
		if (fl < hl + 4 || fl > n - off || fl - hl - 4 > max || pn != fl - hl - 4 || pl != p + off + hl + 4)
			abort();
		uint32_t hops = (uint32_t)p[off + hl] << 24 | (uint32_t)p[off + hl + 1] << 16 |
				(uint32_t)p[off + hl + 2] << 8 | p[off + hl + 3];
		if (hops < 1 || hops > SP_MAX_HOPS)
			abort();
		/* The same frame one byte short is incomplete, never an error. */
		if (sp_frame_parse(t, p + off, fl - 1, max, &fl, &pl, &pn) != 0)
			abort();
		if (log) {
			uint64_t len = pn;
			buf_append(log, &len, sizeof len);
			buf_append(log, p + off + hl + 4, pn);
		}
		off += fl;
		count++;
	}
	if (rc != 0 && rc != -1)
		abort();
	*last = rc;
	return count;
}

static void roundtrip(enum sp_transport t, const uint8_t *p, size_t n, uint32_t hops)
{
	size_t hl = sp_frame_header_len(t);
	uint8_t *f = malloc(hl + 4 + n);
	size_t k = sp_frame_header(t, f, n + 4);
	if (k != hl)
		abort();
	f[k] = (uint8_t)(hops >> 24), f[k + 1] = (uint8_t)(hops >> 16), f[k + 2] = (uint8_t)(hops >> 8), f[k + 3] = (uint8_t)hops;
	if (n)
		memcpy(f + k + 4, p, n);
	size_t fl, pn;
	const uint8_t *pl;
	if (sp_frame_parse(t, f, hl + 4 + n, n + 4, &fl, &pl, &pn) != 1 || fl != hl + 4 + n || pn != n ||
	    (n && memcmp(pl, p, n) != 0))
		abort();
	if (sp_frame_parse(t, f, hl + 4 + n, n + 3, &fl, &pl, &pn) != -1)
		abort(); /* one byte over the limit */
	free(f);
}

/* The client's receive path over a socketpair; payloads go to log. */
static int client_receive(enum sp_transport t, const uint8_t *p, size_t n, size_t max, struct buf *log, int *last)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		abort();
	struct sp_conn c;
	sp_conn_init(&c, t, max);
	/* As if connected and our handshake sent: only the peer's is awaited. */
	c.fd = sv[0];
	c.state = SP_HANDSHAKE;
	c.my_sent = SP_HANDSHAKE_LEN;
	int count = 0, rc = 0;
	bool dead = false;
	size_t off = 0, step = 1;
	int reads_after_eof = 0;
	while (!dead) {
		size_t k = n - off < step ? n - off : step;
		if (k > 0 && write(sv[1], p + off, k) != (ssize_t)k)
			abort();
		off += k;
		step = step < 65536 ? step * 3 + 1 : step; /* pieces of growing size */
		if (off == n)
			close(sv[1]), sv[1] = -1;
		if (sp_conn_read(&c) < 0)
			dead = true;
		const uint8_t *pl;
		size_t pn;
		while ((rc = sp_conn_next(&c, &pl, &pn)) == 1) {
			uint64_t len = pn;
			buf_append(log, &len, sizeof len);
			buf_append(log, pl, pn);
			count++;
		}
		if (rc < 0)
			break;
		/* EOF is reported by the read after the one that drains the data. */
		if (off == n && !dead && ++reads_after_eof > 2)
			abort();
	}
	*last = rc;
	if (sv[1] >= 0)
		close(sv[1]);
	sp_conn_free(&c);
	return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t maxes[] = {4, 64, 1 << 20};
	for (int t = SP_IPC; t <= SP_TCP; t++)
		for (int m = 0; m < 3; m++) {
			int last;
			parse_all((enum sp_transport)t, data, size, maxes[m], NULL, &last);
		}

	if (size >= SP_HANDSHAKE_LEN) {
		uint8_t want[SP_HANDSHAKE_LEN];
		sp_handshake_make(want, SP_PROTO_PAIR1);
		bool same = memcmp(data, want, SP_HANDSHAKE_LEN) == 0;
		if ((sp_handshake_check(data, SP_PROTO_PAIR1) == 0) != same)
			abort();
		uint16_t other = (uint16_t)(data[4] << 8 | data[5]);
		if (sp_handshake_check(data, other) == 0 && (data[0] || data[1] != 'S' || data[2] != 'P' || data[3] || data[6] || data[7]))
			abort();
	}

	roundtrip(SP_IPC, data, size, 1 + (size ? data[0] : 0) % SP_MAX_HOPS);
	roundtrip(SP_TCP, data, size, SP_MAX_HOPS);

	/* The client sees, after a good handshake, exactly what a direct parse does. */
	if (size >= 1) {
		/* The last byte picks the transport and limit (the first is the handshake's 0). */
		enum sp_transport t = data[size - 1] & 1 ? SP_TCP : SP_IPC;
		size_t max = data[size - 1] & 2 ? 64 : 4096;
		struct buf direct = {0}, client = {0};
		int dlast = 0, clast = 0, dn = 0, cn;
		bool hs_ok = size >= SP_HANDSHAKE_LEN && sp_handshake_check(data, SP_PROTO_PAIR1) == 0;
		if (hs_ok)
			dn = parse_all(t, data + SP_HANDSHAKE_LEN, size - SP_HANDSHAKE_LEN, max, &direct, &dlast);
		cn = client_receive(t, data, size, max, &client, &clast);
		if (!hs_ok && cn != 0)
			abort();
		if (hs_ok && (cn != dn || buf_used(&direct) != buf_used(&client) ||
			      (buf_used(&direct) && memcmp(buf_head(&direct), buf_head(&client), buf_used(&direct)) != 0) ||
			      (dlast == -1) != (clast == -1)))
			abort();
		buf_free(&direct);
		buf_free(&client);
	}
	return 0;
}
