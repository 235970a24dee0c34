/*
 * The store's schema (store.h): its file (store.db, or a protocol's file
 * from before the store was shared, renamed), the table schema_versions with one
 * version per protocol, running each protocol's migrations in order, and
 * the --store-stats sections. The tables themselves are the protocols'
 * (proto/storage.h); nothing here names one.
 */
#include "store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/log.h"

static int exec_on(sqlite3 *db, const char *sql, const char *who)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_error("store: %s: %s: %s", who, sql, err ? err : "?");
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static bool exists(const char *path) { return access(path, F_OK) == 0; }

/*
 * Old file, new name. Its WAL may hold committed transactions (a router
 * killed with SIGKILL leaves it), and renaming the database without it
 * would lose them: switching the journal to DELETE first checkpoints the WAL
 * into the database and removes it, and fails unless we are alone on it.
 * A crash anywhere leaves either the old file (done again next time) or the
 * new one.
 */
static int adopt(const char *old, const char *new)
{
	sqlite3 *odb;
	sqlite3_stmt *st;
	bool ok = false;
	if (sqlite3_open_v2(old, &odb, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(odb, "PRAGMA journal_mode = DELETE", -1, &st, NULL) == SQLITE_OK) {
		const char *mode = sqlite3_step(st) == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
		ok = mode && strcmp(mode, "delete") == 0;
		sqlite3_finalize(st);
	}
	if (!ok)
		log_error("store: cannot take over %s (%s): is an older router still running?", old, sqlite3_errmsg(odb));
	if (sqlite3_close(odb) != SQLITE_OK)
		ok = false;
	if (!ok)
		return -1;
	size_t n = strlen(old) + 8;
	char wal[n];
	snprintf(wal, n, "%s-wal", old);
	if (exists(wal)) {
		log_error("store: %s still has its WAL (%s); not renamed", old, wal);
		return -1;
	}
	if (rename(old, new) < 0) {
		log_error("store: rename %s %s: %s", old, new, strerror(errno));
		return -1;
	}
	snprintf(wal, n, "%s-shm", old);
	if (unlink(wal) < 0 && errno != ENOENT)
		log_warn("store: unlink %s: %s", wal, strerror(errno));
	log_warn("store: %s is now %s (its tables as they were; each protocol migrates its own)", old, new);
	return 0;
}

/* The first protocol's legacy_file that exists under state_dir (malloc'd), or NULL. */
static char *legacy_path(const char *state_dir, const struct proto_router *const *protos)
{
	for (int i = 0; protos && protos[i]; i++) {
		const struct proto_store *ps = protos[i]->store;
		char *p = ps && ps->legacy_file ? store_path(state_dir, ps->legacy_file) : NULL;
		if (p && exists(p))
			return p;
		free(p);
	}
	return NULL;
}

int store_adopt_old_file(const char *state_dir, const struct proto_router *const *protos)
{
	char *old = legacy_path(state_dir, protos), *new = store_path(state_dir, STORE_FILE);
	int rc = new ? 0 : -1;
	if (rc == 0 && old) {
		if (exists(new))
			log_warn("store: both %s and %s exist: using %s, %s is left as it is", new, old, new, old);
		else
			rc = adopt(old, new);
	}
	free(old);
	free(new);
	return rc;
}

/* The version schema_versions records for name; -1: none; -2: error. */
static int recorded_version(sqlite3 *db, const char *name)
{
	sqlite3_stmt *st;
	int v = -2;
	if (sqlite3_prepare_v2(db, "SELECT version FROM schema_versions WHERE protocol = ?", -1, &st, NULL) != SQLITE_OK)
		return -2;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	else if (rc == SQLITE_DONE)
		v = -1;
	sqlite3_finalize(st);
	return v;
}

static int record_version(sqlite3 *db, const char *name, int v)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO schema_versions (protocol, version) VALUES (?, ?)", -1, &st,
			       NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, v);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The version ps's tables are at now (0: none yet), or -1. */
static int current_version(sqlite3 *db, const struct proto_store *ps)
{
	int v = recorded_version(db, ps->name);
	if (v == -1) /* not recorded: a database from before schema_versions, or new */
		v = ps->legacy_version ? ps->legacy_version(db) : 0;
	if (v < -1)
		v = -1;
	if (v < 0)
		log_error("store: %s: cannot read its schema version: %s", ps->name, sqlite3_errmsg(db));
	else if (v > ps->version)
		log_error("store: %s tables at version %d, newer than this router's (%d)", ps->name, v, ps->version);
	return v > ps->version ? -1 : v;
}

