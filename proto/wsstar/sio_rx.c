/* Binary packet reassembly (see sio_rx.h). */
#include "sio_rx.h"

#include <stdlib.h>
#include <string.h>

void sio_rx_init(struct sio_rx *rx, size_t max_bytes)
{
	memset(rx, 0, sizeof *rx);
	rx->max_bytes = max_bytes;
}

void sio_rx_release(struct sio_rx *rx)
{
	if (rx->pending || rx->ready)
		sio_packet_free(&rx->pkt);
	free(rx->text);
	rx->text = NULL;
	for (unsigned k = 0; k < rx->got; k++)
		buf_free(&rx->att[k]);
	rx->got = 0;
	rx->bytes = 0;
	rx->last = NULL;
	rx->last_len = 0;
	rx->pending = rx->ready = false;
}

void sio_rx_free(struct sio_rx *rx) { sio_rx_release(rx); }

/* A binary header is decoded from our own copy, which outlives the message. */
static int hold_header(struct sio_rx *rx, const char *s, size_t n, int max_tokens)
{
	rx->text = malloc(n);
	if (!rx->text)
		return SIO_NOMEM;
	memcpy(rx->text, s, n);
	int rc = sio_decode(&rx->pkt, rx->text, n, max_tokens);
	if (rc != SIO_OK) {
		free(rx->text);
		rx->text = NULL;
		return rc;
	}
	rx->pending = true;
	return SIO_RX_PENDING;
}

int sio_rx_text(struct sio_rx *rx, const char *s, size_t n, int max_tokens)
{
	bool was_pending = rx->pending;
	sio_rx_release(rx);
	if (was_pending)
		return SIO_RX_TEXT_IN_BINARY;
	if (n > 0 && (s[0] == '0' + SIO_BINARY_EVENT || s[0] == '0' + SIO_BINARY_ACK))
		return hold_header(rx, s, n, max_tokens);
	int rc = sio_decode(&rx->pkt, s, n, max_tokens);
	if (rc != SIO_OK)
		return rc;
	rx->ready = true;
	return SIO_RX_READY;
}

int sio_rx_binary(struct sio_rx *rx, const uint8_t *data, size_t n)
{
	if (!rx->pending) {
		sio_rx_release(rx);
		return SIO_RX_STRAY_BINARY;
	}
	if (n > rx->max_bytes - rx->bytes) {
		sio_rx_release(rx);
		return SIO_TOO_BIG;
	}
	rx->bytes += n;
	if (rx->got + 1 < rx->pkt.attachments) {
		if (n && buf_append(&rx->att[rx->got], data, n) < 0) {
			sio_rx_release(rx);
			return SIO_NOMEM;
		}
		rx->got++;
		return SIO_RX_PENDING;
	}
	/* the packet is whole now and handled before data goes: no copy */
	rx->last = data;
	rx->last_len = n;
	rx->got++;
	rx->pending = false;
	rx->ready = true;
	return SIO_RX_READY;
}

const uint8_t *sio_rx_att(const struct sio_rx *rx, unsigned k, size_t *n)
{
	if (k + 1 == rx->got) {
		*n = rx->last_len;
		return rx->last ? rx->last : (const uint8_t *)"";
	}
	*n = buf_used(&rx->att[k]);
	return buf_used(&rx->att[k]) ? buf_head(&rx->att[k]) : (const uint8_t *)"";
}

const char *sio_rx_strerror(int err)
{
	switch (err) {
	case SIO_RX_READY:
		return "packet ready";
	case SIO_RX_PENDING:
		return "waiting for attachments";
	case SIO_RX_TEXT_IN_BINARY:
		return "text packet while attachments are due";
	case SIO_RX_STRAY_BINARY:
		return "binary packet no header announced";
	default:
		return sio_strerror(err);
	}
}
