/*
 * Galène, router half: what of members and groups survives a router
 * restart. A member's worker keeps a re-join ticket we signed (group,
 * username, id, permissions, how it got in, its data and status) and sends
 * it back when the bus comes back; the store keeps the MAC of the latest
 * ticket of every member, so a worker can neither forge a ticket nor replay
 * an older one of its own (from before an unop, say). The members the store
 * knew are waited for --galene-rejoin-grace: those not back by then are
 * dropped, the others told (user kind delete). Group locks and group data
 * are rows of their own, read when the group is made again.
 */
#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/clock.h"
#include "../../common/log.h"
#include "options.h"
#include "groups.h"
#include "router.h"

#define NPARTS 7 /* group, username, id, permissions, cand, data, status */

static unsigned char key[crypto_auth_KEYBYTES];
static sqlite3_stmt *st_member_put, *st_member_del, *st_member_all, *st_group_put, *st_group_del, *st_group_get;

/* A member the store knew at start, not back yet. Key: group, NUL, id. */
struct awaited {
	char *group, *username;
	size_t glen, ulen;
	char id[GALENE_MAX_ID];
	size_t id_len;
	unsigned char mac[crypto_auth_BYTES];
};
static struct hmap awaited;
static int64_t grace_until; /* 0: not waiting */

