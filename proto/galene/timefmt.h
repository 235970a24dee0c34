/*
 * RFC 3339 times as Galène writes and reads them (Go's time.RFC3339Nano):
 * "2026-11-21T22:28:01Z", "2026-11-21T23:29:07.310828832Z",
 * "2026-11-21T23:29:07+01:00". Times are kept as nanoseconds since the Unix
 * epoch (int64 covers 1678..2262; other years are refused).
 */
#ifndef SB_GALENE_TIMEFMT_H
#define SB_GALENE_TIMEFMT_H
#include <stddef.h>
#include <stdint.h>

/* Parses exactly n bytes; -1 when they are not one RFC 3339 date-time. */
int rfc3339_parse(const char *s, size_t n, int64_t *ns);

#endif
