/* The router's lent big buffers (see bufpool.h). */
#include "bufpool.h"

#include <stdbool.h>
#include <string.h>

/* The smallest spare of at least cap bytes, or -1. */
static int pick(const struct bufpool *pool, size_t cap)
{
	int best = -1;
	for (int i = 0; i < pool->n; i++)
		if (pool->spare[i].cap >= cap && (best < 0 || pool->spare[i].cap < pool->spare[best].cap))
			best = i;
	return best;
}

void bufpool_reserve(struct bufpool *pool, struct buf *b, size_t n)
{
	size_t used = buf_used(b);
	bool slides = b->cap - used >= n && b->off >= b->cap / 2; /* buf_reserve moves the bytes down */
	if (b->cap - b->len >= n || slides || used + n <= BUFPOOL_SMALL)
		return (void)buf_reserve(b, n);
	size_t room = b->off <= 64 ? b->off : 0; /* headroom before the bytes is kept (sp_conn_send_buf) */
	int i = pick(pool, room + used + n);
	if (i < 0)
		return (void)buf_reserve(b, n);
	struct buf s = pool->spare[i];
	pool->spare[i] = pool->spare[--pool->n];
	pool->spare[pool->n] = (struct buf){0};
	if (used > 0)
		memcpy(s.data + room, buf_head(b), used);
	s.off = room;
	s.len = room + used;
	buf_free(b);
	*b = s;
}

void bufpool_give(struct bufpool *pool, struct buf *b)
{
	if (buf_used(b) > 0 || b->cap <= BUFPOOL_SMALL)
		return;
	if (pool->n < BUFPOOL_SPARES && b->cap <= BUFPOOL_KEEP) {
		buf_reset(b);
		pool->spare[pool->n++] = *b;
		*b = (struct buf){0};
		return;
	}
	/* full: the smallest of the kept and this one goes */
	int small = 0;
	for (int i = 1; i < pool->n; i++)
		if (pool->spare[i].cap < pool->spare[small].cap)
			small = i;
	if (b->cap <= BUFPOOL_KEEP && pool->n > 0 && pool->spare[small].cap < b->cap) {
		struct buf t = pool->spare[small];
		buf_reset(b);
		pool->spare[small] = *b;
		*b = t;
	}
	buf_free(b);
}

void bufpool_lend_read(struct bufpool *pool, struct buf *in)
{
	if (in->cap >= BUFPOOL_READ)
		return; /* a big partial frame kept its buffer */
	size_t used = buf_used(in);
	bufpool_reserve(pool, in, BUFPOOL_READ - used);
	if (in->cap - in->len < BUFPOOL_READ - used) /* no spare: this one grows to a read buffer */
		buf_reserve(in, BUFPOOL_READ - used);
}

void bufpool_take_back_read(struct bufpool *pool, struct buf *in)
{
	size_t left = buf_used(in);
	if (left > BUFPOOL_SMALL)
		return; /* a big frame on its way: it fills this buffer next */
	if (left == 0)
		return bufpool_give(pool, in);
	struct buf big = *in;
	*in = (struct buf){0};
	buf_append(in, buf_head(&big), left); /* a small partial frame gets a buffer of its size */
	buf_reset(&big);
	bufpool_give(pool, &big);
}

void bufpool_free(struct bufpool *pool)
{
	while (pool->n > 0)
		buf_free(&pool->spare[--pool->n]);
}
