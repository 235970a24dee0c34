/* loadgen_salty — SaltyRTC load generator for tests/bench/proto-saltyrtc.sh.
 *
 * The connections, frames and epoll loop are loadgen's (loadgen_net.c), the
 * CPU accounting too (loadgen_cpu.c); the SaltyRTC client side is the
 * project's own library (proto/saltyrtc/client*.c, libsodium, msgpack-c),
 * driven without blocking: each binary message from the server goes to
 * saltyc_receive, each packet it wants sent becomes a masked binary frame.
 * Only 127.0.0.1. Initiator i is conns[i], its responder conns[PAIRS + i];
 * each pair has a path (a fresh initiator key) and an auth token of its own.
 *
 *   loadgen_salty hs PORT PAIRS CONC CPUPID
 *       PAIRS times, CONC at a time: an initiator and a responder connect at
 *       once and both go through the server handshake (server-hello ..
 *       server-auth); when both have their server-auth they close, and the
 *       next pair starts. rate = pairs per second (a pair: two handshakes).
 *   loadgen_salty chaths PORT PAIRS CONC CPUPID
 *       the same with two /wschat connections per pair, each ready once its
 *       identify is answered with outcome 300: WSChat's counterpart.
 *   loadgen_salty relay PORT PAIRS WINDOW SIZE WARMUP SECS CPUPID [sealed]
 *       PAIRS pairs through the whole handshake (server and peer: token,
 *       key, auth), then each side keeps WINDOW packets of SIZE bytes in
 *       flight to the other (closed loop: every packet received makes its
 *       receiver send one back). After WARMUP s, counts deliveries for SECS
 *       s and the CPU of CPUPID and its children. By default a packet is a
 *       valid nonce (cookie, addresses, CSN + 1 each) and opaque bytes: the
 *       server forwards relays whole and never opens them, so the generator
 *       spends no crypto on them. "sealed": real task messages, boxed and
 *       opened by the library on both ends (the generator pays for both).
 *   loadgen_salty chat PORT PAIRS WINDOW SIZE WARMUP SECS CPUPID
 *       the same shape on /wschat: clients a<i> and b<i> send each other
 *       direct messages whose frame is SIZE bytes: WSChat's counterpart.
 *   loadgen_salty idle PORT PAIRS READYFILE
 *       PAIRS pairs through the whole handshake, "ready ..." to READYFILE,
 *       then held open until SIGTERM (at most 120 s).
 *   loadgen_salty soak PORT PAIRS RATE SIZE READYFILE
 *       make soak (tests/bench/soak.sh): PAIRS pairs through the whole
 *       handshake, "ready ..." to READYFILE, then RATE relays/s in all of
 *       SIZE bytes (a valid nonce, a sequence number, opaque bytes), each
 *       from a random side of a random pair to its peer, until SIGTERM (a
 *       loss, duplicate or misaddressed relay is an error). On SIGTERM:
 *       waits up to 15 s for what was sent, prints one line
 *       (sent_saltyrtc=, delivered_saltyrtc=, errors=), then waits (at
 *       most 120 s) for the server to close the connections.
 *
 * Results go to stdout as one line of key=value pairs.
 */
#include "loadgen.h"

#include <sodium.h>

#include "../../proto/saltyrtc/client.h"

static enum { S_HS, S_CHATHS, S_RELAY, S_CHAT, S_IDLE, S_SOAK } smode;

struct side {
	struct saltyc_client *cli;
	int ready;    /* SERVER_READY (hs), PEER_READY (relay), identified (WSChat) */
	int addr, peer; /* our SaltyRTC address, the peer's */
	uint8_t cookie[16];
	uint64_t csn;
	long pair;    /* handshake modes: the pair this connection belongs to */
	double t0;
};

static struct side *sides;
int running;		/* loadgen.h: sending allowed */
long delivered;		/* loadgen.h: relays received */
static int npairs, window, size, sealed;
static long nready, ngone, pairs_started, pairs_done, pairs_over, hs_total;
static double hs_time_sum;
static uint8_t (*ini_sk)[SALTYC_KEY_LEN], (*tokens)[SALTYC_KEY_LEN];
static uint8_t *pkt, *task_msg;
static size_t task_len;
static char *chat_msg[2];	/* the frames a<i> → b<i> and back, "%05d" placeholders patched */
/* soak: relays sent (also the next sequence number) and received, and
 * which sequence numbers came; the result is out once soak_over is set */
static long soak_sent, soak_got;
static unsigned char *soak_seen;
static int soak_over;
#define SOAK_MAXSEQ (1L << 27)

