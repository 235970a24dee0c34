/*
 * Allocation that never returns NULL: out of memory is fatal (log_fatal,
 * exit 111), as Postfix's mymalloc. Worker and router are restarted cleanly
 * by the supervisor (a worker's client sees its connection drop; the
 * router's workers redial and register again), which beats carrying an
 * error path through every caller that could never do better.
 */
#ifndef SB_ALLOC_H
#define SB_ALLOC_H
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);

#endif