/* Runs ps's steps from version v up; the version reached, or -1. */
static int run_steps(sqlite3 *db, const struct proto_store *ps, int v)
{
	for (size_t i = 0; i < ps->nmigrations && v < ps->version; i++) {
		const struct store_migration *m = &ps->migrations[i];
		if (m->to <= v)
			continue;
		if (m->to != v + 1) {
			log_error("store: %s: no migration from version %d", ps->name, v);
			return -1;
		}
		if ((m->sql && exec_on(db, m->sql, ps->name) < 0) || (m->run && m->run(db) < 0)) {
			log_error("store: %s: migration to version %d failed", ps->name, m->to);
			return -1;
		}
		v = m->to;
	}
	if (v != ps->version)
		log_error("store: %s: no migration from version %d", ps->name, v);
	return v == ps->version ? v : -1;
}

/* One protocol, in one transaction: nothing of a failed step stays. */
static int migrate_one(sqlite3 *db, const struct proto_store *ps)
{
	if (exec_on(db, "BEGIN IMMEDIATE", ps->name) < 0)
		return -1;
	int from = current_version(db, ps), v = from;
	if (v == 0) /* none of its tables yet: today's, directly */
		v = ps->create && exec_on(db, ps->create, ps->name) < 0 ? -1 : ps->version;
	else if (v > 0)
		v = run_steps(db, ps, v);
	if (v < 0 || record_version(db, ps->name, v) < 0 || exec_on(db, "COMMIT", ps->name) < 0) {
		log_error("store: %s: tables not brought to version %d (%s); nothing changed", ps->name, ps->version,
			  sqlite3_errcode(db) == SQLITE_OK ? "see above" : sqlite3_errmsg(db));
		if (!sqlite3_get_autocommit(db))
			exec_on(db, "ROLLBACK", ps->name);
		return -1;
	}
	if (from != v)
		log_info("store: %s tables at version %d (were %d)", ps->name, v, from);
	return 0;
}

int store_migrate(sqlite3 *db, const struct proto_router *const *protos)
{
	if (exec_on(db, "CREATE TABLE IF NOT EXISTS schema_versions (protocol TEXT PRIMARY KEY, version INTEGER NOT NULL)",
		    "store") < 0)
		return -1;
	for (int i = 0; protos && protos[i]; i++)
		if (protos[i]->store && migrate_one(db, protos[i]->store) < 0)
			return -1;
	return 0;
}

static int print_section(sqlite3 *ro, const struct proto_store *ps)
{
	printf("[%s]\n", ps->name);
	int v = recorded_version(ro, ps->name);
	if (v == -2 || v == -1) /* no table (an old file) or no row: what its tables say */
		v = ps->legacy_version ? ps->legacy_version(ro) : 0;
	if (v < 0 || (v > 0 && ps->stats && ps->stats(ro, stdout) < 0)) {
		fprintf(stderr, "switchboard-router: %s: cannot read its tables: %s\n", ps->name, sqlite3_errmsg(ro));
		return -1;
	}
	return 0;
}

int store_print_stats(const char *state_dir, const struct proto_router *const *protos)
{
	char *path = store_path(state_dir, STORE_FILE);
	char *old = path && !exists(path) ? legacy_path(state_dir, protos) : NULL;
	if (old) { /* not taken over by a router yet */
		free(path);
		path = old;
	}
	sqlite3 *ro = NULL;
	int rc = path ? sqlite3_open_v2(path, &ro, SQLITE_OPEN_READONLY, NULL) : SQLITE_NOMEM;
	free(path);
	/* a read finds out whether it is a database at all */
	if (rc != SQLITE_OK || sqlite3_exec(ro, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "switchboard-router: no store in %s: %s\n", state_dir, ro ? sqlite3_errmsg(ro) : "no memory");
		sqlite3_close(ro);
		return 1;
	}
	rc = 0;
	for (int i = 0; protos[i]; i++)
		if (protos[i]->store && print_section(ro, protos[i]->store) < 0)
			rc = 1;
	sqlite3_close(ro);
	return rc;
}