static int idx(const struct conn *c) { return (int)(c - conns); }
static int partner(int i) { return i < npairs ? i + npairs : i - npairs; }
static int salty(void) { return smode != S_CHATHS && smode != S_CHAT; }

static int io_send(void *ctx, const uint8_t *p, size_t n)
{
	struct conn *c = ctx;
	if (c->st == ST_OPEN) /* nothing after our close frame */
		put_frame_unmasked_key(c, 2, p, n);
	return 0;
}

static void ready_one(struct conn *c);
static void send_relay(struct conn *c);

static void io_event(void *ctx, const struct saltyc_event *ev)
{
	struct conn *c = ctx;
	struct side *s = &sides[idx(c)];
	if (ev->type == SALTYC_EV_SERVER_READY) {
		s->addr = ev->a;
		if (smode == S_HS)
			ready_one(c);
	} else if (ev->type == SALTYC_EV_PEER_READY) {
		s->peer = ev->a;
		if (smode != S_HS)
			ready_one(c);
	} else if (ev->type == SALTYC_EV_MESSAGE) {
		delivered++;
		if (running)
			send_relay(c);
	} else if (ev->type == SALTYC_EV_CLOSE) {
		if (c->st == ST_OPEN && !soak_over) {
			err("salty_close_%d:%s", ev->a, ev->text ? ev->text : "");
			send_close(c);
		}
	} else if (ev->type == SALTYC_EV_DROPPED || (ev->type == SALTYC_EV_PEER_LOST && running)) {
		err("salty_event_%d:%s", ev->type, ev->text ? ev->text : "");
	}
}

/* A fresh client for conns[i]: initiator i < npairs, else its responder. */
static void salty_new(int i)
{
	struct side *s = &sides[i];
	int p = i % npairs;
	struct saltyc_config cfg = {.has_token = true};
	memcpy(cfg.token, tokens[p], SALTYC_KEY_LEN);
	if (i < npairs) {
		cfg.role = SALTYC_INITIATOR;
		memcpy(cfg.secret_key, ini_sk[p], SALTYC_KEY_LEN);
	} else {
		cfg.role = SALTYC_RESPONDER;
		randombytes_buf(cfg.secret_key, SALTYC_KEY_LEN);
		saltyc_public_key(ini_sk[p], cfg.peer_key);
	}
	struct saltyc_io io = {.ctx = &conns[i], .send = io_send, .event = io_event};
	saltyc_free(s->cli);
	s->cli = saltyc_new(&cfg, &io);
	if (!s->cli)
		die("saltyc_new");
	s->addr = s->peer = 0;
	randombytes_buf(s->cookie, sizeof s->cookie);
	s->csn = randombytes_random();
}

/* ---- the hooks loadgen_net.c calls ---- */
const char *conn_path(struct conn *c)
{
	static char p[2 + 2 * SALTYC_KEY_LEN];
	if (!salty())
		return "/wschat";
	uint8_t pk[SALTYC_KEY_LEN];
	saltyc_public_key(ini_sk[idx(c) % npairs], pk);
	saltyc_path(pk, p);
	return p;
}

void on_open(struct conn *c)
{
	if (salty())
		salty_new(idx(c)); /* then server-hello comes */
	/* WSChat: init comes */
}

static void send_chat(struct conn *c)
{
	int i = idx(c);
	char *m = chat_msg[i >= npairs];
	char num[12];
	snprintf(num, sizeof num, "%05d", i % npairs);
	memcpy(strstr(m, "\"to\":\"") + 7, num, 5);
	put_frame_unmasked_key(c, 1, m, size);
}

/* One relay to the peer: a valid nonce and opaque bytes, or a sealed task message. */
static void send_relay(struct conn *c)
{
	struct side *s = &sides[idx(c)];
	if (c->st != ST_OPEN)
		return;
	if (smode == S_CHAT)
		return send_chat(c);
	if (sealed) {
		const char *why;
		if (saltyc_send_task(s->cli, task_msg, task_len, &why) < 0)
			err("send_task:%s", why);
		return;
	}
	memcpy(pkt, s->cookie, 16);
	pkt[16] = s->addr, pkt[17] = s->peer;
	for (int k = 0; k < 6; k++)
		pkt[18 + k] = (uint8_t)(s->csn >> (8 * (5 - k)));
	s->csn++;
	if (smode == S_SOAK) /* after the nonce: its sequence number */
		memcpy(pkt + 24, &soak_sent, sizeof soak_sent);
	put_frame_unmasked_key(c, 2, pkt, size);
}

