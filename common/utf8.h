/*
 * Incremental UTF-8 validator. RFC 6455 wants invalid text closed as soon as
 * the first bad byte arrives, even mid-frame, so the state carries across
 * calls; a message is valid when every byte was accepted and utf8_complete().
 * Written by hand (from Unicode 15, table 3-7) because none of our libraries
 * offers a resumable validator.
 */
#ifndef SB_UTF8_H
#define SB_UTF8_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct utf8_state {
	uint8_t need; /* continuation bytes still expected */
	uint8_t lo;   /* allowed range of the next continuation byte */
	uint8_t hi;
};

static inline void utf8_init(struct utf8_state *s) { s->need = 0; s->lo = 0x80; s->hi = 0xBF; }
/* false at the first invalid byte; the state is then meaningless. */
bool utf8_feed(struct utf8_state *s, const uint8_t *p, size_t n);
static inline bool utf8_complete(const struct utf8_state *s) { return s->need == 0; }
/* Whole-buffer convenience. */
bool utf8_valid(const uint8_t *p, size_t n);

#endif
