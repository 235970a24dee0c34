/*
 * Messaging, router half: the client_id registry (newest connection wins),
 * the durable queues in the store, live delivery and the backlog on attach.
 */
#include <stdint.h>
#include <string.h>

#include "../../common/log.h"
#include "../../router/router.h"
#include "../../router/store.h"
#include "messaging.h"

#define BACKLOG_FRAME_BYTES (256u << 10) /* well under the worker queue and the client backlog */

struct messaging_worker {
	char client[MESSAGING_MAX_ID];
	size_t client_len; /* 0: not attached */
	int64_t cursor;    /* backlog sent up to this seq; -1: caught up, live */
};

static struct hmap clients; /* client_id → rworker */
static struct hmap counts;  /* rid → stored messages, as intptr_t */
static sqlite3_stmt *st_insert, *st_delete, *st_backlog;
static struct buf frame;
static struct messaging_stats {
	uint64_t stored, duplicates, deleted, too_large, over_quota;
} stats;

static intptr_t count_of(const char *rid, size_t n) { return (intptr_t)hmap_get(&counts, rid, n); }

static void count_add(const char *rid, size_t n, intptr_t d)
{
	intptr_t c = count_of(rid, n) + d;
	if (c > 0)
		hmap_put(&counts, rid, n, (void *)c, NULL);
	else
		hmap_del(&counts, rid, n);
}

static int load_counts(void)
{
	sqlite3_stmt *st = store_prepare("SELECT rid, COUNT(*) FROM messages GROUP BY rid");
	while (sqlite3_step(st) == SQLITE_ROW)
		count_add((const char *)sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0),
			  sqlite3_column_int(st, 1));
	sqlite3_finalize(st);
	return 0;
}

static int messaging_init(struct router *r)
{
	(void)r;
	if (hmap_init(&clients) < 0 || hmap_init(&counts) < 0)
		return -1;
	st_insert = store_prepare("INSERT OR IGNORE INTO messages (rid, key, body) VALUES (?, ?, ?)");
	st_delete = store_prepare("DELETE FROM messages WHERE rid = ? AND key = ?");
	st_backlog = store_prepare("SELECT seq, body FROM messages WHERE rid = ? AND seq > ? ORDER BY seq LIMIT ?");
	return load_counts();
}

static void messaging_fini(struct router *r)
{
	(void)r;
	sqlite3_finalize(st_insert);
	sqlite3_finalize(st_delete);
	sqlite3_finalize(st_backlog);
	hmap_free(&clients);
	hmap_free(&counts);
	buf_free(&frame);
	log_info("messaging: stored %llu, duplicates %llu, read %llu, skipped %llu too large, %llu over quota",
		 (unsigned long long)stats.stored, (unsigned long long)stats.duplicates,
		 (unsigned long long)stats.deleted, (unsigned long long)stats.too_large,
		 (unsigned long long)stats.over_quota);
}

/* Sends the next frames of w's backlog while its queue has room. */
static void pump(struct router *r, struct rworker *w)
{
	struct messaging_worker *st = rworker_state(w);
	while (st->cursor >= 0 && router_queued(w) < BACKLOG_FRAME_BYTES) {
		sqlite3_bind_text(st_backlog, 1, st->client, (int)st->client_len, SQLITE_STATIC);
		sqlite3_bind_int64(st_backlog, 2, st->cursor);
		sqlite3_bind_int(st_backlog, 3, MESSAGING_FRAME_MAX);
		buf_reset(&frame);
		buf_append_str(&frame, "{\"messages\":[");
		int n = 0;
		while (buf_used(&frame) < BACKLOG_FRAME_BYTES && sqlite3_step(st_backlog) == SQLITE_ROW) {
			if (n++)
				buf_append(&frame, ",", 1);
			buf_append(&frame, sqlite3_column_blob(st_backlog, 1), (size_t)sqlite3_column_bytes(st_backlog, 1));
			st->cursor = sqlite3_column_int64(st_backlog, 0);
		}
		sqlite3_reset(st_backlog);
		if (n == 0) {
			st->cursor = -1; /* caught up: new messages go out live */
			break;
		}
		buf_append_str(&frame, "]}");
		router_send_text(r, w, buf_head(&frame), buf_used(&frame));
	}
}

static void on_attach(struct router *r, struct rworker *w, const char *client, size_t n)
{
	struct messaging_worker *st = rworker_state(w);
	if (messaging_client_id_invalid(client, n)) {
		log_warn("messaging: worker pid %d attached an invalid client_id", w->pid);
		return;
	}
	struct rworker *old = hmap_get(&clients, client, n);
	if (old && old != w) {
		struct messaging_worker *ost = rworker_state(old);
		ost->client_len = 0;
		router_close_client(r, old, 4000, "superseded by a newer connection");
	}
	memcpy(st->client, client, n);
	st->client_len = n;
	st->cursor = 0;
	hmap_put(&clients, client, n, w, NULL);
	pump(r, w);
}

