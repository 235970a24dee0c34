/*
 * Messaging's stored queues (queues.h): the table, its migration from
 * schema 1 (keyed by (rid, id), no sid column; run by the router's store
 * from Messaging's struct proto_store), its --store-stats lines, and the in-memory counts
 * behind the limits: per recipient, per (recipient, sender), recipients per
 * sender, and bytes in all.
 */
#include "queues.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/hmap.h"
#include "../../common/log.h"

static struct hmap per_rid;   /* rid → stored messages */
static struct hmap per_pair;  /* rid \0 sid → stored messages */
static struct hmap per_sid;   /* sid → recipients it has stored messages for */
static uint64_t bytes;
static sqlite3_stmt *st_insert, *st_exists, *st_doomed, *st_delete, *st_backlog, *st_last;

const char MQ_TABLES[] =
	"CREATE TABLE IF NOT EXISTS messages ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  rid TEXT NOT NULL,"
	"  sid TEXT NOT NULL,"
	"  key BLOB NOT NULL,"
	"  body BLOB NOT NULL,"
	/* (rid, key) first: a read without sid finds its rows by this index too */
	"  UNIQUE (rid, key, sid));"
	"CREATE INDEX IF NOT EXISTS messages_by_rid ON messages (rid, seq);";

static intptr_t get(const struct hmap *m, const void *k, size_t n) { return (intptr_t)hmap_get(m, k, n); }

/* Adds d to a count; the new value. Entries at 0 are removed. */
static intptr_t add(struct hmap *m, const void *k, size_t n, intptr_t d)
{
	intptr_t c = get(m, k, n) + d;
	if (c > 0)
		hmap_put(m, k, n, (void *)c, NULL);
	else
		hmap_del(m, k, n);
	return c;
}

/* rid \0 sid: neither contains a NUL (client_ids have no control characters). */
static size_t pair_key(char *out, const char *rid, size_t rl, const char *sid, size_t sl)
{
	memcpy(out, rid, rl);
	out[rl] = 0;
	memcpy(out + rl + 1, sid, sl);
	return rl + 1 + sl;
}

/* Accounts for n messages of `len` bytes in all, stored (n > 0) or deleted. */
static void account(const char *rid, size_t rl, const char *sid, size_t sl, intptr_t n, int64_t len)
{
	char pk[2 * MESSAGING_MAX_ID + 2];
	if (rl > MESSAGING_MAX_ID || sl > MESSAGING_MAX_ID)
		return; /* never stored: both are checked first */
	size_t pl = pair_key(pk, rid, rl, sid, sl);
	intptr_t before = get(&per_pair, pk, pl), after = add(&per_pair, pk, pl, n);
	if (before == 0 && after > 0)
		add(&per_sid, sid, sl, 1);
	else if (before > 0 && after <= 0)
		add(&per_sid, sid, sl, -1);
	add(&per_rid, rid, rl, n);
	bytes = len < 0 && (uint64_t)-len > bytes ? 0 : bytes + (uint64_t)len;
}

int mq_reload(void)
{
	hmap_free(&per_rid);
	hmap_free(&per_pair);
	hmap_free(&per_sid);
	bytes = 0;
	if (hmap_init(&per_rid) < 0 || hmap_init(&per_pair) < 0 || hmap_init(&per_sid) < 0)
		return -1;
	sqlite3_stmt *st = store_prepare("SELECT rid, sid, COUNT(*), SUM(length(body)) FROM messages GROUP BY rid, sid");
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		account((const char *)sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0),
			(const char *)sqlite3_column_text(st, 1), (size_t)sqlite3_column_bytes(st, 1),
			sqlite3_column_int(st, 2), sqlite3_column_int64(st, 3));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		log_error("messaging: cannot read the queue counts: %s", sqlite3_errmsg(store_db()));
		return -1;
	}
	return 0;
}

/* Copies schema-1 rows into the new table; the ones that fail today's
 * checks (invalid UTF-8, not one object, a field twice) are dropped. */
