/* loadgen: the Messaging modes (msg, fill, backlog). */
#include "loadgen.h"

/* ---- messaging modes: msg, fill, backlog ---- */
int msg_total;			/* msg: client_ids m0..msg_total-1 */
long msg_sent_online, msg_sent_offline, msg_delivered;	/* msg: totals */
const char *msg_from, *msg_to;	/* fill: FROM, TO; backlog: TO */
long msg_count, msg_expect;	/* fill/backlog: messages; backlog: next id due */
double msg_t_first, msg_t_done;	/* backlog: when the first / last one arrived */
int nopen;
char *mbuf;			/* frame being built */
size_t mbuf_len, mbuf_cap;

void mb_reset(void) { mbuf_len = 0; }
void mb_add(const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(mbuf + mbuf_len, mbuf_cap - mbuf_len, fmt, ap);
		va_end(ap);
		if (n >= 0 && mbuf_len + n < mbuf_cap) {
			mbuf_len += n;
			return;
		}
		grow(&mbuf, &mbuf_cap, mbuf_len + (n > 0 ? n : 0) + 1);
	}
}
void mb_message(long id, const char *sid, const char *rid)
{
	mb_add("{\"id\":%ld,\"sid\":\"%s\",\"rid\":\"%s\",\"body\":\"%.*s\"}", id, sid, rid, payload_len, payload);
}


/* msg: sends one message to a random other id; while that id is offline,
 * one more, so that each call puts exactly one online message in flight. */
void msg_chain(struct conn *c)
{
	if (c->st != ST_OPEN)
		return;
	char sid[16], rid[16];
	snprintf(sid, sizeof sid, "m%d", c->id);
	for (;;) {
		int to = rnd() % (msg_total - 1);
		if (to >= c->id)
			to++;
		snprintf(rid, sizeof rid, "m%d", to);
		mb_reset();
		mb_add("{\"send\":[");
		mb_message(seqno++, sid, rid);
		mb_add("]}");
		put_frame(c, 1, mbuf, mbuf_len);
		if (to < nconns) {
			msg_sent_online++;
			return;
		}
		msg_sent_offline++;
	}
}

/* A {"messages":[…]} frame: checks each message is for us (and, for the
 * backlog, in order), answers msg mode with `read` and the next sends. */
void msg_on_text(struct conn *c, const char *p, size_t n)
{
	if (!PREFIX(p, n, "{\"messages\":[")) {
		err("unexpected:%.*s", (int)(n < 120 ? n : 120), p);
		return;
	}
	char me[140];
	int ml = mode == M_MSG ? snprintf(me, sizeof me, "m%d", c->id) : snprintf(me, sizeof me, "%s", msg_to);
	const char *q = p + 13, *e = p + n;
	int k = 0;
	mb_reset();
	mb_add("{\"read\":[");
	while (q < e && *q == '{') {
		char *end;
		const char *r, *rq, *close;
		if (!PREFIX(q, (size_t)(e - q), "{\"id\":") || (strtol(q + 6, &end, 10), end == q + 6) ||
		    !(r = memmem(end, e - end, ",\"rid\":\"", 8)) || !(rq = memchr(r + 8, '"', e - r - 8)) ||
		    !(close = memchr(rq, '}', e - rq))) {
			err("bad_delivery:%.*s", (int)(e - q < 120 ? e - q : 120), q);
			return;
		}
		long id = strtol(q + 6, NULL, 10);
		if (rq - (r + 8) != ml || memcmp(r + 8, me, ml) != 0)
			err("misdelivered:id_%ld_for_%.*s_to_%s", id, (int)(rq - (r + 8)), r + 8, me);
		if (mode == M_BACKLOG) {
			if (id != msg_expect)
				err("out_of_order:got_%ld_expected_%ld", id, msg_expect);
			msg_expect++;
		} else {
			if (id < 0 || id >= MAXSEQ)
				err("bad_sequence:%ld", id);
			else if (seen[id >> 3] & (1 << (id & 7)))
				err("duplicate:id_%ld", id);
			else
				seen[id >> 3] |= 1 << (id & 7);
			msg_delivered++;
			mb_add("%s{\"id\":%ld}", k ? "," : "", id);
		}
		k++;
		q = close + 1;
		if (q < e && *q == ',')
			q++;
	}
	if (q >= e || *q != ']')
		err("bad_frame_end:%.*s", (int)(e - q < 60 ? e - q : 60), q);
	if (k > 500)
		err("frame_of_%d_messages", k);	/* the spec: at most 500 per frame */
	if (mode == M_BACKLOG) {
		if (!msg_t_first)
			msg_t_first = now();
		if (msg_expect >= msg_count && !msg_t_done)
			msg_t_done = now();
		return;
	}
	if (k == 0)
		return;
	mb_add("]}");
	put_frame(c, 1, mbuf, mbuf_len);
	for (int i = 0; running && i < k; i++)
		msg_chain(c);
}

/* fill: everything at once, 100 messages per frame, then close. */
void fill_send(struct conn *c)
{
	for (long i = 0; i < msg_count;) {
		mb_reset();
		mb_add("{\"send\":[");
		for (int k = 0; k < 100 && i < msg_count; k++, i++) {
			if (k)
				mb_add(",");
			mb_message(i, msg_from, msg_to);
		}
		mb_add("]}");
		put_frame(c, 1, mbuf, mbuf_len);
	}
	send_close(c);
}