static void chat_text(struct conn *c, const char *p, size_t n)
{
	struct side *s = &sides[idx(c)];
	if (PREFIX(p, n, "{\"type\":\"message\"")) {
		delivered++;
		if (running)
			send_relay(c);
	} else if (PREFIX(p, n, "{\"type\":\"init\"")) {
		char m[64];
		int k = snprintf(m, sizeof m, "{\"command\":\"identify\",\"name\":\"%c%05ld\"}",
				 idx(c) < npairs ? 'a' : 'b', smode == S_CHATHS ? s->pair : idx(c) % npairs);
		put_frame_unmasked_key(c, 1, m, k);
	} else if (PREFIX(p, n, "{\"type\":\"outcome\"") && memmem(p, n, "\"code\":300", 10)) {
		ready_one(c);
	} else if (!PREFIX(p, n, "{\"type\":\"quit\"")) {
		err("unexpected:%.*s", (int)(n < 120 ? n : 120), p);
	}
}

void on_text(struct conn *c, const char *p, size_t n)
{
	if (!salty())
		return chat_text(c, p, n);
	struct side *s = &sides[idx(c)];
	const uint8_t *u = (const uint8_t *)p;
	if (smode == S_SOAK && s->peer && n == (size_t)size && u[16] == s->peer) {
		long seq;
		memcpy(&seq, u + 24, sizeof seq);
		if (soak_over)
			return;
		if (u[17] != s->addr)
			return err("misaddressed_relay");
		if (seq < 0 || seq >= SOAK_MAXSEQ || (soak_seen[seq >> 3] & (1 << (seq & 7))))
			return err("duplicate_or_bad_sequence:%ld", seq);
		soak_seen[seq >> 3] |= (unsigned char)(1 << (seq & 7));
		soak_got++;
		return;
	}
	if (smode == S_RELAY && !sealed && s->peer && n > 24 && u[16] == s->peer) {
		if (u[17] != s->addr)
			err("misaddressed_relay");
		delivered++;
		if (running)
			send_relay(c);
		return;
	}
	if (saltyc_receive(s->cli, u, n) < 0 && c->st == ST_OPEN)
		send_close(c);
}

/* ---- handshake modes: CONC pairs in flight, each slot reused ---- */
static void pair_start(int slot)
{
	if (pairs_started >= hs_total)
		return;
	long p = pairs_started++;
	if (salty()) { /* a path of its own */
		randombytes_buf(ini_sk[slot], SALTYC_KEY_LEN);
		randombytes_buf(tokens[slot], SALTYC_KEY_LEN);
	}
	for (int k = 0; k < 2; k++) {
		int i = slot + k * npairs;
		sides[i].ready = 0;
		sides[i].pair = p;
		sides[i].t0 = now();
		conn_open(&conns[i]); /* a failure: ST_DONE, counted in errors */
	}
	if (conns[slot].st == ST_DONE && conns[slot + npairs].st == ST_DONE) {
		pairs_over++;
		pair_start(slot);
	}
}

static void ready_one(struct conn *c)
{
	int i = idx(c), j = partner(i);
	struct side *s = &sides[i];
	if (s->ready)
		return;
	s->ready = 1;
	nready++;
	if (smode != S_HS && smode != S_CHATHS)
		return;
	if (conns[j].st == ST_DONE) { /* its partner failed */
		send_close(c);
		return;
	}
	if (!sides[j].ready)
		return;
	pairs_done++;
	hs_time_sum += now() - (s->t0 < sides[j].t0 ? s->t0 : sides[j].t0);
	send_close(c); /* flushed when its event is handled */
	send_close(&conns[j]);
	if (flush(&conns[j]) < 0)
		on_end(&conns[j]);
}

void on_end(struct conn *c)
{
	ngone++;
	if (smode != S_HS && smode != S_CHATHS)
		return;
	struct conn *o = &conns[partner(idx(c))];
	if (o->st == ST_OPEN) { /* this one failed: end its partner too */
		send_close(o);
		if (flush(o) < 0)
			on_end(o);
		return;
	}
	if (o->st != ST_DONE)
		return;
	pairs_over++;
	pair_start(idx(c) % npairs);
}

/* ---- setup, runs, results ---- */
static int hs_over(void) { return pairs_over >= hs_total || stop_flag; }
static int all_ready(void) { return nready + ngone >= 2L * npairs || stop_flag; }
static int all_ended(void) { return ngone >= 2L * npairs; }
static void on_signal(int sig) { (void)sig; stop_flag = 1; }

