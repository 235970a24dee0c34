/*
 * Galène re-join tickets: their body, version 2 written, either read
 * (ticket.h). A version 1 body does not read as version 2: its first four
 * bytes, as a u32, are the group's u16 length plus the name's first byte
 * times 65536 and more, at least 0x200000 for a name starting with a
 * printable byte (the group files' names do), far over GALENE_MAX_TICKET.
 * A version 2 body tried as version 1 is never reached: 2 is tried first.
 */
#include "ticket.h"

#include <string.h>

#include "galene.h"
#include "groupfile.h"
#include "groups.h"

#define NPARTS2 7
#define NPARTS1 4

static void put_part(struct buf *b, const void *p, size_t n)
{
	uint32_t l = (uint32_t)n;
	buf_append(b, &l, 4);
	if (n)
		buf_append(b, p, n);
}

void ticket_write(struct buf *b, const struct gticket *t)
{
	put_part(b, t->group, t->glen);
	put_part(b, t->username, t->ulen);
	put_part(b, t->id, t->idlen);
	put_part(b, t->perms, t->nperms);
	put_part(b, &t->cand, sizeof t->cand);
	put_part(b, t->data, t->dlen);
	put_part(b, t->status, t->slen);
}

/* nparts parts of lenw-byte lengths exactly filling body: 0, or -1. */
static int split(const uint8_t *body, size_t n, int nparts, size_t lenw, const uint8_t **part, size_t *len)
{
	size_t off = 0;
	for (int i = 0; i < nparts; i++) {
		if (n - off < lenw)
			return -1;
		uint32_t l = 0;
		if (lenw == 4) {
			memcpy(&l, body + off, 4);
		} else {
			uint16_t s;
			memcpy(&s, body + off, 2);
			l = s;
		}
		off += lenw;
		if (l > n - off)
			return -1;
		part[i] = body + off;
		len[i] = l;
		off += l;
	}
	return off == n ? 0 : -1;
}

static int check(const struct gticket *t)
{
	if (t->glen == 0 || t->glen > GF_MAX_NAME || memchr(t->group, 0, t->glen) || t->idlen > GALENE_MAX_ID ||
	    t->nperms > GF_NPERM || t->dlen > GALENE_MAX_DATA || t->slen > GALENE_MAX_DATA)
		return -1;
	for (size_t i = 0; i < t->nperms; i++)
		if (t->perms[i] >= GF_NPERM)
			return -1;
	return 0;
}

int ticket_parse(const uint8_t *body, size_t n, struct gticket *out)
{
	const uint8_t *part[NPARTS2];
	size_t len[NPARTS2];
	memset(out, 0, sizeof *out);
	if (n > GALENE_MAX_TICKET)
		return -1;
	if (split(body, n, NPARTS2, 4, part, len) == 0) {
		if (len[4] != sizeof out->cand)
			return -1;
		out->version = 2;
		memcpy(&out->cand, part[4], sizeof out->cand);
		out->data = part[5], out->dlen = len[5];
		out->status = part[6], out->slen = len[6];
	} else if (split(body, n, NPARTS1, 2, part, len) == 0) {
		out->version = 1;
	} else {
		return -1;
	}
	out->group = part[0], out->glen = len[0];
	out->username = part[1], out->ulen = len[1];
	out->id = part[2], out->idlen = len[2];
	out->perms = part[3], out->nperms = len[3];
	if (check(out) < 0) {
		memset(out, 0, sizeof *out);
		return -1;
	}
	return 0;
}
