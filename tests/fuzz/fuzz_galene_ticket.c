/*
 * Galène re-join tickets: ticket_parse on any bytes either refuses, or
 * gives parts that lie inside the input, are within their limits (a
 * non-empty group without NUL, permissions that are all known), and write
 * back (version 2) or lay out (version 1) to exactly the input. The router
 * reads only bodies whose MAC is ours; the parser must hold without that.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/galene/galene.h"
#include "../../proto/galene/groups.h"
#include "../../proto/galene/ticket.h"

static void inside(const uint8_t *data, size_t size, const uint8_t *p, size_t n)
{
	if (n && (p < data || p + n > data + size))
		abort();
}

static void v1_layout(struct buf *b, const struct gticket *t)
{
	const uint8_t *p[] = {t->group, t->username, t->id, t->perms};
	size_t n[] = {t->glen, t->ulen, t->idlen, t->nperms};
	for (int i = 0; i < 4; i++) {
		uint16_t l = (uint16_t)n[i];
		buf_append(b, &l, 2);
		if (n[i])
			buf_append(b, p[i], n[i]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gticket t;
	if (ticket_parse(data, size, &t) < 0)
		return 0;
	if ((t.version != 1 && t.version != 2) || size > GALENE_MAX_TICKET || !t.glen || t.glen > GF_MAX_NAME ||
	    memchr(t.group, 0, t.glen) || t.idlen > GALENE_MAX_ID || t.nperms > GF_NPERM ||
	    t.dlen > GALENE_MAX_DATA || t.slen > GALENE_MAX_DATA)
		abort();
	for (size_t i = 0; i < t.nperms; i++)
		if (t.perms[i] >= GF_NPERM)
			abort();
	inside(data, size, t.group, t.glen);
	inside(data, size, t.username, t.ulen);
	inside(data, size, t.id, t.idlen);
	inside(data, size, t.perms, t.nperms);
	inside(data, size, t.data, t.dlen);
	inside(data, size, t.status, t.slen);
	if (t.version == 1 && (t.dlen || t.slen || t.cand))
		abort();
	struct buf b = {0};
	if (t.version == 2)
		ticket_write(&b, &t);
	else
		v1_layout(&b, &t);
	if (buf_used(&b) != size || memcmp(buf_head(&b), data, size) != 0)
		abort();
	buf_free(&b);
	return 0;
}
