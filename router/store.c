/*
 * The router's durable store (store.h): opening, the group commit, and what
 * happens when a commit fails.
 */
#include "store.h"

#include <signal.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "../common/clock.h"
#include "../common/log.h"

static sqlite3 *db;
static int64_t commit_due;

/*
 * WAL checkpoints copy the log back into the database and fsync it: about
 * half a millisecond each, many times a second under load. Run inside
 * COMMIT (SQLite's default) they would stall routing for every protocol,
 * so the loop's connection never checkpoints and this thread does it,
 * passively (never blocking the writer), on a connection of its own.
 */
#define CHECKPOINT_PERIOD_MS 200
static pthread_t checkpointer;
static atomic_bool checkpointer_stop;
static bool checkpointer_running;

static void *checkpoint_loop(void *arg)
{
	sqlite3 *cdb = arg;
	struct timespec period = {0, CHECKPOINT_PERIOD_MS * 1000000L};
	while (!atomic_load(&checkpointer_stop)) {
		nanosleep(&period, NULL);
		sqlite3_wal_checkpoint_v2(cdb, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	}
	sqlite3_close_v2(cdb);
	return NULL;
}

static void start_checkpointer(const char *path)
{
	sqlite3 *cdb;
	if (sqlite3_open_v2(path, &cdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		log_warn("store: no checkpoint connection (%s); SQLite will checkpoint inline", sqlite3_errmsg(cdb));
		sqlite3_close(cdb);
		return;
	}
	sqlite3_busy_timeout(cdb, 100);
	/* a connection joins the WAL only once it has read something */
	sqlite3_exec(cdb, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
	if (pthread_create(&checkpointer, NULL, checkpoint_loop, cdb) != 0) {
		sqlite3_close(cdb);
		return;
	}
	checkpointer_running = true;
	sqlite3_wal_autocheckpoint(db, 0);
}

static char *db_path(const char *state_dir)
{
	size_t n = strlen(state_dir) + 32;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/messaging.db", state_dir);
	return p;
}

static int exec(const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_error("store: %s: %s", sql, err ? err : "?");
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static int check_version(void)
{
	sqlite3_stmt *st;
	int version = -1;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > STORE_SCHEMA_VERSION) {
		log_error("store: schema version %d is newer than this router (%d)", version, STORE_SCHEMA_VERSION);
		return -1;
	}
	if (version == STORE_SCHEMA_VERSION)
		return 0;
	/* tables are the protocols': each creates or migrates its own at init */
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", STORE_SCHEMA_VERSION);
	return exec(sql);
}

int store_open(const char *state_dir)
{
	char *path = db_path(state_dir);
	int rc = path ? sqlite3_open(path, &db) : SQLITE_NOMEM;
	if (rc != SQLITE_OK) {
		log_error("store: cannot open %s: %s", path ? path : "?", db ? sqlite3_errmsg(db) : "no memory");
		free(path);
		return -1;
	}
	sqlite3_busy_timeout(db, 1000);
	/* a file-size limit (RLIMIT_FSIZE) must fail the write, not kill the router */
	signal(SIGXFSZ, SIG_IGN);
	/* WAL + NORMAL: a committed transaction survives the router's death
	 * (it is in the OS's hands); only a power cut can lose the last ones. */
	if (exec("PRAGMA journal_mode = WAL") < 0 || exec("PRAGMA synchronous = NORMAL") < 0 || check_version() < 0) {
		free(path);
		return -1;
	}
	start_checkpointer(path);
	free(path);
	return 0;
}

void store_close(void)
{
	store_commit();
	if (checkpointer_running) {
		atomic_store(&checkpointer_stop, true);
		pthread_join(checkpointer, NULL);
		checkpointer_running = false;
	}
	sqlite3_close_v2(db);
	db = NULL;
}

sqlite3 *store_db(void) { return db; }

void store_will_write(void)
{
	if (commit_due)
		return;
	if (exec("BEGIN") == 0)
		commit_due = clock_ms() + STORE_COMMIT_MS;
}

int64_t store_commit_due(void) { return commit_due; }

#define MAX_HOOKS 4
static void (*hooks[MAX_HOOKS])(bool ok);
static int nhooks;

void store_on_commit(void (*fn)(bool ok))
{
	if (nhooks < MAX_HOOKS)
		hooks[nhooks++] = fn;
}

static void run_hooks(bool ok)
{
	for (int i = 0; i < nhooks; i++)
		hooks[i](ok);
}

void store_commit(void)
{
	if (!commit_due)
		return;
	commit_due = 0;
	if (exec("COMMIT") == 0)
		return run_hooks(true);
	/* everything since BEGIN is gone; the hooks say what and to whom */
	if (!sqlite3_get_autocommit(db))
		exec("ROLLBACK");
	run_hooks(false);
}

void store_check_txn(void)
{
	/* After SQLITE_FULL, IOERR or NOMEM SQLite may roll the whole
	 * transaction back by itself: that is a lost commit too. */
	if (commit_due && sqlite3_get_autocommit(db)) {
		log_error("store: SQLite rolled the open transaction back (%s)", sqlite3_errmsg(db));
		commit_due = 0;
		run_hooks(false);
	}
}

sqlite3_stmt *store_prepare(const char *sql)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
		log_error("store: %s: %s", sql, sqlite3_errmsg(db));
		abort();
	}
	return st;
}

int store_print_stats(const char *state_dir)
{
	char *path = db_path(state_dir);
	sqlite3 *ro;
	sqlite3_stmt *st;
	int rc = sqlite3_open_v2(path, &ro, SQLITE_OPEN_READONLY, NULL);
	free(path);
	if (rc != SQLITE_OK ||
	    sqlite3_prepare_v2(ro, "SELECT rid, COUNT(*) FROM messages GROUP BY rid ORDER BY rid", -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "switchboard-router: no store in %s: %s\n", state_dir, sqlite3_errmsg(ro));
		sqlite3_close(ro);
		return 1;
	}
	while (sqlite3_step(st) == SQLITE_ROW)
		printf("%s %d\n", (const char *)sqlite3_column_text(st, 0), sqlite3_column_int(st, 1));
	sqlite3_finalize(st);
	sqlite3_close(ro);
	return 0;
}
