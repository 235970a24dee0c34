/*
 * The router's durable store (store.h): opening, WAL and its checkpointer,
 * the group commit, and what happens when a commit fails. The tables and
 * their versions are the protocols' (store_schema.c runs their migrations).
 */
#include "store.h"

#include <signal.h>
#include <sqlite3.h>

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
static const struct proto_router *const *protos; /* whose commit hooks run */
static uint64_t failed_commits;

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

char *store_path(const char *state_dir, const char *file)
{
	size_t n = strlen(state_dir) + strlen(file) + 8;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", state_dir, file);
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

static int check_layout(void)
{
	sqlite3_stmt *st;
	int version = -1;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version < 0 || version > STORE_LAYOUT_VERSION) {
		log_error("store: layout version %d is newer than this router's (%d)", version, STORE_LAYOUT_VERSION);
		return -1;
	}
	return 0;
}

static int set_layout(void)
{
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", STORE_LAYOUT_VERSION);
	return exec(sql);
}

int store_open(const char *state_dir, const struct proto_router *const *list)
{
	protos = list;
	if (store_adopt_old_file(state_dir, list) < 0)
		return -1;
	char *path = store_path(state_dir, STORE_FILE);
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
	if (exec("PRAGMA journal_mode = WAL") < 0 || exec("PRAGMA synchronous = NORMAL") < 0 || check_layout() < 0 ||
	    store_migrate(db, protos) < 0 || set_layout() < 0) {
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

uint64_t store_failed_commits(void) { return failed_commits; }

static void run_hooks(bool ok)
{
	if (!ok)
		failed_commits++;
	for (int i = 0; protos && protos[i]; i++)
		if (protos[i]->store && protos[i]->store->on_commit)
			protos[i]->store->on_commit(ok);
}

void store_commit(void)
{
	if (!commit_due)
		return;
	commit_due = 0;
	if (exec("COMMIT") == 0)
		return run_hooks(true);
	/* everything since BEGIN is gone; the hooks say what and to whom */
	log_error("store: a commit failed: the writes of the last %d ms are lost; protocols reload their counts",
		  STORE_COMMIT_MS);
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
