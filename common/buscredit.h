/*
 * Bus credit, both ends' arithmetic (common/bus.h says what credit is for).
 *
 * A worker grants up to BUS_CREDIT_MAX messages and returns credit in
 * batches: with whatever else it sends to the router in that loop turn, or
 * on its own once half its window is used, or at once when the router asks.
 * So a worker that sends as much as it receives never writes (and never
 * wakes the router) for credit alone.
 *
 * The router keeps what it has sent and not yet had credited: more than one
 * message may be outstanding only while they are small together
 * (BUS_INFLIGHT_SMALL), so a worker never holds more than one batch of any
 * size, plus small ones, as with a window of one. When that is what stops
 * it, the router asks for the credit with an empty bus message (it counts
 * as one message; the worker answers in the same turn). Pure code: unit
 * tested in tests/unit/test_buscredit.c.
 */
#ifndef SB_BUSCREDIT_H
#define SB_BUSCREDIT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUS_CREDIT_MAX 8             /* the most a worker may grant; a hello's credit is capped to it */
#define BUS_INFLIGHT_SMALL (64u << 10) /* what may be outstanding beside the first message */

/* The router's record of one worker's uncredited messages, oldest first. */
struct bus_inflight {
	uint32_t size[BUS_CREDIT_MAX];
	int head, n;
	size_t bytes;
};

enum bus_verdict { BUS_SEND, BUS_WAIT, BUS_ASK };

/*
 * May a message of len bytes go now? credit: what the worker has granted
 * and not seen used; reserve: credit kept back (for a close); asked: an ask
 * is out and unanswered. BUS_ASK: send the empty ask (it uses one credit).
 */
enum bus_verdict bus_credit_verdict(const struct bus_inflight *f, int credit, int reserve, size_t len, bool asked);
/* A message of len bytes (0 for an ask) went out. */
void bus_inflight_sent(struct bus_inflight *f, size_t len);
/* The worker credited n messages (more than are outstanding is ignored). */
void bus_inflight_credited(struct bus_inflight *f, int n);

/*
 * The worker's side: return the due credit now? window: what it granted;
 * asked: an ask came this turn; sending: the turn sends to the router
 * anyway (then credit rides along for free).
 */
bool bus_credit_return_now(int due, int window, bool asked, bool sending);

#endif
