/* Shared by the common/sp unit tests (test_sp.c, test_sp_conn.c). */
#ifndef SB_TEST_SP_UTIL_H
#define SB_TEST_SP_UTIL_H
#include <stddef.h>
#include <stdint.h>

#include "../../common/sp.h"

/* A pair1 frame (header, hop count, payload) for transport t into out; returns its length. */
size_t pair1_frame(enum sp_transport t, uint8_t *out, uint32_t hops, const void *p, size_t n);

#endif