static void alloc_pairs(int n)
{
	npairs = n;
	nconns = 2 * n;
	conns = calloc(nconns, sizeof *conns);
	sides = calloc(nconns, sizeof *sides);
	ini_sk = calloc(n, sizeof *ini_sk);
	tokens = calloc(n, sizeof *tokens);
	if (!conns || !sides || !ini_sk || !tokens)
		die("out of memory");
	for (int i = 0; i < nconns; i++) {
		conns[i].id = i;
		conns[i].fd = -1;
		conns[i].st = ST_DONE;
	}
	randombytes_buf(ini_sk, (size_t)n * sizeof *ini_sk);
	randombytes_buf(tokens, (size_t)n * sizeof *tokens);
}

/* All pairs at once, through the whole handshake; 0 when all are paired. */
static int open_pairs(void)
{
	for (int i = 0; i < nconns; i++)
		if (conn_open(&conns[i]) < 0)
			ngone++;
	loop(all_ready, now() + 60, NULL);
	return nready == nconns ? 0 : -1;
}

static void close_all(double secs)
{
	running = 0;
	close_conns(secs, all_ended);
}

static const char *first(void) { return first_error[0] ? first_error : "-"; }

static int run_hs(int cpupid)
{
	static struct cpu_snap s0, s1;
	cpu_snapshot(cpupid, &s0);
	double g0 = self_cpu_us(), t0 = now();
	for (int i = 0; i < npairs; i++)
		pair_start(i);
	loop(hs_over, t0 + 120, NULL);
	double el = now() - t0, g1 = self_cpu_us();
	cpu_snapshot(cpupid, &s1);
	double cpu, csw, d = pairs_done ? pairs_done : 1;
	cpu_delta(&s0, &s1, NULL, &cpu, &csw);
	printf("pairs=%ld done=%ld secs=%.3f rate=%.0f ms_per_pair=%.2f cpu_us=%.0f us_per_pair=%.1f "
	       "gen_us_per_pair=%.1f errors=%ld first_error=%s\n", hs_total, pairs_done, el, pairs_done / el,
	       hs_time_sum / d * 1e3, cpu, cpu / d, (g1 - g0) / d, errors, first());
	return pairs_done == hs_total && !errors ? 0 : 1;
}

/* Packet and message contents for SIZE-byte relays. */
static void relay_prepare(void)
{
	pkt = malloc(size);
	task_msg = malloc(size);
	chat_msg[0] = malloc(size + 1);
	chat_msg[1] = malloc(size + 1);
	if (!pkt || !task_msg || !chat_msg[0] || !chat_msg[1])
		die("out of memory");
	memset(pkt, 'x', size);
	/* {"type":"bench","p":bin(L)}: boxed, 24 + 16 + 14 + header + L = SIZE */
	size_t room = size - 24 - 16 - 14, hl = room - 2 < 256 ? 2 : room - 3 < 65536 ? 3 : 5, l = room - hl;
	uint8_t *m = task_msg;
	memcpy(m, "\x82\xa4type\xa5" "bench\xa1p", 14);
	m += 14;
	*m++ = hl == 2 ? 0xc4 : hl == 3 ? 0xc5 : 0xc6;
	for (size_t k = hl - 1; k > 0; k--)
		*m++ = (uint8_t)(l >> (8 * (k - 1)));
	memset(m, 'x', l);
	task_len = 14 + hl + l;
	for (int k = 0; k < 2; k++) {
		int h = snprintf(chat_msg[k], size + 1, "{\"command\":\"message\",\"to\":\"%c00000\",\"message\":\"",
				 k ? 'a' : 'b');
		memset(chat_msg[k] + h, 'x', size - h - 2);
		memcpy(chat_msg[k] + size - 2, "\"}", 2);
	}
}

static int run_relay(double warm, double secs, int cpupid)
{
	if (open_pairs() < 0) {
		printf("delivered=0 rate=0 mb_per_s=0 errors=%ld first_error=pairing_failed(%ld/%d):%s\n", errors,
		       nready, nconns, first());
		close_all(2);
		return 1;
	}
	running = 1;
	for (int w = 0; w < window; w++)
		for (int i = 0; i < nconns; i++)
			send_relay(&conns[i]);
	for (int i = 0; i < nconns; i++)
		if (conns[i].fd >= 0 && flush(&conns[i]) < 0)
			on_end(&conns[i]);
	static struct window w;
	loop(never, now() + warm, NULL);
	long d0 = delivered;
	window_measure(&w, cpupid, secs, NULL, NULL);
	long d = delivered - d0;
	double el = w.secs, dd = d ? d : 1;
	running = 0;
	printf("delivered=%ld secs=%.3f rate=%.0f mb_per_s=%.1f cpu_us=%.0f us_per_msg=%.2f cs_per_msg=%.2f "
	       "gen_us_per_msg=%.2f procs=%d", d, el, d / el, d * (double)size / el / 1e6, w.cpu, w.cpu / dd,
	       w.csw / dd, w.gen_us / dd, w.s1.n);
	print_split(&w.s0, &w.s1, dd);
	printf(" errors=%ld first_error=%s\n", errors, first());
	fflush(stdout);
	close_all(5);
	return errors || !d ? 1 : 0;
}

