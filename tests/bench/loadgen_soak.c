/* loadgen: the soak mode (make soak, tests/bench/soak.sh).
 *
 *   loadgen soak PORT NCHAT NMSG NECHO RATE PAYLOAD READYFILE
 *
 * Opens NCHAT WSChat clients (identified as k0..), NMSG Messaging clients
 * (/messaging?client_id=s0..) and NECHO /echo clients, writes "ready ..." to
 * READYFILE, then sends RATE messages/s in all, in turn a WSChat direct
 * message to a random other WSChat client, a one-message Messaging `send` to
 * a random other connected Messaging id (each delivery answered with `read`)
 * and an echo text, each from a random client of its kind. Every message
 * carries a sequence number: one delivered twice, to the wrong client or
 * mangled is an error. At most 20 000 messages are undelivered at a time
 * (beyond, sending waits). Every 30 s a progress line goes to stderr.
 * On SIGTERM: stops sending, waits up to 15 s for everything sent to
 * arrive, prints one line (sent_K=, delivered_K= per kind, errors=) and
 * then waits (at most 120 s) for the server to close the connections,
 * ignoring their ends: the caller stops the server first, so that 10 000
 * WSChat clients leaving do not each make the router tell all the others.
 */
#include "loadgen.h"

static int nkind[SK_N], first[SK_N];
static long ksent[SK_N], kgot[SK_N];
static int chat_ident;
static double rate, t0;
static long total_sent;
static const char *kname[SK_N] = { "wschat", "messaging", "echo" };

const char *soak_path(struct conn *c)
{
	static char p[64];
	if (c->kind == SK_CHAT)
		return "/wschat";
	if (c->kind == SK_ECHO)
		return "/echo";
	snprintf(p, sizeof p, "/messaging?client_id=s%d", c->id - first[SK_MSG]);
	return p;
}

static int mark_seen(long seq)
{
	if (seq < 0 || seq >= MAXSEQ) {
		err("bad_sequence:%ld", seq);
		return -1;
	}
	if (seen[seq >> 3] & (1 << (seq & 7))) {
		err("duplicate:seq_%ld", seq);
		return -1;
	}
	seen[seq >> 3] |= 1 << (seq & 7);
	return 0;
}

/* a random open connection of kind k other than `not` (-1: any); NULL if none */
static struct conn *pick(int k, int not)
{
	for (int tries = 0; tries < 8; tries++) {
		int i = first[k] + (int)(rnd() % (uint32_t)nkind[k]);
		if (i != not && conns[i].st == ST_OPEN)
			return &conns[i];
	}
	return NULL;
}

static void send_one(int k)
{
	struct conn *c = pick(k, -1), *to = c ? pick(k, (int)(c - conns)) : NULL;
	if (!c || (k != SK_ECHO && !to))
		return;
	long seq = seqno++;
	char m[4096 + 256];
	int n;
	if (k == SK_CHAT)
		n = snprintf(m, sizeof m, "{\"command\":\"message\",\"to\":\"k%d\",\"message\":\"%010ld:%05d:%.*s\"}",
			     to->id, seq, to->id, payload_len, payload);
	else if (k == SK_MSG)
		n = snprintf(m, sizeof m, "{\"send\":[{\"id\":%ld,\"sid\":\"s%d\",\"rid\":\"s%d\",\"body\":\"%.*s\"}]}",
			     seq, c->id - first[SK_MSG], to->id - first[SK_MSG], payload_len, payload);
	else
		n = snprintf(m, sizeof m, "e%010ld:%.*s", seq, payload_len, payload);
	put_frame(c, 1, m, (size_t)n);
	ksent[k]++;
	if (flush(c) < 0)
		on_end(c);
}

static long undelivered(void)
{
	long u = 0;
	for (int k = 0; k < SK_N; k++)
		u += ksent[k] - kgot[k];
	return u;
}

static double next_report;
static void report(FILE *f, const char *what)
{
	fprintf(f, "%s", what);
	for (int k = 0; k < SK_N; k++)
		fprintf(f, " sent_%s=%ld delivered_%s=%ld", kname[k], ksent[k], kname[k], kgot[k]);
	fprintf(f, " open=%d ended=%d errors=%ld first_error=%s\n", nupgraded, nended, errors,
		first_error[0] ? first_error : "-");
	fflush(f);
}

static void tick(double t)
{
	if (t >= next_report) {
		report(stderr, "loadgen soak: progress");
		next_report = t + 30;
	}
	if (!running)
		return;
	long due = (long)((t - t0) * rate);
	if (due - total_sent > rate / 10)	/* fell behind by 100 ms: do not burst */
		total_sent = due - (long)(rate / 10);
	while (total_sent < due && undelivered() < 20000) {
		int k = (int)(total_sent++ % SK_N);
		if (nkind[k])
			send_one(k);
	}
}

