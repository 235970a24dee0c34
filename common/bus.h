/*
 * What both ends of the bus agree on beyond the envelope format.
 *
 * Flow control: libnng's polyamorous pair1 keeps 2 messages per pipe and
 * silently drops the rest, so the router never has more bus messages
 * outstanding to a worker than the worker's credit. A worker grants credit
 * in its hello (ours BUS_CREDIT_MAX, a libnng peer 2) and earns one back
 * per bus message it has taken off its socket, unless its client is not
 * reading (then it holds credit back); it returns credit in batches
 * (common/buscredit.h: along with its own messages, at half its window, or
 * when the router asks). Beside the first, outstanding messages must be
 * small together, so a worker holds one batch of any size at most. The
 * router keeps the last credit for a "close" so it can always tell a slow
 * worker to go; data is batched, so one bus message carries many envelopes.
 */
#ifndef SB_BUS_H
#define SB_BUS_H

#define BUS_MAX_MESSAGE (8u << 20) /* one batch of envelopes (the pair1 payload) */
#define BUS_BATCH_TARGET (256u << 10) /* stop adding envelopes to a batch past this */
/*
 * Neither end ever builds a bus message over BUS_MAX_MESSAGE: a batch is cut
 * at BUS_BATCH_TARGET (worker) or at the limit (router), and one envelope
 * that cannot fit alone is an error for its client (closed with 1009). So
 * that a client message always fits, with its envelope and the router's
 * JSON around it, --max-message is at most BUS_MAX_CLIENT_MESSAGE and
 * --worker-queue at most BUS_MAX_MESSAGE (protocols bound their own
 * options the same way); the programs refuse to start otherwise.
 */
#define BUS_MAX_CLIENT_MESSAGE (BUS_MAX_MESSAGE - (64u << 10))

/* core operations */
#define OP_HELLO "hello"   /* w→r: conn, pid, proto, credit (1..BUS_CREDIT_MAX; more is cut to it) */
#define OP_CREDIT "credit" /* w→r: n (at most the hello's credit); an empty r→w bus message asks for it */
#define OP_TEXT "text"     /* r→w: d — send to the client as a text frame */
#define OP_BINARY "binary" /* r→w: d — send as a binary frame */
#define OP_CLOSE "close"   /* r→w: code, reason — close the client */
/* w→r: id, to (a protocol, or "core"), head, tls, path, query, host, peer —
 * a plain HTTP request for a router half (proto/proto.h, router_http_req).
 * A worker that only asks such questions says hello with proto "core". */
#define OP_HTTP "http"
/* r→w: id, status, type, headers (array: name, value, ...), body (bin);
 * or id, file (a path below the directory the worker asked with), headers */
#define OP_HTTP_REPLY "http-reply"

#endif
