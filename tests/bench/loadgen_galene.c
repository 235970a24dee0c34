/* loadgen_galene — Galène load for tests/bench/proto-galene.sh, on the
 * loadgen's connections, frames and epoll loop (loadgen_net.c), CPU
 * readings (loadgen_cpu.c) and latency histogram (loadgen_lat.c). Only
 * ever connects to 127.0.0.1. Every client does Galène's handshake (id gI)
 * and joins GROUP as user uI with password PASS; it answers the server's
 * JSON pings.
 *
 *   loadgen_galene fanout  PORT GROUP PASS N SENDERS RATE WARMUP SECS PAYLOAD CPUPID
 *       clients g0..gSENDERS-1 send broadcast chat (a PAYLOAD-byte value
 *       starting with a sequence number), RATE messages/s in all, paced
 *       every millisecond (RATE 0: closed loop, each sender sends its next
 *       when its own echo comes back); every member, the sender too, gets
 *       each one. After WARMUP s counts deliveries for SECS s, the CPU of
 *       CPUPID and its children, and the latency of those deliveries.
 *   loadgen_galene private PORT GROUP PASS N RATE WARMUP SECS PAYLOAD CPUPID
 *       private chat (dest: a random other member) from random members,
 *       RATE messages/s paced; counts as fanout.
 *   loadgen_galene idle    PORT GROUP PASS N READYFILE
 *       N members join, "ready N" goes to READYFILE, then they wait
 *       (answering pings) until SIGTERM, at most 600 s.
 *   loadgen_galene soak    PORT GROUP PASS N RATE PAYLOAD READYFILE
 *       make soak (tests/bench/soak.sh): N members join, "ready N" goes to
 *       READYFILE, then private chat to random other members, RATE
 *       messages/s, until SIGTERM; each value carries its sequence number
 *       and addressee (a loss, duplicate or misdelivery is an error). On
 *       SIGTERM: waits up to 15 s for what was sent, prints one line
 *       (sent_galene=, delivered_galene=, errors=), then waits (at most
 *       120 s) for the server to close the connections.
 */
#include "loadgen.h"

enum gmode { G_FANOUT, G_PRIVATE, G_IDLE, G_SOAK };
static enum gmode gmode;
static const char *group, *pass;
static int njoined, ngone, senders;
static double rate, pace_t0;
static long gsent, gdelivered, gseq;
static char gpayload[4096];
static int gplen;
static unsigned char *gseen;	/* soak: sequence numbers delivered */
static int soak_over;		/* soak: the result is out, ends are expected */
#define GMAXSEQ (1L << 27)

int running;

const char *conn_path(struct conn *c) { (void)c; return "/ws"; }

static void send_json(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void send_json(struct conn *c, const char *fmt, ...)
{
	char b[5000];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b, sizeof b, fmt, ap);
	va_end(ap);
	if (n > 0 && n < (int)sizeof b)
		put_frame(c, 1, b, (size_t)n);
}

void on_open(struct conn *c)
{
	send_json(c, "{\"type\":\"handshake\",\"version\":[\"2\"],\"id\":\"g%d\"}", c->id);
	send_json(c, "{\"type\":\"join\",\"kind\":\"join\",\"group\":\"%s\",\"username\":\"u%d\",\"password\":\"%s\"}",
		  group, c->id, pass);
}

/* One chat from c: broadcast, or to a random other member. */
static void send_chat(struct conn *c)
{
	long seq = gseq++;
	lat_sent(seq);
	char v[32];
	int vn = snprintf(v, sizeof v, "%ld ", seq);
	if (gmode == G_SOAK) {
		int to = (int)(rnd() % (unsigned)(nconns - 1));
		to += to >= c->id;
		vn = snprintf(v, sizeof v, "%ld:%d ", seq, to);
		send_json(c, "{\"type\":\"chat\",\"source\":\"g%d\",\"dest\":\"g%d\",\"value\":\"%s%.*s\"}", c->id, to, v,
			  gplen - vn, gpayload);
	} else if (gmode == G_PRIVATE) {
		int to = (int)(rnd() % (unsigned)(nconns - 1));
		to += to >= c->id;
		send_json(c, "{\"type\":\"chat\",\"source\":\"g%d\",\"dest\":\"g%d\",\"value\":\"%s%.*s\"}", c->id, to, v,
			  gplen - vn, gpayload);
	} else {
		send_json(c, "{\"type\":\"chat\",\"source\":\"g%d\",\"value\":\"%s%.*s\"}", c->id, v, gplen - vn, gpayload);
	}
	gsent++;
}

