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
#include "ticket.h"

static unsigned char key[crypto_auth_KEYBYTES];
static bool from_v1;        /* the store was at version 1 when we opened it */
static int64_t v1_until;    /* until then, version 1 tickets are taken (0: not) */
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
	if (from_v1) {
		v1_until = clock_ms() + galene_opt.rejoin_grace_ms;
		log_info("galene: store upgraded from version 1: tickets of that version are taken for %d ms",
			 galene_opt.rejoin_grace_ms);
	}
	if (awaited.count) {
		grace_until = clock_ms() + galene_opt.rejoin_grace_ms;
		log_info("galene: waiting %d ms for %zu members to come back", galene_opt.rejoin_grace_ms,
			 (size_t)awaited.count);
	}
	return 0;
}

/* Store migration to version 2 (history.c): its tickets' MACs were never
 * kept, so version 1 tickets are taken for a while (rejoin_v1). */
int persist_upgrading_from_v1(sqlite3 *db)
{
	(void)db;
	from_v1 = true;
	return 0;
}

/* ---- tickets ---- */

void galene_send_ticket(struct galene_peer *p)
{
	struct buf b = {0};
	struct ggroup *g = p->group;
	struct gticket t = {.group = (const uint8_t *)g->name, .glen = g->name_len,
			    .username = (const uint8_t *)p->username, .ulen = p->username_len,
			    .id = (const uint8_t *)p->id, .idlen = p->id_len, .perms = p->perms, .nperms = p->nperms,
			    .cand = p->cand, .data = buf_head(&p->data), .dlen = buf_used(&p->data),
			    .status = buf_head(&p->status), .slen = buf_used(&p->status)};
	ticket_write(&b, &t);
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

/* The awaited entry the ticket is the latest of, taken out of the list;
 * NULL if there is none (the grace is over, or an older ticket). */
static struct awaited *claim(const struct gticket *t, const uint8_t *mac)
{
	char k[GF_MAX_NAME + 1 + GALENE_MAX_ID];
	size_t kl = awaited_key(k, (const char *)t->group, t->glen, (const char *)t->id, t->idlen);
	struct awaited *a = hmap_get(&awaited, k, kl);
	if (!a || sodium_memcmp(a->mac, mac, crypto_auth_BYTES) != 0)
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
static void restore(struct galene_peer *p, struct ggroup *g, const struct gticket *t)
{
	free(p->username);
	p->username = dup_n(t->username, t->ulen);
	p->username_len = t->ulen;
	memcpy(p->perms, t->perms, t->nperms);
	p->nperms = (uint8_t)t->nperms;
	p->cand = t->cand;
	buf_reset(&p->data);
	buf_append(&p->data, t->data, t->dlen);
	buf_reset(&p->status);
	buf_append(&p->status, t->status, t->slen);
	galene_member_add(g, p);
	galene_stats.rejoins++;
	log_info("galene: %.*s is back in %s after a router restart", (int)p->username_len, p->username, g->name);
}

static void stale(struct galene_peer *p)
{
	/* its client's view of the group is stale: it must join again */
	galene_stats.stale++;
	log_info("galene: worker pid %d sent a stale ticket (replaced, or back too late)", rworker_pid(p->w));
	galene_fatal(p, 1000, "the server restarted; please join again");
}

/* A ticket from before the store's version 2: the store keeps no MAC for
 * it, so it is taken once per member within the grace after the upgrade,
 * as the router before it took it, and the member gets a new ticket. It
 * has no data, status, nor how the member got in: a user the group file
 * lists is one again; anyone else keeps the ticket's permissions on a
 * reload, as a token's holder does. */
static void rejoin_v1(struct galene_peer *p, struct gticket *t)
{
	if (!v1_until || clock_ms() > v1_until)
		return stale(p);
	char name[GF_MAX_NAME + 1]; /* the folder is looked up by a C string */
	memcpy(name, t->group, t->glen);
	name[t->glen] = 0;
	struct ggroup *g = galene_group_for(name, t->glen);
	if (!g || galene_peer_by_id(g, p->id, p->id_len))
		return;
	t->cand = gf_find_user(g->desc, (const char *)t->username, t->ulen) ? CAND_USER : CAND_TOKEN;
	restore(p, g, t);
	galene_send_ticket(p);
}

void galene_rejoin(struct galene_peer *p, const uint8_t *t, size_t n)
{
	struct gticket k;
	if (n < crypto_auth_BYTES || crypto_auth_verify(t + n - crypto_auth_BYTES, t, n - crypto_auth_BYTES, key))
		return galene_stats.stale++, log_warn("galene: worker pid %d sent a ticket we did not sign; ignored", rworker_pid(p->w));
	if (ticket_parse(t, n - crypto_auth_BYTES, &k) < 0)
		return log_warn("galene: worker pid %d sent a ticket we cannot read; ignored", rworker_pid(p->w));
	if (k.idlen != p->id_len || memcmp(k.id, p->id, p->id_len) != 0 || p->group)
		return log_warn("galene: worker pid %d sent a ticket for another client; ignored", rworker_pid(p->w));
	if (k.version == 1)
		return rejoin_v1(p, &k);
	struct awaited *a = claim(&k, t + n - crypto_auth_BYTES);
	if (!a)
		return stale(p);
	struct ggroup *g = galene_group_for(a->group, a->glen);
	if (g && !galene_peer_by_id(g, p->id, p->id_len))
		restore(p, g, &k);
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