static int run_idle(const char *readyfile)
{
	int rc = open_pairs();
	write_ready(readyfile, rc == 0, "paired=%ld", nready);
	loop(never, now() + 120, NULL); /* until SIGTERM */
	close_all(3);
	return rc ? 1 : 0;
}

/* soak: RATE relays/s from random sides, paced by the loop's tick */
static double soak_rate, soak_t0;
static long soak_due_sent;
static void soak_tick(double t)
{
	if (!running)
		return;
	long due = (long)((t - soak_t0) * soak_rate);
	if (due - soak_due_sent > soak_rate / 10) /* fell behind by 100 ms: do not burst */
		soak_due_sent = due - (long)(soak_rate / 10);
	while (soak_due_sent < due) {
		soak_due_sent++;
		struct conn *c = &conns[rnd() % (unsigned)nconns];
		if (c->st != ST_OPEN)
			continue;
		send_relay(c);
		soak_sent++;
		if (flush(c) < 0)
			on_end(c);
	}
}

static int run_soak(double rate, const char *readyfile)
{
	soak_rate = rate;
	if (!(soak_seen = calloc(SOAK_MAXSEQ / 8, 1)))
		die("out of memory");
	relay_prepare();
	int rc = open_pairs();
	write_ready(readyfile, rc == 0, "paired=%ld", nready);
	static const struct soak s = {"saltyrtc", soak_tick, &soak_t0, &soak_sent, &soak_got, all_ended, &soak_over};
	return soak_run(&s, rc == 0);
}

static void usage(void)
{
	fprintf(stderr, "usage: loadgen_salty hs|chaths PORT PAIRS CONC CPUPID\n"
		"       loadgen_salty relay PORT PAIRS WINDOW SIZE WARMUP SECS CPUPID [sealed]\n"
		"       loadgen_salty chat PORT PAIRS WINDOW SIZE WARMUP SECS CPUPID\n"
		"       loadgen_salty idle PORT PAIRS READYFILE\n"
		"       loadgen_salty soak PORT PAIRS RATE SIZE READYFILE\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc < 5 || sodium_init() < 0)
		usage();
	loadgen_signals_and_seed(on_signal);
	mode = M_CHAT; /* loadgen_net.c: a close from the server is an error */
	epfd = epoll_create1(EPOLL_CLOEXEC);
	port = atoi(argv[2]);
	int n = atoi(argv[3]);
	if (port <= 0 || port > 65535 || n < 1 || n > 20000)
		usage();
	const char *m = argv[1];
	smode = !strcmp(m, "hs") ? S_HS : !strcmp(m, "chaths") ? S_CHATHS : !strcmp(m, "relay") ? S_RELAY
		: !strcmp(m, "chat") ? S_CHAT : !strcmp(m, "idle") ? S_IDLE : !strcmp(m, "soak") ? S_SOAK
		: (usage(), 0);
	if (salty())
		req_headers = "Sec-WebSocket-Protocol: " SALTYC_SUBPROTOCOL "\r\n";
	if ((smode == S_HS || smode == S_CHATHS) && argc == 6) {
		hs_total = n;
		int conc = atoi(argv[4]);
		alloc_pairs(conc < 1 ? 1 : conc > n ? n : conc);
		return run_hs(atoi(argv[5]));
	}
	if (smode == S_SOAK && argc == 7) {
		size = atoi(argv[5]);
		if (atof(argv[4]) <= 0 || size < 128 || size > (1 << 20))
			usage();
		alloc_pairs(n);
		return run_soak(atof(argv[4]), argv[6]);
	}
	if (smode == S_IDLE && argc == 5) {
		alloc_pairs(n);
		return run_idle(argv[4]);
	}
	if ((smode == S_RELAY && (argc == 9 || (argc == 10 && !strcmp(argv[9], "sealed")))) ||
	    (smode == S_CHAT && argc == 9)) {
		window = atoi(argv[4]);
		size = atoi(argv[5]);
		sealed = argc == 10;
		if (window < 1 || size < 128 || size > (1 << 20))
			usage();
		alloc_pairs(n);
		relay_prepare();
		return run_relay(atof(argv[6]), atof(argv[7]), atoi(argv[8]));
	}
	usage();
}