/* soak: the value "SEQ:TO ..." reached g<TO>, once */
static void soak_check(struct conn *c, long seq, const char *end)
{
	if (soak_over)
		return;
	if (*end != ':' || atoi(end + 1) != c->id)
		return err("misdelivered:seq_%ld_to_g%d", seq, c->id);
	if (seq < 0 || seq >= GMAXSEQ)
		return err("bad_sequence:%ld", seq);
	if (gseen[seq >> 3] & (1 << (seq & 7)))
		return err("duplicate:seq_%ld", seq);
	gseen[seq >> 3] |= (unsigned char)(1 << (seq & 7));
	gdelivered++;
}

void on_text(struct conn *c, const char *p, size_t n)
{
	if (PREFIX(p, n, "{\"type\":\"ping\"")) {
		static const char pong[] = "{\"type\":\"pong\"}";
		put_frame(c, 1, pong, sizeof pong - 1);
		return;
	}
	if (PREFIX(p, n, "{\"type\":\"joined\",\"kind\":\"join\"")) {
		njoined++;
		return;
	}
	if (PREFIX(p, n, "{\"type\":\"joined\",\"kind\":\"fail\"")) {
		err("join_failed:%.*s", (int)(n < 120 ? n : 120), p);
		return;
	}
	if (!PREFIX(p, n, "{\"type\":\"chat\""))
		return;
	const char *v = memmem(p, n, "\"value\":\"", 9);
	if (!v)
		return err("chat_without_value");
	char *end;
	long seq = strtol(v + 9, &end, 10);
	if (gmode == G_SOAK)
		return soak_check(c, seq, end);
	gdelivered++;
	lat_delivered(seq);
	/* closed loop: a sender's own echo lets it send the next */
	if (running && gmode == G_FANOUT && rate <= 0 && c->id < senders && memmem(p, n, "\"noecho\"", 8) == NULL) {
		char src[24];
		int sn = snprintf(src, sizeof src, "\"source\":\"g%d\"", c->id);
		if (memmem(p, n, src, (size_t)sn))
			send_chat(c);
	}
}

void on_end(struct conn *c)
{
	if (c->fd >= 0)
		conn_close(c);
	ngone++;
	if ((running || gmode == G_IDLE || gmode == G_SOAK) && !soak_over)
		err("connection_lost:g%d", c->id);
}

static void pace(double t)
{
	if (!running || rate <= 0)
		return;
	long due = (long)((t - pace_t0) * rate);
	if (due - gsent > rate / 10) /* fell behind by 100 ms: do not burst */
		gsent = due - (long)(rate / 10);
	while (gsent < due) {
		int k = gmode == G_FANOUT ? senders : nconns;
		struct conn *c = &conns[rnd() % (unsigned)k];
		if (c->st != ST_OPEN)
			return;
		send_chat(c);
		if (flush(c) < 0)
			on_end(c);
	}
}

static int all_joined(void) { return njoined + ngone >= nconns || stop_flag; }
static int all_ended(void) { return ngone >= nconns; }
static void on_signal(int s) { (void)s; stop_flag = 1; }

static void open_all(int n)
{
	nconns = n;
	conns = calloc((size_t)n, sizeof *conns);
	if (!conns)
		die("out of memory");
	for (int i = 0; i < n; i++) {
		conns[i].id = i;
		conns[i].fd = -1;
		if (conn_open(&conns[i]) < 0)
			ngone++;
		if (i % 50 == 49) /* the supervisor forks a worker each: do not flood its backlog */
			loop(never, now() + 0.02, NULL);
	}
}

static void close_all(double secs)
{
	running = 0;
	close_conns(secs, all_ended);
}

static void usage(void)
{
	fprintf(stderr, "usage: loadgen_galene fanout PORT GROUP PASS N SENDERS RATE WARMUP SECS PAYLOAD CPUPID\n"
			"       loadgen_galene private PORT GROUP PASS N RATE WARMUP SECS PAYLOAD CPUPID\n"
			"       loadgen_galene idle PORT GROUP PASS N READYFILE\n"
			"       loadgen_galene soak PORT GROUP PASS N RATE PAYLOAD READYFILE\n");
	exit(2);
}

/* Joins n members within 120 s; 0, or -1 after printing why. */
static int join_all(int n)
{
	open_all(n);
	loop(all_joined, now() + 120, NULL);
	if (njoined == n)
		return 0;
	printf("delivered=0 errors=%ld first_error=join_failed(%d/%d):%s\n", errors, njoined, n,
	       first_error[0] ? first_error : "-");
	return -1;
}

