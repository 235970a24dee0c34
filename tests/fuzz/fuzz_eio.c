/*
 * WebSocketStar codec: the first byte chooses a text or binary WebSocket
 * message, the rest goes through eio_decode and (for a text message
 * packet) sio_decode. Decoded packets must be self-consistent (pointers
 * inside the input, arguments and placeholders where they claim to be),
 * and a decoded EVENT or ACK re-encoded by our encoder must decode to the
 * same id and argument texts. A pong built from a ping's data echoes it.
 * With bit 1 of the first byte set, the rest is a sequence of messages
 * (<kind byte: bit 0 binary> <2-byte length> <bytes>) fed through sio_rx,
 * whose state must stay consistent.
 */
#include <stdlib.h>
#include <string.h>

#include "../../proto/wsstar/eio.h"
#include "../../proto/wsstar/sio.h"
#include "../../proto/wsstar/sio_rx.h"

static bool inside(const void *p, size_t n, const uint8_t *base, size_t size)
{
	const uint8_t *q = p;
	return q >= base && q + n <= base + size;
}

static void check_args(const struct sio_packet *p)
{
	for (int k = 0; k < sio_nargs(p); k++) {
		int t = sio_arg(p, k);
		if (t <= 0 || t >= p->doc.ntok)
			abort();
	}
	if (sio_arg(p, sio_nargs(p)) != -1)
		abort();
	for (unsigned k = 0; k < p->attachments; k++)
		if (p->placeholder[k] <= 0 || sio_placeholder_num(p, p->placeholder[k]) != (int)k)
			abort();
}

static void add_args(struct sio_out *o, const struct sio_packet *p)
{
	for (int k = 0; k < sio_nargs(p); k++) {
		const char *s;
		size_t n;
		json_raw(&p->doc, sio_arg(p, k), &s, &n);
		sio_out_raw(o, s, n);
	}
}

/* EVENT/ACK (binary ones as plain) on "/" re-encoded and decoded again. */
static void check_reencode(const struct sio_packet *p)
{
	bool event = p->type == SIO_EVENT || p->type == SIO_BINARY_EVENT;
	bool ack = p->type == SIO_ACK || p->type == SIO_BINARY_ACK;
	if ((!event && !ack) || !sio_default_nsp(p) || (ack && !p->has_id))
		return;
	struct buf b = {0};
	struct sio_out o;
	char name[256];
	size_t nlen;
	if (event) {
		if (json_type(&p->doc, 1) != JSON_STRING || json_str(&p->doc, 1, name, sizeof name, &nlen) != 0)
			return;
		sio_out_event(&o, &b, name, nlen, p->has_id ? (int64_t)p->id : -1, 0);
	} else {
		sio_out_ack(&o, &b, p->id, 0);
	}
	add_args(&o, p);
	if (sio_out_end(&o) != 0)
		abort();
	struct sio_packet q;
	if (sio_decode(&q, (const char *)buf_head(&b) + 1, buf_used(&b) - 1, 1 << 20) != SIO_OK)
		abort();
	if (q.has_id != p->has_id || q.id != p->id || sio_nargs(&q) != sio_nargs(p))
		abort();
	for (int k = 0; k < sio_nargs(p); k++) {
		const char *s1, *s2;
		size_t n1, n2;
		json_raw(&p->doc, sio_arg(p, k), &s1, &n1);
		json_raw(&q.doc, sio_arg(&q, k), &s2, &n2);
		if (n1 != n2 || memcmp(s1, s2, n1) != 0)
			abort();
	}
	sio_packet_free(&q);
	buf_free(&b);
}

static void check_sio(const uint8_t *data, size_t size)
{
	struct sio_packet p;
	int rc = sio_decode(&p, (const char *)data, size, 4096);
	if (rc > 0 || rc < SIO_NOMEM || !sio_strerror(rc))
		abort();
	if (rc != SIO_OK)
		return;
	if (p.type > SIO_BINARY_ACK || p.attachments > SIO_MAX_ATTACHMENTS || p.id > SIO_MAX_ACK_ID)
		abort();
	if (!sio_default_nsp(&p) && !inside(p.nsp, p.nsp_len, data, size))
		abort();
	if (p.json && !inside(p.json, p.json_len, data, size))
		abort();
	check_args(&p);
	check_reencode(&p);
	sio_packet_free(&p);
}

static void check_rx_state(const struct sio_rx *rx, int rc)
{
	if (rc == SIO_RX_READY) {
		if (!rx->ready || rx->pending || rx->got != rx->pkt.attachments)
			abort();
		size_t total = 0;
		for (unsigned k = 0; k < rx->got; k++) {
			size_t n;
			const uint8_t *a = sio_rx_att(rx, k, &n);
			if (!a)
				abort();
			total += n;
		}
		if (total != rx->bytes || total > rx->max_bytes)
			abort();
	} else if (rc == SIO_RX_PENDING) {
		if (!rx->pending || rx->ready || rx->got >= rx->pkt.attachments)
			abort();
	} else if (rx->pending || rx->ready || rx->got || !sio_rx_strerror(rc)) {
		abort();
	}
}

/* A sequence of Engine.IO messages through eio_decode and sio_rx. */
static void check_sequence(const uint8_t *data, size_t size)
{
	struct sio_rx rx;
	sio_rx_init(&rx, 64);
	size_t i = 0;
	while (size - i >= 3) {
		bool binary = data[i] & 1;
		size_t n = (size_t)data[i + 1] << 8 | data[i + 2];
		i += 3;
		if (n > size - i)
			n = size - i;
		struct eio_packet e;
		if (eio_decode(&e, data + i, n, binary) == EIO_OK && e.type == EIO_MESSAGE) {
			int rc = binary ? sio_rx_binary(&rx, e.data, e.len)
					: sio_rx_text(&rx, (const char *)e.data, e.len, 256);
			check_rx_state(&rx, rc);
		}
		i += n;
	}
	sio_rx_free(&rx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool binary = data[0] & 1;
	if (data[0] & 2) {
		check_sequence(data + 1, size - 1);
		return 0;
	}
	data++;
	size--;
	struct eio_packet e;
	int rc = eio_decode(&e, data, size, binary);
	if (rc > 0 || rc < EIO_TOO_BIG || !eio_strerror(rc))
		abort();
	if (rc != EIO_OK)
		return 0;
	if (e.type > EIO_NOOP || e.len != size - 1 || e.data != data + 1)
		abort();
	if (e.type == EIO_PING) {
		struct buf b = {0};
		struct eio_packet back;
		if (eio_put_pong(&b, e.data, e.len) != 0 ||
		    eio_decode(&back, buf_head(&b), buf_used(&b), false) != EIO_OK || back.type != EIO_PONG ||
		    back.len != e.len || (e.len && memcmp(back.data, e.data, e.len) != 0))
			abort();
		buf_free(&b);
	}
	if (e.type == EIO_MESSAGE && !binary)
		check_sio(e.data, e.len);
	return 0;
}
