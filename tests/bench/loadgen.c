/* loadgen — WebSocket load generator for tests/bench/run.sh.
 *
 * One thread, one epoll loop, hand-made masked frames, libc only, so the
 * generator costs as little CPU as possible and treats every server alike.
 * It only ever connects to 127.0.0.1.
 *
 *   loadgen conn  PORT PATH N CONC
 *       open N connections, CONC in flight; each: connect, upgrade, send a
 *       close frame, read the server's close frame and EOF, close.
 *   loadgen idle  PORT N READYFILE [PREFIX]
 *       open N connections to /wschat, identify them as i0..iN-1 (PREFIX:
 *       another letter than i), write "ready ..." to READYFILE, then wait
 *       for SIGTERM/SIGINT (at most 120 s, or LOADGEN_HOLD_SECS) and close
 *       them all cleanly. At most 256 connections are being set up at a time.
 *   loadgen hold  PORT PATH N READYFILE
 *       the same without WSChat: N upgraded connections to PATH, nothing sent
 *       (a "%d" in PATH becomes the connection's number: one Messaging
 *       client_id each, /messaging?client_id=h%d).
 *   loadgen soak  PORT NCHAT NMSG NECHO RATE PAYLOAD READYFILE
 *       mixed steady traffic over many connections: see loadgen_soak.c.
 *   Many connections: RLIMIT_NOFILE is raised as needed; LOADGEN_INFLIGHT=K
 *   sets up K at a time instead of 256 (idle, hold, soak); LOADGEN_SRCS=K
 *   connects from 127.0.0.1 .. 127.0.0.K in turn (more ephemeral ports).
 *   loadgen chat  PORT N WINDOW RATE WARMUP SECS PAYLOAD CPUPID
 *       N clients on /wschat identified as c0..cN-1 send direct messages
 *       (a PAYLOAD-byte string) to random other clients.
 *       RATE 0: closed loop. Each client starts WINDOW messages; every
 *       delivery a client receives makes it send one more (N*WINDOW in
 *       flight), so this measures the most the server can relay.
 *       RATE > 0: open loop, RATE messages/s in all from random clients,
 *       paced every millisecond (at most N*WINDOW undelivered).
 *       After WARMUP s, counts deliveries for SECS s, and the CPU time
 *       (utime+stime, /proc/PID/stat) of CPUPID and its children, and
 *       the latency of those deliveries, from the client's send (queued
 *       for its socket) to the receiver's read: p50, p90, p99 and max.
 *       Each payload starts with a sequence number and the addressee, so a
 *       message delivered twice or to the wrong client counts as an error.
 *   loadgen msg   PORT NONLINE NTOTAL WINDOW WARMUP SECS PAYLOAD CPUPID
 *       Messaging (/messaging?client_id=mI): of the client_ids m0..mNTOTAL-1
 *       only m0..mNONLINE-1 connect. Each sends `send` frames of one message
 *       ({"id":SEQ,"sid":..,"rid":..,"body":PAYLOAD letters}) to random
 *       others among all NTOTAL; a message to an offline id is followed at
 *       once by another, until one goes to a connected id, so WINDOW messages
 *       to connected ids are in flight per client (closed loop) and about as
 *       many to offline ids are stored along the way. Every delivery frame
 *       is answered with a `read` frame for its ids, then each delivered
 *       message makes its receiver send the next. After WARMUP s, counts
 *       sends and deliveries for SECS s and the server's CPU (as chat); then
 *       stops sending, waits until every message to a connected id has
 *       arrived (and 0.3 s for the reads), and closes. Prints the totals
 *       sent to offline ids, so that the caller can compare them with the
 *       store. A message delivered twice or to the wrong id is an error.
 *   loadgen fill  PORT FROM TO COUNT PAYLOAD
 *       Connects to /messaging as FROM, sends COUNT messages (ids 0..COUNT-1,
 *       100 per `send` frame) to TO, closes cleanly.
 *   loadgen backlog PORT TO COUNT RUNS CPUPID
 *       RUNS times: connects to /messaging as TO and times from before
 *       connect() until COUNT messages have arrived (counted across frames
 *       of at most 500; they must be ids 0..COUNT-1 in order; at most 10 s),
 *       then closes cleanly without `read`, so the next run gets the same
 *       backlog. Prints each run's ms, the median (also of the time to the
 *       first message), and the server's CPU ms per run (processes alive at
 *       the end of each run, so including that run's worker; clock ticks,
 *       so only a rough figure).
 *
 * Results go to stdout as one line of key=value pairs.
 */