static void chat_text(struct conn *c, const char *p, size_t n)
{
	if (PREFIX(p, n, "{\"type\":\"message\"")) {
		const char *q = memmem(p, n, ",\"message\":\"", 12);
		if (!q || (size_t)(p + n - q) < 12 + 17 + 2 || q[12 + 10] != ':' || q[12 + 16] != ':')
			return err("bad_delivery:%.*s", (int)(n < 120 ? n : 120), p);
		long seq = strtol(q + 12, NULL, 10);
		if (atoi(q + 12 + 11) != c->id)
			return err("misdelivered:seq_%ld_to_k%d", seq, c->id);
		if (mark_seen(seq) == 0)
			kgot[SK_CHAT]++;
	} else if (PREFIX(p, n, "{\"type\":\"init\"")) {
		char m[64];
		int k = snprintf(m, sizeof m, "{\"command\":\"identify\",\"name\":\"k%d\"}", c->id);
		put_frame(c, 1, m, (size_t)k);
	} else if (PREFIX(p, n, "{\"type\":\"outcome\"")) {
		if (memmem(p, n, "\"code\":300", 10))
			chat_ident++;
		else
			err("outcome:%.*s", (int)(n < 120 ? n : 120), p);
	} else if (!PREFIX(p, n, "{\"type\":\"quit\"")) {
		err("unexpected:%.*s", (int)(n < 120 ? n : 120), p);
	}
}

/* {"messages":[{"id":N,...,"rid":"sI",...},...]}: checks each, answers `read` */
static void msg_text(struct conn *c, const char *p, size_t n)
{
	if (!PREFIX(p, n, "{\"messages\":["))
		return err("unexpected:%.*s", (int)(n < 120 ? n : 120), p);
	char me[32];
	int ml = snprintf(me, sizeof me, "\"rid\":\"s%d\"", c->id - first[SK_MSG]);
	const char *q = p + 13, *e = p + n;
	int k = 0;
	mb_reset();
	mb_add("{\"read\":[");
	while (q < e && PREFIX(q, (size_t)(e - q), "{\"id\":")) {
		long id = strtol(q + 6, NULL, 10);
		const char *close = memchr(q, '}', (size_t)(e - q));
		if (!close)
			return err("bad_delivery:%.*s", (int)(e - q < 120 ? e - q : 120), q);
		if (!memmem(q, (size_t)(close - q), me, (size_t)ml))
			err("misdelivered:id_%ld_to_s%d", id, c->id - first[SK_MSG]);
		else if (mark_seen(id) == 0)
			kgot[SK_MSG]++;
		mb_add("%s{\"id\":%ld}", k++ ? "," : "", id);
		q = close + 1;
		if (q < e && *q == ',')
			q++;
	}
	if (q >= e || *q != ']')
		err("bad_frame_end:%.*s", (int)(e - q < 60 ? e - q : 60), q);
	if (k) {
		mb_add("]}");
		put_frame(c, 1, mbuf, mbuf_len);
	}
}

void soak_on_text(struct conn *c, const char *p, size_t n)
{
	if (soak_finished)
		return;
	if (c->kind == SK_CHAT)
		return chat_text(c, p, n);
	if (c->kind == SK_MSG)
		return msg_text(c, p, n);
	if (n < 12 || p[0] != 'e' || p[11] != ':' || n != 12 + (size_t)payload_len)
		return err("bad_echo:%.*s", (int)(n < 60 ? n : 60), p);
	if (mark_seen(strtol(p + 1, NULL, 10)) == 0)
		kgot[SK_ECHO]++;
}

static int chat_ready(void) { return stop_flag || chat_ident + nended >= nkind[SK_CHAT]; }
static int all_back(void) { return undelivered() <= 0; }
static int all_ended(void) { return nended >= nconns; }

int soak_main(int argc, char **argv)
{
	if (argc != 9)
		return fprintf(stderr, "usage: loadgen soak PORT NCHAT NMSG NECHO RATE PAYLOAD READYFILE\n"), 2;
	mode = M_SOAK;
	int total = 0;
	for (int k = 0; k < SK_N; k++) {
		nkind[k] = atoi(argv[3 + k]);
		first[k] = total;
		total += nkind[k];
	}
	rate = atof(argv[6]);
	payload_len = atoi(argv[7]);
	if (total < 1 || total > 99999 || nkind[SK_CHAT] == 1 || nkind[SK_MSG] == 1 || rate < 0 || payload_len < 1 ||
	    payload_len > 1000)
		return fprintf(stderr, "loadgen soak: bad arguments\n"), 2;
	for (int i = 0; i < payload_len; i++)
		payload[i] = 'a' + i % 26;
	seen = calloc(MAXSEQ / 8, 1);
	conns = calloc((size_t)total, sizeof *conns);
	if (!seen || !conns)
		die("out of memory");
	for (int i = 0; i < total; i++) {
		conns[i].id = i;
		conns[i].kind = i < first[SK_MSG] ? SK_CHAT : i < first[SK_ECHO] ? SK_MSG : SK_ECHO;
	}
	open_ramp(total, 256, 900);
	loop(chat_ready, now() + 300, NULL);
	int ok = nupgraded == total && chat_ident == nkind[SK_CHAT] && !errors;
	write_ready(argv[8], ok, "open=%d identified=%d", nupgraded, chat_ident);
	running = ok;
	t0 = now();
	next_report = t0 + 30;
	loop(never, t0 + 86400, tick);
	running = 0;
	stop_flag = 0;
	loop(all_back, now() + 15, NULL);
	if (undelivered() > 0)
		err("undelivered:%ld", undelivered());
	report(stdout, "soak");
	soak_finished = 1;
	loop(all_ended, now() + 120, NULL);
	return errors ? 1 : 0;
}
