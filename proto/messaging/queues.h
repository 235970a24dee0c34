/*
 * Messaging, router half: the stored queues (table messages in the router's
 * store) and the counts the limits are checked against, kept in memory and
 * reloaded from the database when a commit fails.
 */
#ifndef SB_MESSAGING_QUEUES_H
#define SB_MESSAGING_QUEUES_H
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "../proto.h"
#include "messaging.h"

struct mq_limits {
	long max_queue;      /* stored messages per recipient */
	long max_per_sender; /* stored messages per (recipient, sender) */
	long max_recipients; /* recipients with stored messages per sender */
	uint64_t max_store;  /* bytes of stored message text, all queues */
};

/* Its tables in the router's store (proto/storage.h). Version 2: messages
 * keyed by (rid, sid, id); 1 (before sids were checked): by (rid, id). */
#define MQ_VERSION 2
#define MQ_NMIGRATIONS 1
extern const char MQ_TABLES[];
extern const struct store_migration mq_migrations[MQ_NMIGRATIONS];
/* The version of a store written before schema_versions (0: no table). */
int mq_legacy_version(sqlite3 *db);
/* `<recipient> <count>` lines, one per queue. */
int mq_stats(sqlite3 *db, FILE *f);

/* Prepares the statements (the store made the tables), loads the counts. */
int mq_init(void);
void mq_fini(void);
/*
 * Stores one checked message (NULL: stored, or *dup when it already was),
 * or says which limit refuses it (an MSG_ERR_* string) or that the write
 * failed (MSG_ERR_STORE_FAILED).
 */
const char *mq_store(const struct mq_limits *l, const struct messaging_msg *m, const void *text, size_t len,
		     bool *dup);
/* Deletes rid's messages with key (from sid only, if sid): how many. */
int mq_delete(const char *rid, size_t rl, const void *key, size_t kl, const char *sid, size_t sl);
/* rid's messages after seq `after`, in order: step it, then sqlite3_reset. */
sqlite3_stmt *mq_backlog(const char *rid, size_t rl, int64_t after, int limit);
/* The highest seq stored (0: none). */
int64_t mq_last_seq(void);
/* Rebuilds the counts from the database (after a lost commit). */
int mq_reload(void);
size_t mq_recipient_count(void);
uint64_t mq_bytes(void);

#endif