static int copy_v1(long *kept, long *dropped)
{
	sqlite3_stmt *rd = store_prepare("SELECT seq, body FROM messages ORDER BY seq");
	sqlite3_stmt *wr = store_prepare("INSERT OR IGNORE INTO messages_v2 (seq, rid, sid, key, body) VALUES (?, ?, ?, ?, ?)");
	int rc;
	while ((rc = sqlite3_step(rd)) == SQLITE_ROW) {
		struct messaging_msg m;
		const char *body = sqlite3_column_blob(rd, 1);
		size_t len = (size_t)sqlite3_column_bytes(rd, 1);
		const char *why = messaging_check(body ? body : "", len, &m);
		/* schema 1 forwarded any sid: one that is no client_id is kept, as nobody's */
		if (why == NULL || why == MSG_ERR_NOT_SENDER) {
			sqlite3_bind_int64(wr, 1, sqlite3_column_int64(rd, 0));
			sqlite3_bind_text(wr, 2, m.rid, (int)m.rid_len, SQLITE_STATIC);
			sqlite3_bind_text(wr, 3, m.sid, why ? 0 : (int)m.sid_len, SQLITE_STATIC);
			sqlite3_bind_blob(wr, 4, m.key, (int)m.key_len, SQLITE_STATIC);
			sqlite3_bind_blob(wr, 5, body, (int)len, SQLITE_STATIC);
			int w = sqlite3_step(wr);
			sqlite3_reset(wr);
			if (w != SQLITE_DONE)
				rc = w;
			(*kept)++;
		} else {
			(*dropped)++;
		}
		messaging_msg_free(&m);
		if (rc != SQLITE_ROW)
			break;
	}
	sqlite3_finalize(rd);
	sqlite3_finalize(wr);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Schema 1 → 2 (run inside the store's migration transaction). */
static int migrate_v1(sqlite3 *db)
{
	long kept = 0, dropped = 0;
	char *err = NULL;
	if (sqlite3_exec(db, "CREATE TABLE messages_v2 (seq INTEGER PRIMARY KEY AUTOINCREMENT, rid TEXT NOT NULL,"
			 " sid TEXT NOT NULL, key BLOB NOT NULL, body BLOB NOT NULL, UNIQUE (rid, key, sid))",
			 NULL, NULL, &err) != SQLITE_OK ||
	    copy_v1(&kept, &dropped) < 0 ||
	    sqlite3_exec(db, "DROP TABLE messages; ALTER TABLE messages_v2 RENAME TO messages;", NULL, NULL, &err) !=
		    SQLITE_OK ||
	    sqlite3_exec(db, MQ_TABLES, NULL, NULL, &err) != SQLITE_OK) {
		log_error("messaging: migrating the store failed: %s", err ? err : sqlite3_errmsg(db));
		sqlite3_free(err);
		return -1;
	}
	log_warn("messaging: store migrated to (rid, sid, id) keys: %ld messages kept, %ld invalid ones dropped", kept,
		 dropped);
	return 0;
}

const struct store_migration mq_migrations[MQ_NMIGRATIONS] = {
	{.to = 2, .run = migrate_v1},
};

/* Before schema_versions: schema 1 had no sid column; 2 has it. */
int mq_legacy_version(sqlite3 *db)
{
	sqlite3_stmt *st;
	int v = -1;
	if (sqlite3_prepare_v2(db,
			       "SELECT (SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'messages'),"
			       " (SELECT COUNT(*) FROM pragma_table_info('messages') WHERE name = 'sid')",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = !sqlite3_column_int(st, 0) ? 0 : sqlite3_column_int(st, 1) ? 2 : 1;
	sqlite3_finalize(st);
	return v;
}

int mq_stats(sqlite3 *db, FILE *f)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT rid, COUNT(*) FROM messages GROUP BY rid ORDER BY rid", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fprintf(f, "%s %d\n", (const char *)sqlite3_column_text(st, 0), sqlite3_column_int(st, 1));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int mq_init(void)
{
	st_insert = store_prepare("INSERT OR IGNORE INTO messages (rid, sid, key, body) VALUES (?, ?, ?, ?)");
	st_exists = store_prepare("SELECT 1 FROM messages WHERE rid = ? AND sid = ? AND key = ?");
	/* not DELETE … RETURNING: SQLite builds an ephemeral table for it on
	 * every run (measured: router CPU per message 13 → 80 µs under load) */
	st_doomed = store_prepare("SELECT sid, length(body) FROM messages WHERE rid = ?1 AND key = ?2 AND (?3 IS NULL OR sid = ?3)");
	st_delete = store_prepare("DELETE FROM messages WHERE rid = ?1 AND key = ?2 AND (?3 IS NULL OR sid = ?3)");
	st_backlog = store_prepare("SELECT seq, body FROM messages WHERE rid = ? AND seq > ? ORDER BY seq LIMIT ?");
	st_last = store_prepare("SELECT COALESCE(MAX(seq), 0) FROM messages");
	return mq_reload();
}

void mq_fini(void)
{
	sqlite3_finalize(st_insert);
	sqlite3_finalize(st_exists);
	sqlite3_finalize(st_doomed);
	sqlite3_finalize(st_delete);
	sqlite3_finalize(st_backlog);
	sqlite3_finalize(st_last);
	hmap_free(&per_rid);
	hmap_free(&per_pair);
	hmap_free(&per_sid);
}

static bool stored_already(const struct messaging_msg *m)
{
	sqlite3_bind_text(st_exists, 1, m->rid, (int)m->rid_len, SQLITE_STATIC);
	sqlite3_bind_text(st_exists, 2, m->sid, (int)m->sid_len, SQLITE_STATIC);
	sqlite3_bind_blob(st_exists, 3, m->key, (int)m->key_len, SQLITE_STATIC);
	bool found = sqlite3_step(st_exists) == SQLITE_ROW;
	sqlite3_reset(st_exists);
	return found;
}

static const char *over_limit(const struct mq_limits *l, const struct messaging_msg *m, size_t len)
{
	char pk[2 * MESSAGING_MAX_ID + 2];
	intptr_t pair = get(&per_pair, pk, pair_key(pk, m->rid, m->rid_len, m->sid, m->sid_len));
	if (get(&per_rid, m->rid, m->rid_len) >= l->max_queue)
		return MSG_ERR_QUEUE;
	if (pair >= l->max_per_sender)
		return MSG_ERR_PER_SENDER;
	if (pair == 0 && get(&per_sid, m->sid, m->sid_len) >= l->max_recipients)
		return MSG_ERR_RECIPIENTS;
	if (bytes + len > l->max_store)
		return MSG_ERR_STORE_FULL;
	return NULL;
}

const char *mq_store(const struct mq_limits *l, const struct messaging_msg *m, const void *text, size_t len,
		     bool *dup)
{
	*dup = false;
	const char *why = over_limit(l, m, len);
	if (why) {
		/* a retry of a stored message is no error, even at a limit */
		*dup = stored_already(m);
		return *dup ? NULL : why;
	}
	store_will_write();
	sqlite3_bind_text(st_insert, 1, m->rid, (int)m->rid_len, SQLITE_STATIC);
	sqlite3_bind_text(st_insert, 2, m->sid, (int)m->sid_len, SQLITE_STATIC);
	sqlite3_bind_blob(st_insert, 3, m->key, (int)m->key_len, SQLITE_STATIC);
	sqlite3_bind_blob(st_insert, 4, text, (int)len, SQLITE_STATIC);
	int rc = sqlite3_step(st_insert);
	sqlite3_reset(st_insert);
	if (rc != SQLITE_DONE) {
		log_error("messaging: storing for %.*s failed: %s", (int)m->rid_len, m->rid, sqlite3_errmsg(store_db()));
		store_check_txn();
		return MSG_ERR_STORE_FAILED;
	}
	if (sqlite3_changes(store_db()) == 0) {
		*dup = true; /* same (rid, sid, id) again: a retry, already stored */
		return NULL;
	}
	account(m->rid, m->rid_len, m->sid, m->sid_len, 1, (int64_t)len);
	return NULL;
}

static void bind_read(sqlite3_stmt *st, const char *rid, size_t rl, const void *key, size_t kl, const char *sid,
		      size_t sl)
{
	sqlite3_bind_text(st, 1, rid, (int)rl, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, key, (int)kl, SQLITE_STATIC);
	if (sid)
		sqlite3_bind_text(st, 3, sid, (int)sl, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
}

int mq_delete(const char *rid, size_t rl, const void *key, size_t kl, const char *sid, size_t sl)
{
	bind_read(st_doomed, rid, rl, key, kl, sid, sl);
	int n = 0, rc;
	while ((rc = sqlite3_step(st_doomed)) == SQLITE_ROW) {
		if (n++ == 0)
			store_will_write();
		account(rid, rl, (const char *)sqlite3_column_text(st_doomed, 0), (size_t)sqlite3_column_bytes(st_doomed, 0),
			-1, -sqlite3_column_int64(st_doomed, 1));
	}
	sqlite3_reset(st_doomed);
	if (n == 0)
		return 0; /* unknown ids cost no write */
	bind_read(st_delete, rid, rl, key, kl, sid, sl);
	if (rc != SQLITE_DONE || sqlite3_step(st_delete) != SQLITE_DONE) {
		log_error("messaging: deleting for %.*s failed: %s", (int)rl, rid, sqlite3_errmsg(store_db()));
		sqlite3_reset(st_delete);
		store_check_txn();
		mq_reload(); /* the counts above may not have happened */
		return 0;
	}
	sqlite3_reset(st_delete);
	return n;
}

sqlite3_stmt *mq_backlog(const char *rid, size_t rl, int64_t after, int limit)
{
	sqlite3_bind_text(st_backlog, 1, rid, (int)rl, SQLITE_STATIC);
	sqlite3_bind_int64(st_backlog, 2, after);
	sqlite3_bind_int(st_backlog, 3, limit);
	return st_backlog;
}

int64_t mq_last_seq(void)
{
	int64_t seq = 0;
	if (sqlite3_step(st_last) == SQLITE_ROW)
		seq = sqlite3_column_int64(st_last, 0);
	sqlite3_reset(st_last);
	return seq;
}

size_t mq_recipient_count(void) { return per_rid.count; }
uint64_t mq_bytes(void) { return bytes; }
