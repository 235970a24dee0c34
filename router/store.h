/*
 * The router's durable store: one SQLite database (WAL) under the state dir.
 * Writes are group-committed: the first write opens a transaction and it is
 * committed at most STORE_COMMIT_MS later, so a crash (even SIGKILL) loses
 * nothing taken more than that long before it. Protocols own their tables.
 */
#ifndef SB_STORE_H
#define SB_STORE_H
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#define STORE_COMMIT_MS 10
#define STORE_SCHEMA_VERSION 2 /* 2: messages keyed by (rid, sid, id) */

int store_open(const char *state_dir);
void store_close(void);
sqlite3 *store_db(void);
/* Call before a write: starts the group transaction if none is open. */
void store_will_write(void);
/* Monotonic ms when the open transaction must be committed, or 0. */
int64_t store_commit_due(void);
/* Commits; on failure rolls back and runs the commit hooks with ok false. */
void store_commit(void);
/* fn runs after every group commit: ok false when its writes were lost. */
void store_on_commit(void (*fn)(bool ok));
/* Call after a failed write: detects a transaction SQLite rolled back itself. */
void store_check_txn(void);
/* Prepares a statement once; aborts the router on a schema error. */
sqlite3_stmt *store_prepare(const char *sql);
/* Prints `<recipient> <count>` lines for every queue (read-only open). */
int store_print_stats(const char *state_dir);

#endif