static int measure(double warm, double secs, int cpupid)
{
	static struct window w;
	running = 1;
	pace_t0 = now();
	for (int i = 0; gmode == G_FANOUT && rate <= 0 && i < senders; i++)
		send_chat(&conns[i]);
	for (int i = 0; i < nconns; i++)
		if (conns[i].fd >= 0 && flush(&conns[i]) < 0)
			on_end(&conns[i]);
	void (*tick)(double) = rate > 0 ? pace : NULL;
	loop(never, now() + warm, tick);
	long d0 = gdelivered, m0 = gseq;
	window_measure(&w, cpupid, secs, tick, &lat_on);
	long d = gdelivered - d0, m = gseq - m0;
	double el = w.secs, dd = d ? d : 1, mm = m ? m : 1;
	printf("delivered=%ld sent=%ld secs=%.3f rate=%.0f msg_rate=%.0f cpu_us=%.0f us_per_delivery=%.2f "
	       "us_per_msg=%.2f gen_us_per_delivery=%.2f procs=%d",
	       d, m, el, d / el, m / el, w.cpu, w.cpu / dd, w.cpu / mm, w.gen_us / dd, w.s1.n);
	print_split(&w.s0, &w.s1, dd);
	lat_print();
	printf(" errors=%ld first_error=%s\n", errors, first_error[0] ? first_error : "-");
	fflush(stdout);
	return errors ? 1 : 0;
}

static int run_soak(int n, double r, int plen, const char *readyfile)
{
	gmode = G_SOAK;
	rate = r;
	gplen = plen;
	if (rate <= 0 || gplen < 24 || gplen >= (int)sizeof gpayload - 64 || !(gseen = calloc(GMAXSEQ / 8, 1)))
		usage();
	for (int i = 0; i < gplen; i++)
		gpayload[i] = (char)('a' + i % 26);
	lat_init();
	int rc = join_all(n);
	write_ready(readyfile, rc == 0, "%d", njoined);
	if (rc == 0)
		loop(never, now() + 1, NULL); /* the user add frames of the last joins */
	static const struct soak s = {"galene", pace, &pace_t0, &gseq, &gdelivered, all_ended, &soak_over};
	return soak_run(&s, rc == 0);
}

int main(int argc, char **argv)
{
	if (argc < 7)
		usage();
	loadgen_signals_and_seed(on_signal);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	port = atoi(argv[2]);
	group = argv[3];
	pass = argv[4];
	int n = atoi(argv[5]);
	if (port <= 0 || port > 65535 || n < 2 || n > 20000)
		usage();
	struct rlimit rl = {(rlim_t)n + 64, (rlim_t)n + 64};
	setrlimit(RLIMIT_NOFILE, &rl);
	mode = M_CHAT; /* loadgen_net.c: a close from the server (server_closed:CODE) is an error */
	int rc;
	if (!strcmp(argv[1], "idle") && argc == 7) {
		gmode = G_IDLE;
		rc = join_all(n);
		write_ready(argv[6], rc == 0, "%d", njoined);
		if (rc == 0)
			loop(never, now() + 600, NULL);
		close_all(5);
		return rc ? 1 : 0;
	}
	if (!strcmp(argv[1], "soak") && argc == 9)
		return run_soak(n, atof(argv[6]), atoi(argv[7]), argv[8]);
	int fan = !strcmp(argv[1], "fanout");
	if (!(fan && argc == 12) && !(!strcmp(argv[1], "private") && argc == 11))
		usage();
	gmode = fan ? G_FANOUT : G_PRIVATE;
	int a = 6;
	senders = fan ? atoi(argv[a++]) : n;
	rate = atof(argv[a++]);
	double warm = atof(argv[a++]), secs = atof(argv[a++]);
	gplen = atoi(argv[a++]);
	int cpupid = atoi(argv[a++]);
	if (senders < 1 || senders > n || gplen < 24 || gplen >= (int)sizeof gpayload - 64)
		usage();
	for (int i = 0; i < gplen; i++)
		gpayload[i] = (char)('a' + i % 26);
	lat_init();
	if (join_all(n) < 0) {
		close_all(5);
		return 1;
	}
	loop(never, now() + 1, NULL); /* the user add frames of the last joins */
	rc = measure(warm, secs, cpupid);
	close_all(10);
	return rc;
}
