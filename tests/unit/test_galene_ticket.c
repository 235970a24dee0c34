/* Galène re-join tickets (proto/galene/ticket.c): both versions read, the
 * limits of every part, and inputs far over 4 KB. */
#include <stdlib.h>
#include <string.h>

#include "../../proto/galene/galene.h"
#include "../../proto/galene/groups.h"
#include "../../proto/galene/ticket.h"
#include "check.h"

static const uint8_t perms2[] = {GF_P_OP, GF_P_MESSAGE};

static struct gticket sample(void)
{
	return (struct gticket){.group = (const uint8_t *)"test", .glen = 4, .username = (const uint8_t *)"alice",
				.ulen = 5, .id = (const uint8_t *)"c1", .idlen = 2, .perms = perms2, .nperms = 2,
				.cand = -2, .data = (const uint8_t *)"{\"a\":1}", .dlen = 7,
				.status = (const uint8_t *)"{}", .slen = 2};
}

static int parse_of(const struct gticket *t, struct gticket *out)
{
	struct buf b = {0};
	ticket_write(&b, t);
	int rc = ticket_parse(buf_head(&b), buf_used(&b), out);
	buf_free(&b);
	return rc;
}

static void v1_part(struct buf *b, const void *p, size_t n)
{
	uint16_t l = (uint16_t)n;
	buf_append(b, &l, 2);
	buf_append(b, p, n);
}

static void test_versions(void)
{
	struct gticket t = sample(), r;
	struct buf b = {0};
	ticket_write(&b, &t);
	int rc = ticket_parse(buf_head(&b), buf_used(&b), &r);
	CHECK("galene ticket: version 2 reads back", rc == 0 && r.version == 2 && r.glen == 4 &&
		memcmp(r.group, "test", 4) == 0 && r.ulen == 5 && memcmp(r.username, "alice", 5) == 0 && r.idlen == 2 &&
		r.nperms == 2 && r.perms[1] == GF_P_MESSAGE && r.cand == -2 && r.dlen == 7 && r.slen == 2);
	CHECK("galene ticket: parts point into the body", r.group >= buf_head(&b) && r.status + r.slen <= buf_head(&b) + buf_used(&b));
	CHECK("galene ticket: one byte short refused", ticket_parse(buf_head(&b), buf_used(&b) - 1, &r) < 0);
	buf_append(&b, "", 1);
	CHECK("galene ticket: a trailing byte refused", ticket_parse(buf_head(&b), buf_used(&b), &r) < 0);
	buf_free(&b);

	v1_part(&b, "test", 4);
	v1_part(&b, "bob", 3);
	v1_part(&b, "c9", 2);
	v1_part(&b, perms2, 2);
	rc = ticket_parse(buf_head(&b), buf_used(&b), &r);
	CHECK("galene ticket: version 1 (before store version 2) reads", rc == 0 && r.version == 1 && r.ulen == 3 &&
		memcmp(r.username, "bob", 3) == 0 && r.idlen == 2 && r.nperms == 2 && !r.dlen && !r.slen && !r.cand);
	buf_free(&b);
	CHECK("galene ticket: nothing is no ticket", ticket_parse((const uint8_t *)"", 0, &r) < 0);
}

static void test_limits(void)
{
	struct gticket t = sample(), r;
	uint8_t *big = calloc(1, 1u << 20);
	memset(big, 'x', 1u << 20);
	t.data = t.status = big;
	t.dlen = t.slen = GALENE_MAX_DATA;
	t.group = big, t.glen = GF_MAX_NAME;
	t.id = big, t.idlen = GALENE_MAX_ID;
	CHECK("galene ticket: the largest (64 KiB data and status, longest name and id) reads", parse_of(&t, &r) == 0 &&
		r.dlen == GALENE_MAX_DATA && r.glen == GF_MAX_NAME);
	t.dlen++;
	CHECK("galene ticket: data over 64 KiB refused", parse_of(&t, &r) < 0);
	t.dlen--, t.slen++;
	CHECK("galene ticket: status over 64 KiB refused", parse_of(&t, &r) < 0);
	t = sample();
	t.glen = GF_MAX_NAME + 1, t.group = big;
	CHECK("galene ticket: group name over its limit refused", parse_of(&t, &r) < 0);
	t = sample();
	t.idlen = GALENE_MAX_ID + 1, t.id = big;
	CHECK("galene ticket: client id over its limit refused", parse_of(&t, &r) < 0);
	t = sample();
	t.ulen = 200000, t.username = big;
	CHECK("galene ticket: over GALENE_MAX_TICKET in all refused", parse_of(&t, &r) < 0);
	t = sample();
	t.glen = 0;
	CHECK("galene ticket: an empty group refused", parse_of(&t, &r) < 0);
	t.group = (const uint8_t *)"te\0st", t.glen = 5;
	CHECK("galene ticket: a NUL in the group refused", parse_of(&t, &r) < 0);
	uint8_t all[GF_NPERM + 1];
	for (int i = 0; i < GF_NPERM + 1; i++)
		all[i] = (uint8_t)(i % GF_NPERM);
	t = sample();
	t.perms = all, t.nperms = GF_NPERM;
	CHECK("galene ticket: every permission reads", parse_of(&t, &r) == 0 && r.nperms == GF_NPERM);
	t.nperms = GF_NPERM + 1;
	CHECK("galene ticket: more permissions than there are refused", parse_of(&t, &r) < 0);
	all[0] = GF_NPERM;
	t.nperms = 1;
	CHECK("galene ticket: an unknown permission refused", parse_of(&t, &r) < 0);
	CHECK("galene ticket: 1 MiB of bytes refused", ticket_parse(big, 1u << 20, &r) < 0);
	memset(big, 0xff, 8);
	CHECK("galene ticket: lengths past the end refused", ticket_parse(big, 70000, &r) < 0);
	memset(big, 0, 1u << 20);
	CHECK("galene ticket: 1 MiB of zero-length parts refused", ticket_parse(big, 1u << 20, &r) < 0);
	/* a cand part that is not an int16 */
	struct buf b = {0};
	const char *parts[] = {"test", "a", "c", "", "\x01", "", ""};
	for (int i = 0; i < 7; i++) {
		uint32_t l = (uint32_t)strlen(parts[i]);
		buf_append(&b, &l, 4);
		buf_append(&b, parts[i], l);
	}
	CHECK("galene ticket: a one-byte cand refused", ticket_parse(buf_head(&b), buf_used(&b), &r) < 0);
	buf_free(&b);
	free(big);
}

void test_galene_ticket(void)
{
	test_versions();
	test_limits();
}