static void deliver_live(struct router *r, const char *rid, size_t rl, const uint8_t *m, size_t ml)
{
	struct rworker *to = hmap_get(&clients, rid, rl);
	if (!to || ((struct messaging_worker *)rworker_state(to))->cursor >= 0)
		return; /* offline, or its backlog (which will include this) is still going out */
	buf_reset(&frame);
	buf_append_str(&frame, "{\"messages\":[");
	buf_append(&frame, m, ml);
	buf_append_str(&frame, "]}");
	router_send_text(r, to, buf_head(&frame), buf_used(&frame));
}

static void on_send(struct router *r, const char *rid, size_t rl, const uint8_t *key, size_t kl,
		    const uint8_t *m, size_t ml)
{
	if (ml > r->opt.messaging_max_size) {
		stats.too_large++;
		log_warn("messaging: message for %.*s skipped: %zu bytes, over the %zu-byte limit", (int)rl, rid, ml,
			 r->opt.messaging_max_size);
		return;
	}
	if (count_of(rid, rl) >= r->opt.messaging_max_queue) {
		stats.over_quota++;
		log_warn("messaging: message for %.*s skipped: %ld messages already stored", (int)rl, rid,
			 (long)r->opt.messaging_max_queue);
		return;
	}
	store_will_write();
	sqlite3_bind_text(st_insert, 1, rid, (int)rl, SQLITE_STATIC);
	sqlite3_bind_blob(st_insert, 2, key, (int)kl, SQLITE_STATIC);
	sqlite3_bind_blob(st_insert, 3, m, (int)ml, SQLITE_STATIC);
	int rc = sqlite3_step(st_insert);
	sqlite3_reset(st_insert);
	if (rc != SQLITE_DONE) {
		log_error("messaging: storing for %.*s failed: %s", (int)rl, rid, sqlite3_errmsg(store_db()));
		return;
	}
	if (sqlite3_changes(store_db()) == 0) {
		stats.duplicates++; /* same (rid, id) again: a retry, already stored */
		return;
	}
	stats.stored++;
	count_add(rid, rl, 1);
	deliver_live(r, rid, rl, m, ml);
}

static void on_read(struct rworker *w, const uint8_t *key, size_t kl)
{
	struct messaging_worker *st = rworker_state(w);
	if (!st->client_len)
		return;
	store_will_write();
	sqlite3_bind_text(st_delete, 1, st->client, (int)st->client_len, SQLITE_STATIC);
	sqlite3_bind_blob(st_delete, 2, key, (int)kl, SQLITE_STATIC);
	sqlite3_step(st_delete);
	sqlite3_reset(st_delete);
	int n = sqlite3_changes(store_db());
	if (n > 0) {
		stats.deleted += (uint64_t)n;
		count_add(st->client, st->client_len, -n);
	}
}

static void messaging_envelope(struct router *r, struct rworker *w, const struct envelope *e)
{
	const char *s;
	size_t n;
	const uint8_t *key, *m;
	size_t kl, ml;
	if (env_op_is(e, MESSAGING_OP_ATTACH) && mp_get_str(e->map, "client", &s, &n))
		on_attach(r, w, s, n);
	else if (env_op_is(e, MESSAGING_OP_SEND) && mp_get_str(e->map, "rid", &s, &n) &&
		 mp_get_bin(e->map, "key", &key, &kl) && mp_get_bin(e->map, "m", &m, &ml) &&
		 !messaging_client_id_invalid(s, n) && kl <= MESSAGING_MAX_KEY)
		on_send(r, s, n, key, kl, m, ml);
	else if (env_op_is(e, MESSAGING_OP_READ) && mp_get_bin(e->map, "key", &key, &kl))
		on_read(w, key, kl);
	else
		log_warn("messaging: malformed %.*s from worker pid %d", (int)e->op_len, e->op, w->pid);
}

static void messaging_drained(struct router *r, struct rworker *w)
{
	if (((struct messaging_worker *)rworker_state(w))->cursor >= 0)
		pump(r, w);
}

static void messaging_gone(struct router *r, struct rworker *w)
{
	(void)r;
	struct messaging_worker *st = rworker_state(w);
	if (st->client_len && hmap_get(&clients, st->client, st->client_len) == w)
		hmap_del(&clients, st->client, st->client_len);
}

static void messaging_metrics(FILE *f)
{
	static const char *const names[] = {"stored", "duplicates", "read", "skipped_too_large", "skipped_over_quota"};
	const uint64_t values[] = {stats.stored, stats.duplicates, stats.deleted, stats.too_large, stats.over_quota};
	fprintf(f, "# HELP switchboard_messaging_total Messaging store events.\n"
		   "# TYPE switchboard_messaging_total counter\n");
	for (int i = 0; i < 5; i++)
		fprintf(f, "switchboard_messaging_total{event=\"%s\"} %llu\n", names[i], (unsigned long long)values[i]);
	fprintf(f, "# HELP switchboard_messaging_recipients Recipients with stored messages.\n"
		   "# TYPE switchboard_messaging_recipients gauge\nswitchboard_messaging_recipients %zu\n", counts.count);
}

const struct proto_router messaging_router = {
	.name = MESSAGING_PROTO,
	.state_size = sizeof(struct messaging_worker),
	.init = messaging_init,
	.on_envelope = messaging_envelope,
	.on_drained = messaging_drained,
	.on_worker_gone = messaging_gone,
	.fini = messaging_fini,
	.metrics = messaging_metrics,
};
