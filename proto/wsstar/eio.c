/*
 * Engine.IO 3 packet decoding and the few packets a server sends. A text
 * message starts with an ASCII type digit, a binary one with the numeric
 * type byte (0x04 for message, as engine.io-parser 2 writes it).
 */
#include "eio.h"

#include <sodium.h>
#include <string.h>

int eio_decode(struct eio_packet *p, const uint8_t *msg, size_t n, bool binary)
{
	memset(p, 0, sizeof *p);
	p->binary = binary;
	if (n > EIO_MAX_MESSAGE)
		return EIO_TOO_BIG;
	if (n == 0)
		return EIO_EMPTY;
	unsigned t = msg[0];
	if (!binary) {
		if (t == 'b')
			return EIO_BASE64;
		if (t < '0')
			return EIO_BAD_TYPE;
		t -= '0';
	}
	if (t > EIO_NOOP)
		return EIO_BAD_TYPE;
	p->type = (enum eio_type)t;
	p->data = msg + 1;
	p->len = n - 1;
	return EIO_OK;
}

const char *eio_strerror(int err)
{
	switch (err) {
	case EIO_OK:
		return "ok";
	case EIO_EMPTY:
		return "empty Engine.IO packet";
	case EIO_BAD_TYPE:
		return "unknown Engine.IO packet type";
	case EIO_BASE64:
		return "base64 Engine.IO packets are not served";
	case EIO_TOO_BIG:
		return "Engine.IO packet too big";
	default:
		return "unknown Engine.IO error";
	}
}

void eio_new_sid(char out[EIO_SID_LEN + 1])
{
	unsigned char raw[15];
	randombytes_buf(raw, sizeof raw);
	/* 15 bytes are exactly 20 base64 characters, no padding. */
	sodium_bin2base64(out, EIO_SID_LEN + 1, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static bool url_safe(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '-' || *s == '_'))
			return false;
	return true;
}

int eio_put_open(struct buf *b, const char *sid, unsigned ping_interval_ms, unsigned ping_timeout_ms)
{
	if (!url_safe(sid))
		return -1;
	return buf_printf(b, "0{\"sid\":\"%s\",\"upgrades\":[],\"pingInterval\":%u,\"pingTimeout\":%u}", sid,
			  ping_interval_ms, ping_timeout_ms);
}

int eio_put_pong(struct buf *b, const uint8_t *data, size_t n)
{
	if (buf_append(b, "3", 1) < 0)
		return -1;
	return n ? buf_append(b, data, n) : 0;
}

int eio_put_close(struct buf *b) { return buf_append(b, "1", 1); }

int eio_put_binary(struct buf *b, const uint8_t *data, size_t n)
{
	static const uint8_t type = EIO_MESSAGE;
	if (buf_append(b, &type, 1) < 0)
		return -1;
	return n ? buf_append(b, data, n) : 0;
}
