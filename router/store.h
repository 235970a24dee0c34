/*
 * The router's durable store: one SQLite database (WAL), STATE/store.db.
 * Writes are group-committed: the first write opens a transaction and it is
 * committed at most STORE_COMMIT_MS later, so a crash (even SIGKILL) loses
 * nothing taken more than that long before it. Protocols own their tables
 * (proto/storage.h); this file knows none of them.
 */
#ifndef SB_STORE_H
#define SB_STORE_H
#include <stdint.h>

#include "../proto/proto.h"

#define STORE_COMMIT_MS 10
/* PRAGMA user_version: the store's own layout. 3: table schema_versions,
 * one version per protocol (2 and older: one protocol's file, its
 * legacy_file, without schema_versions). */
#define STORE_LAYOUT_VERSION 3
#define STORE_FILE "store.db"

/* Opens (or creates) the store and brings every protocol's tables (protos:
 * NULL-terminated) to its version. The hooks of protos run at each commit. */
int store_open(const char *state_dir, const struct proto_router *const *protos);
void store_close(void);
/* Monotonic ms when the open transaction must be committed, or 0. */
int64_t store_commit_due(void);
/* Commits that failed (their writes lost) since the start. */
uint64_t store_failed_commits(void);
/* Prints a `[name]` section per protocol with a store (read-only open). */
int store_print_stats(const char *state_dir, const struct proto_router *const *protos);

/* Inside the store (store.c, store_schema.c): */
/* state_dir/file, malloc'd (NULL: no memory). */
char *store_path(const char *state_dir, const char *file);
/* Without STORE_FILE, renames a protocol's legacy_file to it. */
int store_adopt_old_file(const char *state_dir, const struct proto_router *const *protos);
/* Brings every protocol's tables to its version, one transaction each. */
int store_migrate(sqlite3 *db, const struct proto_router *const *protos);

#endif