static void step(sqlite3_stmt *q, const char *what)
{
	if (sqlite3_step(q) != SQLITE_DONE) {
		log_error("galene: %s: %s", what, sqlite3_errmsg(store_db()));
		store_check_txn();
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
}

static size_t awaited_key(char *k, const char *g, size_t glen, const char *id, size_t idlen)
{
	memcpy(k, g, glen);
	k[glen] = 0;
	memcpy(k + glen + 1, id, idlen);
	return glen + 1 + idlen;
}

static char *dup_n(const void *p, size_t n)
{
	char *d = malloc(n + 1);
	if (!d)
		log_fatal("galene: out of memory");
	memcpy(d, p, n);
	d[n] = 0;
	return d;
}

static void load_one(sqlite3_stmt *q)
{
	struct awaited *a = calloc(1, sizeof *a);
	size_t idlen = (size_t)sqlite3_column_bytes(q, 1), maclen = (size_t)sqlite3_column_bytes(q, 3);
	size_t glen = (size_t)sqlite3_column_bytes(q, 0);
	if (!a || idlen > GALENE_MAX_ID || maclen != crypto_auth_BYTES || glen > GF_MAX_NAME) {
		free(a);
		return;
	}
	a->glen = glen;
	a->group = dup_n(sqlite3_column_blob(q, 0), glen);
	a->id_len = idlen;
	memcpy(a->id, sqlite3_column_blob(q, 1), idlen);
	a->ulen = (size_t)sqlite3_column_bytes(q, 2);
	a->username = dup_n(sqlite3_column_blob(q, 2), a->ulen);
	memcpy(a->mac, sqlite3_column_blob(q, 3), maclen);
	char k[GF_MAX_NAME + 1 + GALENE_MAX_ID];
	hmap_put(&awaited, k, awaited_key(k, a->group, glen, a->id, idlen), a, NULL);
}

int persist_init(const unsigned char *ticket_key)
{
	memcpy(key, ticket_key, sizeof key);
	st_member_put = store_prepare("INSERT OR REPLACE INTO galene_members (grp, id, username, mac) VALUES (?, ?, ?, ?)");
	st_member_del = store_prepare("DELETE FROM galene_members WHERE grp = ? AND id = ?");
	st_member_all = store_prepare("SELECT grp, id, username, mac FROM galene_members");
	st_group_put = store_prepare("INSERT OR REPLACE INTO galene_groups (grp, locked, lock_message, data) VALUES (?, ?, ?, ?)");
	st_group_del = store_prepare("DELETE FROM galene_groups WHERE grp = ?");
	st_group_get = store_prepare("SELECT locked, lock_message, data FROM galene_groups WHERE grp = ?");
	if (hmap_init(&awaited) < 0)
		return -1;
	while (sqlite3_step(st_member_all) == SQLITE_ROW)
		load_one(st_member_all);
	sqlite3_reset(st_member_all);
	if (awaited.count) {
		grace_until = clock_ms() + galene_opt.rejoin_grace_ms;
		log_info("galene: waiting %d ms for %zu members to come back", galene_opt.rejoin_grace_ms,
			 (size_t)awaited.count);
	}
	return 0;
}

/* ---- tickets ---- */

static void put_part(struct buf *b, const void *p, size_t n)
{
	uint32_t l = (uint32_t)n;
	buf_append(b, &l, 4);
	buf_append(b, p, n);
}

void galene_send_ticket(struct galene_peer *p)
{
	struct buf b = {0};
	struct ggroup *g = p->group;
	put_part(&b, g->name, g->name_len);
	put_part(&b, p->username, p->username_len);
	put_part(&b, p->id, p->id_len);
	put_part(&b, p->perms, p->nperms);
	put_part(&b, &p->cand, sizeof p->cand);
	put_part(&b, buf_head(&p->data), buf_used(&p->data));
	put_part(&b, buf_head(&p->status), buf_used(&p->status));
	unsigned char mac[crypto_auth_BYTES];
	crypto_auth(mac, buf_head(&b), buf_used(&b), key);
	buf_append(&b, mac, sizeof mac);
	msgpack_packer *pk = router_packer(galene_R);
	env_begin(pk, GALENE_PROTO, GALENE_OP_TICKET, 1);
	mp_kv_bin(pk, "t", buf_head(&b), buf_used(&b));
	router_send_scratch(galene_R, p->w);
	buf_free(&b);
	store_will_write();
	sqlite3_bind_blob(st_member_put, 1, g->name, (int)g->name_len, SQLITE_STATIC);
	sqlite3_bind_blob(st_member_put, 2, p->id, (int)p->id_len, SQLITE_STATIC);
	sqlite3_bind_blob(st_member_put, 3, p->username ? p->username : "", (int)p->username_len, SQLITE_STATIC);
	sqlite3_bind_blob(st_member_put, 4, mac, sizeof mac, SQLITE_STATIC);
	step(st_member_put, "member write");
}

void persist_member_gone(const struct galene_peer *p, const struct ggroup *g)
{
	store_will_write();
	sqlite3_bind_blob(st_member_del, 1, g->name, (int)g->name_len, SQLITE_STATIC);
	sqlite3_bind_blob(st_member_del, 2, p->id, (int)p->id_len, SQLITE_STATIC);
	step(st_member_del, "member delete");
}

/* Splits a ticket whose MAC is ours into its parts: false if it is not. */
static bool ticket_parts(const uint8_t *t, size_t n, const uint8_t *part[NPARTS], uint32_t len[NPARTS])
{
	if (n < crypto_auth_BYTES || crypto_auth_verify(t + n - crypto_auth_BYTES, t, n - crypto_auth_BYTES, key))
		return false;
	size_t off = 0, end = n - crypto_auth_BYTES;
	for (int i = 0; i < NPARTS; i++) {
		if (off + 4 > end)
			return false;
		memcpy(&len[i], t + off, 4);
		part[i] = t + off + 4;
		if (len[i] > end - off - 4)
			return false;
		off += 4 + (size_t)len[i];
	}
	return off == end;
}

/* The awaited entry the ticket is the latest of, taken out of the list;
 * NULL if there is none (the grace is over, or an older ticket). */
static struct awaited *claim(const uint8_t *t, size_t n, const uint8_t *part[NPARTS], const uint32_t len[NPARTS])
{
	char k[GF_MAX_NAME + 1 + GALENE_MAX_ID];
	if (len[0] > GF_MAX_NAME || len[2] > GALENE_MAX_ID)
		return NULL;
	size_t kl = awaited_key(k, (const char *)part[0], len[0], (const char *)part[2], len[2]);
	struct awaited *a = hmap_get(&awaited, k, kl);
	if (!a || sodium_memcmp(a->mac, t + n - crypto_auth_BYTES, crypto_auth_BYTES) != 0)
		return NULL;
	hmap_del(&awaited, k, kl);
	return a;
}

static void awaited_free(struct awaited *a)
{
	free(a->group);
	free(a->username);
	free(a);
}

/* Puts p back as the ticket says; the others know it already. */
static void restore(struct galene_peer *p, struct ggroup *g, const uint8_t *part[NPARTS], const uint32_t len[NPARTS])
{
	free(p->username);
	p->username = dup_n(part[1], len[1]);
	p->username_len = len[1];
	memcpy(p->perms, part[3], len[3]);
	p->nperms = (uint8_t)len[3];
	memcpy(&p->cand, part[4], sizeof p->cand);
	buf_reset(&p->data);
	buf_append(&p->data, part[5], len[5]);
	buf_reset(&p->status);
	buf_append(&p->status, part[6], len[6]);
	galene_member_add(g, p);
	galene_stats.rejoins++;
	log_info("galene: %.*s is back in %s after a router restart", (int)p->username_len, p->username, g->name);
}

void galene_rejoin(struct galene_peer *p, const uint8_t *t, size_t n)
{
	const uint8_t *part[NPARTS];
	uint32_t len[NPARTS];
	if (!ticket_parts(t, n, part, len))
		return galene_stats.stale++, log_warn("galene: worker pid %d sent a ticket we did not sign; ignored", rworker_pid(p->w));
	if (len[2] != p->id_len || memcmp(part[2], p->id, p->id_len) != 0 || len[3] > GF_NPERM ||
	    len[4] != sizeof p->cand || len[5] > GALENE_MAX_DATA || len[6] > GALENE_MAX_DATA || p->group)
		return log_warn("galene: worker pid %d sent a ticket for another client; ignored", rworker_pid(p->w));
	struct awaited *a = claim(t, n, part, len);
	if (!a) { /* its client's view of the group is stale: it must join again */
		galene_stats.stale++;
		log_info("galene: worker pid %d sent a stale ticket (replaced, or back too late)", rworker_pid(p->w));
		return galene_fatal(p, 1000, "the server restarted; please join again");
	}
	struct ggroup *g = galene_group_for(a->group, a->glen);
	if (g && !galene_peer_by_id(g, p->id, p->id_len))
		restore(p, g, part, len);
	awaited_free(a);
}

/* ---- the grace period ---- */

static void drop_one(void *arg, const void *k, size_t kl, void *value)
{
	(void)arg, (void)k, (void)kl;
	struct awaited *a = value;
	struct galene_peer ghost = {.username = a->username, .username_len = a->ulen, .id_len = a->id_len};
	memcpy(ghost.id, a->id, a->id_len);
	struct ggroup *g = galene_group_find(a->group, a->glen);
	if (g && g->count) {
		out_user_delete(&galene_out, &ghost);
		galene_fan_out(g, &galene_out, NULL);
	}
	persist_member_gone(&ghost, &(struct ggroup){.name = a->group, .name_len = a->glen});
	galene_stats.dropped++;
	log_info("galene: %.*s did not come back to %s after the router restart", (int)a->ulen, a->username, a->group);
	awaited_free(a);
}

int64_t persist_tick(int64_t now)
{
	if (!grace_until)
		return 0;
	if (now < grace_until)
		return grace_until;
	hmap_each(&awaited, drop_one, NULL);
	hmap_free(&awaited);
	hmap_init(&awaited);
	grace_until = 0;
	return 0;
}

static void free_awaited(void *arg, const void *k, size_t kl, void *value)
{
	(void)arg, (void)k, (void)kl;
	awaited_free(value);
}

void persist_fini(void)
{
	hmap_each(&awaited, free_awaited, NULL);
	hmap_free(&awaited);
}

/* ---- group state ---- */

void persist_group_save(const struct ggroup *g)
{
	store_will_write();
	if (g->locked == g->desc->autolock && !g->lock_message && !buf_used(&g->data)) {
		sqlite3_bind_blob(st_group_del, 1, g->name, (int)g->name_len, SQLITE_STATIC);
		return step(st_group_del, "group delete");
	}
	sqlite3_bind_blob(st_group_put, 1, g->name, (int)g->name_len, SQLITE_STATIC);
	sqlite3_bind_int(st_group_put, 2, g->locked);
	if (g->lock_message)
		sqlite3_bind_text(st_group_put, 3, g->lock_message, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st_group_put, 4, buf_head(&g->data), (int)buf_used(&g->data), SQLITE_STATIC);
	step(st_group_put, "group write");
}

void persist_group_load(struct ggroup *g)
{
	sqlite3_bind_blob(st_group_get, 1, g->name, (int)g->name_len, SQLITE_STATIC);
	if (sqlite3_step(st_group_get) == SQLITE_ROW) {
		g->locked = sqlite3_column_int(st_group_get, 0) != 0;
		const unsigned char *m = sqlite3_column_text(st_group_get, 1);
		if (m && !(g->lock_message = strdup((const char *)m)))
			log_fatal("galene: out of memory");
		size_t n = (size_t)sqlite3_column_bytes(st_group_get, 2);
		if (n && n <= GALENE_MAX_DATA)
			buf_append(&g->data, sqlite3_column_blob(st_group_get, 2), n);
	}
	sqlite3_reset(st_group_get);
	sqlite3_clear_bindings(st_group_get);
}
