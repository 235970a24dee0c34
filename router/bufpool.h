/*
 * Big buffers the router lends and takes back: its pipes' read buffers,
 * and the output of a worker's queue and pipe while a big message passes.
 *
 * A worker between messages holds none of these (thousands of idle
 * workers), but allocating one per message made each big message a chain
 * of reallocs (the buffer doubling up to the message's size, every byte
 * copied again at each step) and then a free: for a 64 KiB relay that cost
 * more than the copies the relay needs. Buffers now come from a few kept
 * spares when a big message needs room, and go back when they are empty.
 *
 * Reads borrow a buffer of BUFPOOL_READ bytes for one read, so that one
 * read takes what the socket has; a pipe left with part of a frame keeps a
 * copy of that part when it is small, or the buffer itself when it is not
 * (the rest is on its way). At most BUFPOOL_SPARES buffers of at most
 * BUFPOOL_KEEP bytes are kept between uses; what a pipe or queue holds is
 * bounded as before (sp_conn_read's read-ahead, --worker-queue).
 */
#ifndef SB_ROUTER_BUFPOOL_H
#define SB_ROUTER_BUFPOOL_H
#include "../common/buf.h"

#define BUFPOOL_READ (256u << 10) /* a read buffer: a socket's worth */
#define BUFPOOL_KEEP (1u << 20)   /* a buffer grown past this is freed, not kept */
#define BUFPOOL_SMALL (16u << 10) /* below this, buffers are the caller's own (and shrunk) */
#define BUFPOOL_SPARES 8

struct bufpool {
	struct buf spare[BUFPOOL_SPARES];
	int n;
};

/* Room for n more bytes in b, from a spare (the used bytes copied over) rather than a realloc. */
void bufpool_reserve(struct bufpool *pool, struct buf *b, size_t n);
/* An empty b of more than BUFPOOL_SMALL goes back to the pool, or is freed. */
void bufpool_give(struct bufpool *pool, struct buf *b);
/* Before a read: in gets a read buffer (with the small partial frame it held, if any). */
void bufpool_lend_read(struct bufpool *pool, struct buf *in);
/* After its frames are taken: the read buffer goes back, unless a big partial frame keeps it. */
void bufpool_take_back_read(struct bufpool *pool, struct buf *in);
void bufpool_free(struct bufpool *pool);

#endif
