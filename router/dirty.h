/*
 * The router's flush list: the workers with something queued that may go
 * out (router/workers.c). Intrusive, so marking a worker allocates nothing.
 *
 * A pass takes the list as it is and runs each node once; a node marked
 * while the pass runs, its own node included (a protocol's on_drained
 * queues the next part of a backlog), waits for the next pass, i.e. the
 * next loop turn. So a pass is bounded, and a node is never on the list
 * twice: it was, once, when a drained worker was both marked by its
 * on_drained and kept, and the list came out cut or with a cycle in it
 * (a router spinning in its flush, no worker served any more).
 *
 * Pure code: unit tested in tests/unit/test_dirty.c.
 */
#ifndef SB_DIRTY_H
#define SB_DIRTY_H
#include <stdbool.h>

struct dirty_node {
	struct dirty_node *next;
	bool on; /* on the list, or in the running pass and not yet run */
};

struct dirty_list {
	struct dirty_node *head;    /* for the next pass */
	struct dirty_node *running; /* what the running pass has still to run */
};

/* n goes on the list, unless it is on it already. */
void dirty_mark(struct dirty_list *l, struct dirty_node *n);
/* n leaves the list, or the running pass (its worker is gone). */
void dirty_unlink(struct dirty_list *l, struct dirty_node *n);
/* Runs fn on each node of the list once; a node fn answers true for (it
 * still has something it may send) is marked again, for the next pass. */
void dirty_run(struct dirty_list *l, bool (*fn)(struct dirty_node *n, void *arg), void *arg);
/* Whether a pass has anything to run. */
static inline bool dirty_any(const struct dirty_list *l) { return l->head != 0; }

#endif
