/* router/store.c and store_schema.c: schema_versions, per-protocol migrations in order, legacy files. */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../router/store.h"
#include "check.h"

static char steps[32]; /* which run() steps ran, in order */

static void ran(char c)
{
	size_t n = strlen(steps);
	if (n + 1 < sizeof steps)
		steps[n] = c, steps[n + 1] = 0;
}

static int step2(sqlite3 *db) { ran('2'); return sqlite3_exec(db, "ALTER TABLE a ADD COLUMN y", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1; }
static int step4(sqlite3 *db) { ran('4'); return sqlite3_exec(db, "CREATE TABLE t4 (z)", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1; }
static int step5_fails(sqlite3 *db) { ran('5'); sqlite3_exec(db, "CREATE TABLE t5 (z)", NULL, NULL, NULL); return -1; }
static int legacy_two(sqlite3 *db) { (void)db; return 2; }

/* alpha: version 1 is its create; 2 by a function, 3 by SQL, 4 by a function, 5 fails */
static const struct store_migration alpha_steps[] = {
	{.to = 2, .run = step2},
	{.to = 3, .sql = "INSERT INTO a (x, y) VALUES ('three', 3)"},
	{.to = 4, .run = step4},
	{.to = 5, .run = step5_fails},
};
static struct proto_store alpha = {.name = "alpha", .create = "CREATE TABLE a (x)", .migrations = alpha_steps};
static const struct proto_store beta = {.name = "beta", .version = 1, .create = "CREATE TABLE b (x)"};
static const struct proto_router alpha_r = {.name = "alpha", .store = &alpha}, beta_r = {.name = "beta", .store = &beta},
				 none_r = {.name = "none"};
static const struct proto_router *const both[] = {&alpha_r, &none_r, &beta_r, NULL};

static int query_int(const char *dir, const char *sql)
{
	char path[256];
	snprintf(path, sizeof path, "%s/store.db", dir);
	sqlite3 *db;
	sqlite3_stmt *st;
	int v = -100;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}

static int open_at(const char *dir, int version, size_t nsteps)
{
	alpha.version = version;
	alpha.nmigrations = nsteps;
	steps[0] = 0;
	int rc = store_open(dir, both);
	store_close();
	return rc;
}

#define VERSION(dir, p) query_int(dir, "SELECT version FROM schema_versions WHERE protocol = '" p "'")

static void test_versions(const char *dir)
{
	CHECK("store: a new store opens", open_at(dir, 1, 0) == 0);
	CHECK("store: a new protocol's tables are its create, recorded at its version",
	      VERSION(dir, "alpha") == 1 && VERSION(dir, "beta") == 1 && query_int(dir, "SELECT COUNT(*) FROM b") == 0);
	CHECK("store: a protocol without a store has no row", query_int(dir, "SELECT COUNT(*) FROM schema_versions") == 2);
	CHECK("store: the layout version is in user_version", query_int(dir, "PRAGMA user_version") == STORE_LAYOUT_VERSION);
	CHECK("store: 1 → 4 opens", open_at(dir, 4, 3) == 0);
	CHECK("store: the steps ran once each, in order", strcmp(steps, "24") == 0);
	CHECK("store: alpha at 4, beta untouched", VERSION(dir, "alpha") == 4 && VERSION(dir, "beta") == 1);
	CHECK("store: the SQL step ran between them", query_int(dir, "SELECT y FROM a WHERE x = 'three'") == 3 &&
						      query_int(dir, "SELECT COUNT(*) FROM t4") == 0);
	CHECK("store: at its version, no step runs again", open_at(dir, 4, 3) == 0 && steps[0] == 0);
	CHECK("store: a failing step fails the open", open_at(dir, 5, 4) < 0 && strcmp(steps, "5") == 0);
	CHECK("store: ... and is rolled back: version and tables as before",
	      VERSION(dir, "alpha") == 4 && query_int(dir, "SELECT COUNT(*) FROM sqlite_master WHERE name = 't5'") == 0);
	CHECK("store: tables newer than the code are refused", open_at(dir, 3, 2) < 0 && VERSION(dir, "alpha") == 4);
	CHECK("store: no step to the code's version is an error", open_at(dir, 6, 3) < 0 && VERSION(dir, "alpha") == 4);
}

/* Writes a row as a killed router would leave it: in the WAL, never checkpointed. */
static bool write_and_die(const char *path)
{
	pid_t pid = fork();
	if (pid == 0) {
		sqlite3 *db;
		int ok = sqlite3_open(path, &db) == SQLITE_OK &&
			 sqlite3_exec(db, "PRAGMA wal_autocheckpoint = 0; INSERT INTO a VALUES ('in the wal', 2)", NULL, NULL,
				      NULL) == SQLITE_OK;
		_exit(ok ? 0 : 1);
	}
	int status;
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* A store written before schema_versions: legacy_version says where its tables are. */
static void test_legacy(const char *dir)
{
	char path[256], wal[300];
	snprintf(path, sizeof path, "%s/old.db", dir);
	snprintf(wal, sizeof wal, "%s-wal", path);
	sqlite3 *old;
	int ok = sqlite3_open(path, &old) == SQLITE_OK &&
		 sqlite3_exec(old, "PRAGMA journal_mode = WAL; CREATE TABLE a (x, y); INSERT INTO a VALUES ('kept', 1);"
				   "PRAGMA user_version = 2",
			      NULL, NULL, NULL) == SQLITE_OK;
	alpha.legacy_file = "old.db";
	alpha.legacy_version = legacy_two;
	CHECK("store: an old file still open elsewhere is not taken over",
	      ok && open_at(dir, 4, 3) < 0 && access(path, F_OK) == 0);
	sqlite3_close(old);
	struct stat st;
	CHECK("store: an old file left by a killed writer, rows in its WAL",
	      write_and_die(path) && stat(wal, &st) == 0 && st.st_size > 0);
	CHECK("store: the old file opens as store.db, its WAL gone",
	      open_at(dir, 4, 3) == 0 && access(path, F_OK) != 0 && access(wal, F_OK) != 0);
	CHECK("store: from its legacy version on: only step 3 → 4 ran",
	      strcmp(steps, "4") == 0 && VERSION(dir, "alpha") == 4);
	/* kept, the WAL's, and step 3's */
	CHECK("store: its rows are kept, the WAL's too", query_int(dir, "SELECT COUNT(*) FROM a") == 3 &&
							   query_int(dir, "SELECT y FROM a WHERE x = 'in the wal'") == 2);
	alpha.legacy_file = NULL;
	alpha.legacy_version = NULL;
}

void test_store(void)
{
	char dir[] = "/tmp/sb-unit-store-XXXXXX", cmd[64];
	if (!mkdtemp(dir)) {
		CHECK("store: a temp dir", 0);
		return;
	}
	test_versions(dir);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0 || !mkdtemp(strcpy(dir, "/tmp/sb-unit-store-XXXXXX"))) {
		CHECK("store: a second temp dir", 0);
		return;
	}
	test_legacy(dir);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		CHECK("store: temp dir removed", 0);
}