#include "loadgen.h"

/* ---- conn mode ---- */
static long conn_total, conn_started, conn_finished, conn_ok;
static int conn_done(void) { return conn_finished >= conn_total; }

static void conn_next(struct conn *c)
{
	while (conn_started < conn_total) {
		conn_started++;
		if (conn_open(c) == 0)
			return;
		conn_finished++;
	}
}

/* ---- idle / chat shared ---- */
static int nidentified;
int nended, nupgraded;
static char name_prefix = 'c';

static void send_identify(struct conn *c)
{
	char m[96];
	int n = snprintf(m, sizeof m, "{\"command\":\"identify\",\"name\":\"%c%d\"}", name_prefix, c->id);
	put_frame(c, 1, m, n);
}

/* ---- chat mode ---- */
static int window;
int running;		/* sending allowed */
long delivered, sent, seqno;	/* sent: for pacing; seqno: messages */
static double rate, pace_t0;
char payload[4096];
int payload_len;
unsigned char *seen;	/* bitmap of delivered sequence numbers */

static void send_message(struct conn *c)
{
	if (c->st != ST_OPEN)
		return;
	int to = rnd() % (nconns - 1);
	if (to >= c->id)
		to++;
	char m[4096 + 128];
	/* payload: "SSSSSSSSSS:TTTTT:" (sequence, addressee), then letters */
	char head[32];
	lat_sent(seqno);
	snprintf(head, sizeof head, "%010ld:%05d:", seqno++, to);
	memcpy(payload, head, 17);
	int n = snprintf(m, sizeof m, "{\"command\":\"message\",\"to\":\"c%d\",\"message\":\"%.*s\"}", to,
			 payload_len, payload);
	put_frame(c, 1, m, n);
	sent++;
}

/* Open loop: sends what the clock says is due, each from a random client. */
static void pace(double t)
{
	if (!running || rate <= 0)
		return;
	long due = (long)((t - pace_t0) * rate);
	if (due - sent > rate / 10)	/* fell behind by 100 ms: do not burst */
		sent = due - (long)(rate / 10);
	while (sent < due && seqno - delivered < (long)nconns * window) {
		struct conn *c = &conns[rnd() % nconns];
		if (c->st != ST_OPEN)
			return;
		send_message(c);
		if (flush(c) < 0)
			on_end(c);
	}
}


const char *conn_path(struct conn *c)
{
	static char p[300];
	if (mode == M_SOAK)
		return soak_path(c);
	if (mode == M_MSG)
		snprintf(p, sizeof p, "/messaging?client_id=m%d", c->id);
	else if (mode == M_FILL)
		snprintf(p, sizeof p, "/messaging?client_id=%s", msg_from);
	else if (mode == M_BACKLOG)
		snprintf(p, sizeof p, "/messaging?client_id=%s", msg_to);
	else if (mode == M_HOLD && strstr(path, "%d"))	/* one id per connection */
		snprintf(p, sizeof p, "%.*s%d%s", (int)(strstr(path, "%d") - path), path, c->id, strstr(path, "%d") + 2);
	else
		return path;
	return p;
}

void on_open(struct conn *c)
{
	nupgraded++;
	if (mode == M_CONN)
		send_close(c);
	else if (mode == M_FILL)
		fill_send(c);
	else if (mode == M_MSG)
		nopen++;
	/* wschat: wait for init */
}

