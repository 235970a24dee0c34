/* Giving back what an idle worker no longer touches (worker/memtrim.c). */
#ifndef WORKER_MEMTRIM_H
#define WORKER_MEMTRIM_H

#include <stddef.h>
#include <stdint.h>

struct session;

/* Ask for a trim when the clock (common/clock.h, ms) reaches at; 0: at
 * once. An earlier request stands. */
void memtrim_request(int64_t at);
/* When the trim asked for is due (0: none), for the loop's timer. */
int64_t memtrim_deadline(void);
/* A buffer that holds nothing between loop turns (the client's read
 * buffer): its pages are dropped too. Page-aligned, whole pages. */
void memtrim_scratch(void *p, size_t n);
/* Called by the event loop before it arms its timer and waits: trims if due. */
void memtrim_if_due(struct session *s);

#endif
