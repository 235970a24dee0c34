/*
 * Galène re-join tickets (persist.c says what they are for): the body a
 * ticket's MAC covers, written and read here, with nothing of the store or
 * the bus, so it can be unit-tested and fuzzed. Only bytes whose MAC is ours
 * reach ticket_parse; it checks every length and value all the same.
 *
 * Version 2 (store version 2 on): seven parts, each a u32 length (host
 * order) then its bytes: group, username, client id, permissions (enum
 * gf_perm bytes), how the member got in (an int16), its data, its status.
 * Version 1 (before): four parts with u16 lengths: group, username, client
 * id, permissions. Each version's lengths keep the other's bytes from
 * parsing as it (ticket.c says why).
 */
#ifndef SB_GALENE_TICKET_H
#define SB_GALENE_TICKET_H
#include <stddef.h>
#include <stdint.h>

#include "../../common/buf.h"

struct gticket {
	int version; /* 2, or 1: no cand, data nor status */
	const uint8_t *group, *username, *id, *perms, *data, *status;
	size_t glen, ulen, idlen, nperms, dlen, slen;
	int16_t cand;
};

/* Appends t's version 2 body to b (t->version is not read). */
void ticket_write(struct buf *b, const struct gticket *t);
/* Reads a body of n bytes into out (pointers into body): 0, or -1 when it is
 * neither version, or a part is over its limit (GF_MAX_NAME, GALENE_MAX_ID,
 * GF_NPERM permissions each below GF_NPERM, GALENE_MAX_DATA) or the whole
 * over GALENE_MAX_TICKET. */
int ticket_parse(const uint8_t *body, size_t n, struct gticket *out);

#endif
