/*
 * What a protocol's router half needs of the router's durable store (one
 * SQLite database, WAL, group-committed; router/store.c). A protocol owns
 * its tables: it declares them, their migrations and its --store-stats
 * section in a struct proto_store, and the store runs them at start, keeping
 * one version per protocol in the table schema_versions.
 */
#ifndef SB_PROTO_STORAGE_H
#define SB_PROTO_STORAGE_H
#include <stdbool.h>
#include <stdio.h>

/* SQLite's handles, without making every protocol include <sqlite3.h>. */
typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;

/* One step: takes the protocol's tables from version `to - 1` to `to`. */
struct store_migration {
	int to;
	const char *sql;          /* run as is (may be several statements), or NULL */
	int (*run)(sqlite3 *db); /* or this: 0, or -1 (the step is rolled back) */
};

struct proto_store {
	const char *name; /* its row in schema_versions: the protocol's name */
	/* A database file (under the state dir) its tables were in before the
	 * store was shared, or NULL. Found without a store file, it is renamed
	 * to be the store (one such file at most: the first protocol's). */
	const char *legacy_file;
	int version;      /* the version this code reads and writes */
	/* The tables at `version`, for a database that has none of them yet. */
	const char *create;
	/* Steps from older versions, in order of `to`, the last one to `version`. */
	const struct store_migration *migrations;
	size_t nmigrations;
	/* For a database written before schema_versions existed: the version
	 * its tables are at (0: there are none). May be NULL (always 0). */
	int (*legacy_version)(sqlite3 *db);
	/* Prints the protocol's --store-stats lines (db open read-only): 0 or -1. */
	int (*stats)(sqlite3 *db, FILE *f);
	/* After every group commit; ok false when its writes were lost (the
	 * transaction was rolled back): then the protocol reloads what it
	 * counts from the database. May be NULL. */
	void (*on_commit)(bool ok);
};

sqlite3 *store_db(void);
/* Call before a write: starts the group transaction if none is open. */
void store_will_write(void);
/* Commits now (the loop also does it at most STORE_COMMIT_MS after the first write). */
void store_commit(void);
/* Call after a failed write: detects a transaction SQLite rolled back itself. */
void store_check_txn(void);
/* Prepares a statement once; aborts the router on a schema error. */
sqlite3_stmt *store_prepare(const char *sql);

#endif
