/* Growable byte buffer with a consumed prefix: bytes [off, len) are live. */
#ifndef SB_BUF_H
#define SB_BUF_H
#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data;
	size_t off; /* first unconsumed byte */
	size_t len; /* end of valid bytes */
	size_t cap;
};

void buf_free(struct buf *b);
/*
 * These never fail: out of memory, or a size past SIZE_MAX, ends the process
 * (common/alloc.h: worker and router are restarted cleanly), so nothing is
 * ever half-appended and lost silently. Their int result is always 0.
 */
/* Make room for n more bytes after len; compacts first when worthwhile. */
int buf_reserve(struct buf *b, size_t n);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void buf_consume(struct buf *b, size_t n);
static inline size_t buf_used(const struct buf *b) { return b->len - b->off; }
/* NULL for a buffer never allocated (NULL + 0 is undefined behaviour). */
static inline uint8_t *buf_head(const struct buf *b) { return b->data ? b->data + b->off : NULL; }
void buf_reset(struct buf *b);
/* Gives back memory of a large idle buffer (keeps idle workers small). */
void buf_shrink(struct buf *b, size_t keep);

#endif
