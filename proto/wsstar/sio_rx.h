/*
 * Receiving Socket.IO packets with binary attachments: a BINARY_EVENT or
 * BINARY_ACK header announces N attachments, which arrive as the next N
 * binary Engine.IO message packets on the same connection, before any
 * other packet. sio_rx holds the header and those attachments until the
 * packet is whole (as socket.io-parser's Decoder does), and refuses what
 * breaks that order. One per connection and direction.
 */
#ifndef SB_WSSTAR_SIO_RX_H
#define SB_WSSTAR_SIO_RX_H
#include "sio.h"

enum sio_rx_result {
	SIO_RX_READY = 1,   /* rx.pkt (and rx.att for a binary packet) is whole */
	SIO_RX_PENDING = 2, /* a binary header is waiting for its attachments */
	/* errors: the sio_err values, and these */
	SIO_RX_TEXT_IN_BINARY = -20, /* a text packet while attachments are due */
	SIO_RX_STRAY_BINARY = -21,   /* an attachment no header announced */
};

struct sio_rx {
	size_t max_bytes;  /* bound on one packet's attachment bytes together */
	bool pending;      /* a binary header waits for attachments */
	bool ready;        /* pkt holds a whole packet until sio_rx_release */
	struct sio_packet pkt;
	char *text;        /* owned copy of a binary header's text (pkt points into it) */
	unsigned got;      /* attachments received */
	size_t bytes;
	struct buf att[SIO_MAX_ATTACHMENTS]; /* copies of the attachments before the last */
	const uint8_t *last; /* the last attachment: the caller's bytes, not copied */
	size_t last_len;
};

/* max_bytes: the largest total of attachment bytes one packet may carry. */
void sio_rx_init(struct sio_rx *rx, size_t max_bytes);
/*
 * A text Engine.IO message packet's data. READY: rx->pkt is the packet,
 * pointing into s for a packet without attachments (valid as long as s
 * is). PENDING: a binary header; its attachments come next. Errors leave
 * rx empty.
 */
int sio_rx_text(struct sio_rx *rx, const char *s, size_t n, int max_tokens);
/* A binary Engine.IO message packet's data: the next attachment. READY when
 * it was the last one (sio_rx_att gives each), PENDING before. SIO_TOO_BIG
 * past max_bytes; errors leave rx empty. The last attachment is not copied
 * (a relayed chunk is one 64 KiB attachment): data must stay valid until
 * the packet is released. */
int sio_rx_binary(struct sio_rx *rx, const uint8_t *data, size_t n);
/* Attachment k (< rx->got) of a READY packet, its length in *n. */
const uint8_t *sio_rx_att(const struct sio_rx *rx, unsigned k, size_t *n);
/* Done with a READY packet: frees it and its attachments (the next
 * sio_rx_text also does). */
void sio_rx_release(struct sio_rx *rx);
void sio_rx_free(struct sio_rx *rx);
const char *sio_rx_strerror(int err);

#endif