void on_text(struct conn *c, const char *p, size_t n)
{
	if (mode == M_CONN || mode == M_FILL || mode == M_HOLD)
		return;
	if (mode == M_SOAK)
		return soak_on_text(c, p, n);
	if (mode == M_MSG || mode == M_BACKLOG)
		return msg_on_text(c, p, n);
	if (PREFIX(p, n, "{\"type\":\"message\"")) {
		delivered++;
		const char *q = memmem(p, n, ",\"message\":\"", 12);
		if (!q || (size_t)(p + n - q) < 12 + 17 + 2 || q[12 + 10] != ':' || q[12 + 16] != ':') {
			err("bad_delivery:%.*s", (int)(n < 120 ? n : 120), p);
		} else {
			long seq = strtol(q + 12, NULL, 10);
			int to = atoi(q + 12 + 11);
			if (to != c->id)
				err("misdelivered:seq_%ld_for_c%d_to_c%d", seq, to, c->id);
			else if (seq < 0 || seq >= MAXSEQ || !seen)
				err("bad_sequence:%ld", seq);
			else if (seen[seq >> 3] & (1 << (seq & 7)))
				err("duplicate:seq_%ld", seq);
			else {
				seen[seq >> 3] |= 1 << (seq & 7);
				lat_delivered(seq);
			}
		}
		if (running && rate <= 0)
			send_message(c);
	} else if (PREFIX(p, n, "{\"type\":\"init\"")) {
		send_identify(c);
	} else if (PREFIX(p, n, "{\"type\":\"outcome\"")) {
		if (memmem(p, n, "\"code\":300", 10))
			nidentified++;
		else
			err("outcome:%.*s", (int)(n < 120 ? n : 120), p);
	} else if (PREFIX(p, n, "{\"type\":\"quit\"")) {
		/* another client left (only during teardown) */
	} else {
		err("unexpected:%.*s", (int)(n < 120 ? n : 120), p);
	}
}

void on_end(struct conn *c)
{
	if (mode == M_CONN) {
		conn_finished++;
		if (c->got_close)
			conn_ok++;
		conn_next(c);
	} else {
		nended++;
	}
}

static int all_identified(void) { return nidentified + nended >= nconns; }
static int all_open(void) { return nopen + nended >= nconns; }
static int all_delivered(void) { return msg_delivered >= msg_sent_online || nended > 0 || stop_flag; }
static int backlog_done(void) { return msg_expect >= msg_count || nended > 0 || stop_flag; }
static int all_ended(void) { return nended >= nconns; }

static void open_all(int n)
{
	nconns = n;
	conns = calloc(n, sizeof *conns);
	for (int i = 0; i < n; i++) {
		conns[i].id = i;
		conns[i].fd = -1;
		if (conn_open(&conns[i]) < 0)
			nended++;
	}
}

/* ---- many connections: at most `inflight` not yet upgraded at a time, so
 * that 10 000 connections do not overflow the server's listen backlog ---- */
static int ramp_started, ramp_inflight;
static void ramp_tick(double t)
{
	(void)t;
	while (ramp_started < nconns && ramp_started - nupgraded - nended < ramp_inflight) {
		struct conn *c = &conns[ramp_started++];
		if (conn_open(c) < 0)
			nended++;
	}
}
static int ramp_done(void) { return stop_flag || (ramp_started >= nconns && nupgraded + nended >= nconns); }

/* Opens conns[0..n-1] (allocated here unless the caller did, ids and kinds set). */
void open_ramp(int n, int inflight, double secs)
{
	raise_nofile(n);
	if (!conns) {
		conns = calloc(n, sizeof *conns);
		if (!conns)
			die("out of memory");
		for (int i = 0; i < n; i++)
			conns[i].id = i;
	}
	for (int i = 0; i < n; i++)
		conns[i].fd = -1;
	nconns = n;
	/* LOADGEN_INFLIGHT: fewer at a time (a server may treat bursts apart) */
	const char *e = getenv("LOADGEN_INFLIGHT");
	ramp_inflight = e && atoi(e) > 0 ? atoi(e) : inflight;
	loop(ramp_done, now() + secs, ramp_tick);
}

void raise_nofile(long need)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)need + 64;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want;
	if (rl.rlim_max < want)
		rl.rlim_max = want;	/* needs root (CAP_SYS_RESOURCE) */
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		fprintf(stderr, "loadgen: cannot raise RLIMIT_NOFILE to %lu: %s\n", (unsigned long)want, strerror(errno));
}

