/*
 * Galène, router half: chat history in the router's store (storage.h), so
 * that it survives a router restart. Each entry is the chathistory frame as
 * it will be replayed, with what clearchat and max-history-age select on;
 * at most --galene-max-history entries per group are kept.
 */
#include <sqlite3.h>
#include <string.h>

#include "../../common/log.h"
#include "options.h"
#include "router.h"

#define HISTORY_TABLES                                                                                      \
	"CREATE TABLE galene_history (seq INTEGER PRIMARY KEY AUTOINCREMENT, grp BLOB NOT NULL, source BLOB,"  \
	" msgid BLOB, time_ms INTEGER NOT NULL, frame BLOB NOT NULL);"                                          \
	"CREATE INDEX galene_history_grp ON galene_history (grp, seq);"

static sqlite3_stmt *st_insert, *st_trim, *st_replay, *st_clear;

int history_init(void)
{
	st_insert = store_prepare("INSERT INTO galene_history (grp, source, msgid, time_ms, frame) VALUES (?, ?, ?, ?, ?)");
	st_trim = store_prepare("DELETE FROM galene_history WHERE grp = ?1 AND seq <= (SELECT seq FROM galene_history"
				" WHERE grp = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)");
	st_replay = store_prepare("SELECT frame FROM galene_history WHERE grp = ? AND time_ms >= ? ORDER BY seq");
	st_clear = store_prepare("DELETE FROM galene_history WHERE grp = ?1 AND (?2 IS NULL OR source = ?2) AND"
				 " (?3 IS NULL OR msgid = ?3)");
	return 0;
}

static void step(sqlite3_stmt *q, const char *what)
{
	if (sqlite3_step(q) != SQLITE_DONE) {
		log_error("galene: history %s: %s", what, sqlite3_errmsg(store_db()));
		store_check_txn();
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
}

void history_add(const char *group, size_t glen, const char *source, size_t slen, const char *id, size_t idlen,
		 int64_t ms, const char *frame, size_t flen)
{
	if (galene_opt.max_history <= 0)
		return;
	store_will_write();
	sqlite3_bind_blob(st_insert, 1, group, (int)glen, SQLITE_STATIC);
	sqlite3_bind_blob(st_insert, 2, source ? source : "", (int)slen, SQLITE_STATIC);
	sqlite3_bind_blob(st_insert, 3, id ? id : "", (int)idlen, SQLITE_STATIC);
	sqlite3_bind_int64(st_insert, 4, ms);
	sqlite3_bind_blob(st_insert, 5, frame, (int)flen, SQLITE_STATIC);
	step(st_insert, "insert");
	sqlite3_bind_blob(st_trim, 1, group, (int)glen, SQLITE_STATIC);
	sqlite3_bind_int64(st_trim, 2, galene_opt.max_history);
	step(st_trim, "trim");
}

void history_replay(struct galene_peer *p, const char *group, size_t glen, int64_t max_age_s)
{
	sqlite3_bind_blob(st_replay, 1, group, (int)glen, SQLITE_STATIC);
	sqlite3_bind_int64(st_replay, 2, galene_now_ms() - max_age_s * 1000);
	while (sqlite3_step(st_replay) == SQLITE_ROW) {
		const void *f = sqlite3_column_blob(st_replay, 0);
		int n = sqlite3_column_bytes(st_replay, 0);
		if (f && n > 0)
			router_send_text(galene_R, p->w, f, (size_t)n);
	}
	sqlite3_reset(st_replay);
	sqlite3_clear_bindings(st_replay);
}

void history_clear(const char *group, size_t glen, const char *user, size_t ulen, const char *id, size_t idlen)
{
	store_will_write();
	sqlite3_bind_blob(st_clear, 1, group, (int)glen, SQLITE_STATIC);
	if (user)
		sqlite3_bind_blob(st_clear, 2, user, (int)ulen, SQLITE_STATIC);
	if (id)
		sqlite3_bind_blob(st_clear, 3, id, (int)idlen, SQLITE_STATIC);
	step(st_clear, "clear");
}

static int history_stats(sqlite3 *db, FILE *f)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db, "SELECT COUNT(*), COUNT(DISTINCT grp), COALESCE(SUM(length(frame)), 0) FROM galene_history",
			       -1, &q, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(q) == SQLITE_ROW)
		fprintf(f, "galene history: %lld messages in %lld groups, %lld bytes\n", sqlite3_column_int64(q, 0),
			sqlite3_column_int64(q, 1), sqlite3_column_int64(q, 2));
	sqlite3_finalize(q);
	return 0;
}

/* Version 2: what survives a router restart (persist.c). */
#define PERSIST_TABLES                                                                                      \
	"CREATE TABLE galene_members (grp BLOB NOT NULL, id BLOB NOT NULL, username BLOB NOT NULL,"           \
	" mac BLOB NOT NULL, PRIMARY KEY (grp, id));"                                                         \
	"CREATE TABLE galene_groups (grp BLOB PRIMARY KEY, locked INTEGER NOT NULL, lock_message TEXT,"        \
	" data BLOB);"

static const struct store_migration migrations[] = {{2, PERSIST_TABLES, persist_upgrading_from_v1}};

const struct proto_store galene_store = {
	.name = GALENE_PROTO,
	.version = 2,
	.create = HISTORY_TABLES PERSIST_TABLES,
	.migrations = migrations,
	.nmigrations = 1,
	.stats = history_stats,
};