static double hold_secs(void)
{
	const char *h = getenv("LOADGEN_HOLD_SECS");
	return h && atof(h) > 0 ? atof(h) : 120;
}

static void close_all(double secs) { close_conns(secs, all_ended); }

static void on_signal(int s) { (void)s; stop_flag = 1; }

/* Median of v[0..n-1] (sorts a copy); 0 for none. */
static double median(const double *v, int n)
{
	double s[100];
	if (n <= 0 || n > 100)
		return 0;
	for (int i = 0; i < n; i++) {
		int j = i;
		while (j > 0 && s[j - 1] > v[i]) {
			s[j] = s[j - 1];
			j--;
		}
		s[j] = v[i];
	}
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void usage(void)
{
	fprintf(stderr, "usage: loadgen conn PORT PATH N CONC\n"
		"       loadgen idle PORT N READYFILE [PREFIX]\n"
		"       loadgen hold PORT PATH N READYFILE\n"
		"       loadgen soak PORT NCHAT NMSG NECHO RATE PAYLOAD READYFILE\n"
		"       loadgen chat PORT N WINDOW RATE WARMUP SECS PAYLOAD CPUPID\n"
		"       loadgen msg PORT NONLINE NTOTAL WINDOW WARMUP SECS PAYLOAD CPUPID\n"
		"       loadgen fill PORT FROM TO COUNT PAYLOAD\n"
		"       loadgen backlog PORT TO COUNT RUNS CPUPID\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		usage();
	loadgen_signals_and_seed(on_signal);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	port = atoi(argv[2]);
	if (port <= 0 || port > 65535)
		usage();

	if (!strcmp(argv[1], "conn") && argc == 6) {
		mode = M_CONN;
		path = argv[3];
		conn_total = atol(argv[4]);
		int conc = atoi(argv[5]);
		if (conc > conn_total)
			conc = conn_total;
		nconns = conc;
		conns = calloc(conc, sizeof *conns);
		double t0 = now();
		for (int i = 0; i < conc; i++) {
			conns[i].id = i;
			conns[i].fd = -1;
			conn_next(&conns[i]);
		}
		loop(conn_done, t0 + 60, NULL);
		double t = now() - t0;
		printf("conns=%ld ok=%ld secs=%.3f rate=%.0f errors=%ld first_error=%s\n", conn_finished, conn_ok, t,
		       conn_ok / t, errors, first_error[0] ? first_error : "-");
		return conn_ok == conn_total ? 0 : 1;
	}
	if (getenv("LOADGEN_SRCS"))
		src_addrs = atoi(getenv("LOADGEN_SRCS")) > 1 ? atoi(getenv("LOADGEN_SRCS")) : 1;
	if (!strcmp(argv[1], "soak"))
		return soak_main(argc, argv);
	if (!strcmp(argv[1], "hold") && argc == 6) {
		mode = M_HOLD;
		path = argv[3];
		int n = atoi(argv[4]);
		if (n < 1)
			usage();
		open_ramp(n, 256, 900);
		write_ready(argv[5], nupgraded == n, "open=%d", nupgraded);
		loop(never, now() + hold_secs(), NULL);	/* until SIGTERM */
		close_all(5);
		return 0;
	}
	if (!strcmp(argv[1], "idle") && (argc == 5 || argc == 6)) {
		mode = M_IDLE;
		path = "/wschat";
		name_prefix = argc == 6 ? argv[5][0] : 'i';
		int n = atoi(argv[3]);
		if (n < 1)
			usage();
		open_ramp(n, 256, 900);
		loop(all_identified, now() + 300, NULL);
		write_ready(argv[4], nidentified == nconns, "identified=%d", nidentified);
		loop(never, now() + hold_secs(), NULL);	/* until SIGTERM */
		close_all(5);
		return 0;
	}
	if (!strcmp(argv[1], "chat") && argc == 10) {
		mode = M_CHAT;
		path = "/wschat";
		int n = atoi(argv[3]);
		window = atoi(argv[4]);
		rate = atof(argv[5]);
		double warm = atof(argv[6]), secs = atof(argv[7]);
		int plen = atoi(argv[8]);
		int cpupid = atoi(argv[9]);
		if (n < 2 || n > 99999 || window < 1 || (long)n * window >= LAT_RING || plen < 17 ||
		    plen >= (int)sizeof payload)
			usage();
		payload_len = plen;
		seen = calloc(MAXSEQ / 8, 1);
		lat_init();
		for (int i = 0; i < plen; i++)
			payload[i] = 'a' + i % 26;
		open_all(n);
		loop(all_identified, now() + 20, NULL);
		if (nidentified != n) {
			printf("delivered=0 secs=0 rate=0 cpu_us=0 us_per_msg=0 gen_us_per_msg=0 procs=0 errors=%ld "
			       "first_error=identify_failed(%d/%d):%s\n", errors, nidentified, n,
			       first_error[0] ? first_error : "-");
			close_all(2);
			return 1;
		}
		running = 1;
		pace_t0 = now();
		for (int w = 0; rate <= 0 && w < window; w++)
			for (int i = 0; i < n; i++)
				send_message(&conns[i]);
		for (int i = 0; i < n; i++)
			if (conns[i].fd >= 0 && flush(&conns[i]) < 0)
				on_end(&conns[i]);
		static struct window w;
		void (*tick)(double) = rate > 0 ? pace : NULL;
		loop(never, now() + warm, tick);
		long d0 = delivered;
		window_measure(&w, cpupid, secs, tick, &lat_on);
		long d = delivered - d0;
		running = 0;
		double el = w.secs, dd = d ? d : 1;
		printf("delivered=%ld secs=%.3f rate=%.0f cpu_us=%.0f us_per_msg=%.2f cs_per_msg=%.2f gen_us_per_msg=%.2f "
		       "procs=%d", d, el, d / el, w.cpu, w.cpu / dd, w.csw / dd, w.gen_us / dd, w.s1.n);
		print_split(&w.s0, &w.s1, dd);
		lat_print();
		printf(" errors=%ld first_error=%s\n", errors, first_error[0] ? first_error : "-");
		fflush(stdout);
		close_all(3);
		return errors ? 1 : 0;
	}
	if (!strcmp(argv[1], "msg") && argc == 10) {
		mode = M_MSG;
		int n = atoi(argv[3]);
		msg_total = atoi(argv[4]);
		window = atoi(argv[5]);
		double warm = atof(argv[6]), secs = atof(argv[7]);
		int plen = atoi(argv[8]);
		int cpupid = atoi(argv[9]);
		if (n < 1 || msg_total < 2 || msg_total < n || msg_total > 99999 || window < 1 || plen < 1 ||
		    plen >= (int)sizeof payload)
			usage();
		payload_len = plen;
		for (int i = 0; i < plen; i++)
			payload[i] = 'a' + i % 26;
		seen = calloc(MAXSEQ / 8, 1);
		open_all(n);
		loop(all_open, now() + 20, NULL);
		if (nopen != n) {
			printf("delivered=0 stored=0 secs=0 rate_stored=0 rate_delivered=0 cpu_us=0 us_per_msg=0 errors=%ld "
			       "first_error=open_failed(%d/%d):%s\n", errors, nopen, n, first_error[0] ? first_error : "-");
			close_all(2);
			return 1;
		}
		running = 1;
		for (int w = 0; w < window; w++)
			for (int i = 0; i < n; i++)
				msg_chain(&conns[i]);
		for (int i = 0; i < n; i++)
			if (conns[i].fd >= 0 && flush(&conns[i]) < 0)
				on_end(&conns[i]);
		static struct window w;
		loop(never, now() + warm, NULL);
		long d0 = msg_delivered, on0 = msg_sent_online, off0 = msg_sent_offline;
		window_measure(&w, cpupid, secs, NULL, NULL);
		long d = msg_delivered - d0, st = msg_sent_online - on0 + msg_sent_offline - off0;
		running = 0;
		/* drain: everything to online ids arrives, then their reads get through */
		loop(all_delivered, now() + 10, NULL);
		loop(never, now() + 0.3, NULL);
		double el = w.secs, ss = st ? st : 1;
		if (msg_delivered != msg_sent_online)
			err("undelivered:%ld", msg_sent_online - msg_delivered);
		printf("delivered=%ld stored=%ld secs=%.3f rate_delivered=%.0f rate_stored=%.0f cpu_us=%.0f us_per_msg=%.2f "
		       "cs_per_msg=%.2f gen_us_per_msg=%.2f procs=%d", d, st, el, d / el, st / el, w.cpu, w.cpu / ss,
		       w.csw / ss, w.gen_us / ss, w.s1.n);
		print_split(&w.s0, &w.s1, ss);
		printf(" sent_online_total=%ld sent_offline_total=%ld delivered_total=%ld errors=%ld first_error=%s\n",
		       msg_sent_online, msg_sent_offline, msg_delivered, errors, first_error[0] ? first_error : "-");
		fflush(stdout);
		close_all(3);
		return errors ? 1 : 0;
	}
	if (!strcmp(argv[1], "fill") && argc == 7) {
		mode = M_FILL;
		msg_from = argv[3];
		msg_to = argv[4];
		msg_count = atol(argv[5]);
		int plen = atoi(argv[6]);
		if (msg_count < 1 || plen < 1 || plen >= (int)sizeof payload || strlen(msg_from) > 128 ||
		    strlen(msg_to) > 128)
			usage();
		payload_len = plen;
		for (int i = 0; i < plen; i++)
			payload[i] = 'a' + i % 26;
		double t0 = now();
		open_all(1);
		loop(all_ended, t0 + 60, NULL);
		if (conns[0].fd >= 0) {
			err("fill_not_finished");
			conn_close(&conns[0]);
		}
		printf("sent=%ld secs=%.3f errors=%ld first_error=%s\n", msg_count, now() - t0, errors,
		       first_error[0] ? first_error : "-");
		return errors ? 1 : 0;
	}
	if (!strcmp(argv[1], "backlog") && argc == 7) {
		mode = M_BACKLOG;
		msg_to = argv[3];
		msg_count = atol(argv[4]);
		int runs = atoi(argv[5]), cpupid = atoi(argv[6]);
		if (msg_count < 1 || runs < 1 || runs > 100 || strlen(msg_to) > 128)
			usage();
		double ms[100], first_ms[100], cpu_ms = 0;
		int done = 0;
		static struct cpu_snap s0, s1;
		nconns = 1;
		conns = calloc(1, sizeof *conns);
		conns[0].fd = -1;
		printf("runs=%d count=%ld ms=", runs, msg_count);
		for (int r = 0; r < runs && !stop_flag; r++) {
			nended = 0;
			msg_expect = 0;
			msg_t_first = msg_t_done = 0;
			cpu_snapshot(cpupid, &s0);
			double t0 = now();
			if (conn_open(&conns[0]) < 0)
				break;
			loop(backlog_done, t0 + 10, NULL);
			ms[r] = ((msg_t_done ? msg_t_done : now()) - t0) * 1e3;
			first_ms[r] = ((msg_t_first ? msg_t_first : now()) - t0) * 1e3;
			cpu_snapshot(cpupid, &s1);
			double cpu, csw;
			cpu_delta(&s0, &s1, NULL, &cpu, &csw);
			cpu_ms += cpu / 1e3;
			if (msg_expect != msg_count)
				err("incomplete:%ld/%ld", msg_expect, msg_count);
			printf("%s%.1f", r ? "," : "", ms[r]);
			close_all(5);
			if (errors)
				break;
			done++;
		}
		double med = median(ms, done), min = done ? ms[0] : 0;
		for (int r = 1; r < done; r++)
			if (ms[r] < min)
				min = ms[r];
		printf(" median_ms=%.1f min_ms=%.1f first_frame_median_ms=%.1f rate=%.0f cpu_ms_per_run=%.1f errors=%ld "
		       "first_error=%s\n", med, min, median(first_ms, done), med > 0 ? msg_count / (med / 1e3) : 0,
		       done ? cpu_ms / done : 0, errors, first_error[0] ? first_error : "-");
		return errors || done < runs ? 1 : 0;
	}
	usage();
}
