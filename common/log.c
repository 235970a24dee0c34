/*
 * Logging, one line per event, for every program of switchboard.
 *
 * Where lines go (--log-to, log_set_sink):
 * - stderr, unless stderr is a client's connection: under inetd and xinetd
 *   fd 2 is the socket the client is on, and a log line there would reach
 *   the client inside its HTTP response or as a WebSocket frame. fd 2 counts
 *   as a connection when it is the same socket as fd 0 or fd 1, or any
 *   socket that is not AF_UNIX (a unix socket on fd 2 is a log pipe:
 *   journald's stream, a test harness's socketpair). Such an fd 2 is
 *   replaced by /dev/null at once, so that nothing else (an option error, a
 *   sanitizer's report) can reach the client either, and lines go to syslog.
 * - syslog: a datagram socket connected to /dev/log (--log-socket) when the
 *   option is read, so before any sandbox: afterwards a line is one write on
 *   a socket that is already open. The syslog daemon adds the time.
 * - none.
 *
 * What a line looks like (--log-format): text, "TIME prog[pid]: level:
 * message key=value ...", or json, one object per line. TIME is UTC with
 * milliseconds; it is left out when something downstream adds its own:
 * journald (JOURNAL_STREAM names fd 2) or s6-log (our parent is
 * s6-supervise and fd 2 is a pipe). The decision is put in the environment
 * (SWITCHBOARD_LOG_TIMESTAMPS=0/1), so the router and the workers the
 * supervisor starts make the same one; an operator may set it too.
 *
 * Two things keep a flood of log lines from hurting service:
 * - Rate limit: each message (told apart by its format string) gets
 *   LOG_BURST lines per second; the rest are counted, and the next line of
 *   that kind after the second is over says how many were left out.
 * - A slow sink never blocks: stderr is written without blocking (a pipe or
 *   tty is reopened with O_NONBLOCK through /proc/self/fd/2, so the flag is
 *   ours alone; a socket gets O_NONBLOCK itself, since it cannot be
 *   reopened; the syslog socket is ours). A line the sink cannot take now is
 *   dropped and counted, and the count is logged once it takes lines again.
 *   The router's one thread and a worker's loop never wait on whoever reads
 *   the log.
 *
 * Values from clients (paths, origins) are escaped: a line never holds a
 * control character, so no client can forge a line.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LOG_BURST 10     /* lines of one kind per second */
#define LOG_KINDS 32     /* kinds tracked at once; the stalest is forgotten */
#define LOG_LINE 2048
#define LOG_CTX 4        /* context fields (connection id, peer) */

static const char *log_ident = "switchboard";
static enum log_level log_max = LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const int syslog_severity[] = {3, 4, 6, 7}; /* err, warning, info, debug */
static enum log_sink sink_wanted = LOG_TO_AUTO;
static enum log_format log_fmt = LOG_FORMAT_TEXT;
static const char *syslog_path = "/dev/log";
static int log_fd = 2;       /* where lines go; -1: nowhere */
static int stderr_fd = 2;    /* stderr, non-blocking (maybe reopened) */
static int syslog_fd = -1;   /* connected to syslog_path */
static bool to_syslog;       /* log_fd is syslog_fd: lines get a <PRI> */
static bool stderr_unsafe;   /* fd 2 was a client's connection: never written */
static bool stamps = true;
static uint64_t log_dropped; /* lines the sink could not take */
static struct log_kv ctx[LOG_CTX];
static char ctx_val[LOG_CTX][64];
static int nctx;

struct log_kind {
	const char *fmt; /* NULL: free slot */
	enum log_level level;
	int64_t window_end; /* ms */
	int lines;          /* written in this window */
	int skipped;        /* left out in this window */
};
static struct log_kind kinds[LOG_KINDS];
/* the router's store has a checkpointer thread that may log */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool same_file(int a, int b)
{
	struct stat sa, sb;
	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* fd 2 is a client's connection (see the top of the file). */
static bool stderr_is_connection(void)
{
	struct stat st;
	if (fstat(2, &st) < 0 || !S_ISSOCK(st.st_mode))
		return false;
	if (same_file(2, 0) || same_file(2, 1))
		return true;
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (getsockname(2, (struct sockaddr *)&ss, &len) < 0)
		return true; /* a socket we cannot tell: not worth the risk */
	return ss.ss_family != AF_UNIX;
}

/* journald names its stream in JOURNAL_STREAM as "device:inode". Parsed with
 * strtoull, not sscanf: sscanf alone pulls about 40 KB of scanf and wide
 * character code into the static worker, which every connection maps. */
static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	struct stat st;
	char *end;
	if (!js || *js < '0' || *js > '9')
		return false;
	unsigned long long dev = strtoull(js, &end, 10);
	if (*end != ':' || end[1] < '0' || end[1] > '9')
		return false;
	unsigned long long ino = strtoull(end + 1, &end, 10);
	if (*end != '\0' || fstat(2, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* s6-supervise runs us directly (the run script execs), and s6-log reads the pipe. */
static bool under_s6_log(void)
{
	char path[64], comm[32] = "";
	snprintf(path, sizeof path, "/proc/%d/comm", (int)getppid());
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	bool s6 = fgets(comm, sizeof comm, f) && strncmp(comm, "s6-supervise", 12) == 0;
	fclose(f);
	struct stat st;
	return s6 && fstat(2, &st) == 0 && S_ISFIFO(st.st_mode);
}

static void decide_stamps(void)
{
	const char *env = getenv("SWITCHBOARD_LOG_TIMESTAMPS");
	if (env && (strcmp(env, "0") == 0 || strcmp(env, "1") == 0))
		stamps = env[0] == '1';
	else
		stamps = !stderr_is_journal() && !under_s6_log();
	setenv("SWITCHBOARD_LOG_TIMESTAMPS", stamps ? "1" : "0", 1); /* for our children */
}

/* stderr made non-blocking without touching a description others share. */
static void open_stderr(void)
{
	if (stderr_fd != 2)
		close(stderr_fd);
	stderr_fd = 2;
	struct stat st;
	if (fstat(2, &st) < 0)
		return;
	if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
		int fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (fd >= 0)
			stderr_fd = fd;
	} else if (S_ISSOCK(st.st_mode)) {
		int fl = fcntl(2, F_GETFL);
		if (fl >= 0)
			fcntl(2, F_SETFL, fl | O_NONBLOCK);
	}
	/* a regular file never makes us wait for a reader */
}

/* A connection on fd 2 is put out of reach: /dev/null takes its place. */
static void hide_connection(void)
{
	stderr_unsafe = true;
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null < 0 || dup2(null, 2) < 0)
		close(2); /* fd 2 then is the next file opened; still never the client */
	if (null >= 0 && null != 2)
		close(null);
}

static void close_syslog(void)
{
	if (syslog_fd >= 0)
		close(syslog_fd);
	syslog_fd = -1;
}

static int open_syslog(void)
{
	close_syslog();
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(syslog_path) >= sizeof sa.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, syslog_path);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	syslog_fd = fd;
	return 0;
}

/* Works out log_fd from what was asked and what fd 2 is. */
static void choose_sink(void)
{
	enum log_sink s = sink_wanted;
	if (s == LOG_TO_AUTO || (s == LOG_TO_STDERR && stderr_unsafe))
		s = stderr_unsafe ? LOG_TO_SYSLOG : LOG_TO_STDERR;
	to_syslog = false;
	log_fd = -1;
	if (s == LOG_TO_SYSLOG) {
		if (open_syslog() == 0) {
			log_fd = syslog_fd;
			to_syslog = true;
			return;
		}
		if (!stderr_unsafe) {
			log_fd = stderr_fd;
			log_warn("cannot reach syslog at %s (%s): logging to stderr", syslog_path, strerror(errno));
		}
		return;
	}
	close_syslog();
	if (s == LOG_TO_STDERR)
		log_fd = stderr_fd;
}

void log_init(const char *ident)
{
	log_ident = ident;
	const char *env = getenv("SWITCHBOARD_LOG");
	int lvl = env ? log_level_parse(env) : -1;
	if (lvl >= 0)
		log_max = (enum log_level)lvl;
	if (!stderr_unsafe && stderr_is_connection())
		hide_connection();
	decide_stamps();
	open_stderr(); /* again on a second call: fd 2 may be another file now */
	choose_sink();
}

void log_set_level(enum log_level level) { log_max = level; }

int log_level_parse(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

int log_set_sink(const char *name)
{
	static const char *const names[] = {"auto", "stderr", "syslog", "none"};
	for (int i = 0; i < 4; i++)
		if (strcmp(name, names[i]) == 0) {
			sink_wanted = (enum log_sink)i;
			choose_sink();
			return 0;
		}
	return -1;
}

int log_set_syslog_path(const char *path)
{
	if (!path[0])
		return -1;
	syslog_path = path;
	choose_sink(); /* the socket moved: connect to the new one if it is in use */
	return 0;
}

int log_set_format(const char *name)
{
	if (strcmp(name, "text") == 0)
		log_fmt = LOG_FORMAT_TEXT;
	else if (strcmp(name, "json") == 0)
		log_fmt = LOG_FORMAT_JSON;
	else
		return -1;
	return 0;
}

void log_set_timestamps(bool on) { stamps = on; }

int log_sink_fd(void) { return log_fd; }

void log_context(const char *key, const char *value)
{
	pthread_mutex_lock(&log_lock);
	int i = 0;
	while (i < nctx && strcmp(ctx[i].key, key) != 0)
		i++;
	if (i == nctx && nctx < LOG_CTX)
		nctx++;
	if (i < nctx) {
		snprintf(ctx_val[i], sizeof ctx_val[i], "%s", value);
		ctx[i] = (struct log_kv){key, ctx_val[i]};
	}
	pthread_mutex_unlock(&log_lock);
}

/* ---- composing a line ---- */

struct line {
	char b[LOG_LINE];
	size_t n;
};

static void put(struct line *l, const char *s, size_t k)
{
	if (k > LOG_LINE - 2 - l->n) /* room for the newline */
		k = LOG_LINE - 2 - l->n;
	memcpy(l->b + l->n, s, k);
	l->n += k;
}

static void puts_(struct line *l, const char *s) { put(l, s, strlen(s)); }

static void putf(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct line *l, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (m > 0)
		put(l, tmp, (size_t)m < sizeof tmp ? (size_t)m : sizeof tmp - 1);
}

enum esc { ESC_TEXT, ESC_QUOTED, ESC_JSON };

/* s escaped: control characters always; quotes and backslashes inside
 * quotes; in JSON also every byte past ASCII, so that the line is valid
 * whatever the client sent. */
static void put_escaped(struct line *l, const char *s, enum esc mode)
{
	bool json = mode == ESC_JSON;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned c = *p;
		if ((c == '"' || c == '\\') && mode != ESC_TEXT) {
			char e[2] = {'\\', (char)c};
			put(l, e, 2);
		} else if (c == '\n') {
			puts_(l, "\\n");
		} else if (c < 0x20 || c == 0x7f || (json && c >= 0x80)) {
			putf(l, json ? "\\u%04x" : "\\x%02x", c);
		} else {
			char ch = (char)c;
			put(l, &ch, 1);
		}
	}
}

static bool needs_quotes(const char *v)
{
	if (!v[0])
		return true;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p >= 0x7f)
			return true;
	return false;
}

static void put_field(struct line *l, const struct log_kv *kv)
{
	if (log_fmt == LOG_FORMAT_JSON) {
		puts_(l, ",\"");
		put_escaped(l, kv->key, ESC_JSON);
		puts_(l, "\":\"");
		put_escaped(l, kv->value, ESC_JSON);
		puts_(l, "\"");
		return;
	}
	putf(l, " %s=", kv->key);
	bool q = needs_quotes(kv->value);
	if (q)
		puts_(l, "\"");
	put_escaped(l, kv->value, q ? ESC_QUOTED : ESC_TEXT);
	if (q)
		puts_(l, "\"");
}

/*
 * UTC from the epoch by arithmetic, not gmtime_r: glibc's first gmtime_r
 * initialises the time zone, which opens /etc/localtime, and a worker in
 * its sandbox is killed for an open. The civil date from a day count is
 * Howard Hinnant's days-to-civil algorithm (eras of 400 years).
 */
static void put_time(struct line *l)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	long long secs = ts.tv_sec, days = secs / 86400, rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	long long z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	long long doe = z - era * 146097;
	long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
	long long d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9, y = yoe + era * 400 + (m <= 2);
	putf(l, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03ldZ", y, m, d, rem / 3600, rem / 60 % 60, rem % 60,
	     ts.tv_nsec / 1000000);
}

/* The start of a line: syslog's priority, the time, who, the level. */
static void put_head(struct line *l, enum log_level level)
{
	if (to_syslog)
		putf(l, "<%d>%s[%d]: ", 3 * 8 /* daemon */ + syslog_severity[level], log_ident, (int)getpid());
	if (log_fmt == LOG_FORMAT_JSON) {
		puts_(l, "{\"time\":\"");
		put_time(l);
		putf(l, "\",\"prog\":\"%s\",\"pid\":%d,\"level\":\"%s\",\"msg\":\"", log_ident, (int)getpid(),
		     level_names[level]);
		return;
	}
	if (!to_syslog) {
		if (stamps) {
			put_time(l);
			puts_(l, " ");
		}
		putf(l, "%s[%d]: ", log_ident, (int)getpid());
	}
	putf(l, "%s: ", level_names[level]);
}

/* After the message: the context, the event's fields, the end. */
static void put_tail(struct line *l, const struct log_kv *kv, int n, const char *note)
{
	if (log_fmt == LOG_FORMAT_JSON)
		puts_(l, "\"");
	for (int i = 0; i < nctx; i++)
		put_field(l, &ctx[i]);
	for (int i = 0; i < n; i++)
		if (kv[i].value)
			put_field(l, &kv[i]);
	if (note && note[0]) {
		if (log_fmt == LOG_FORMAT_JSON) {
			puts_(l, ",\"note\":\"");
			put_escaped(l, note, ESC_JSON);
			puts_(l, "\"");
		} else {
			putf(l, " (%s)", note);
		}
	}
	if (log_fmt == LOG_FORMAT_JSON) {
		if (l->n > LOG_LINE - 4) /* cut short: still one valid object */
			l->n = LOG_LINE - 4;
		puts_(l, "}");
	}
	l->b[l->n++] = '\n';
}

/* One write per line so lines of concurrent processes do not interleave. */
static void emit(const struct line *l)
{
	if (log_fd < 0)
		return;
	if (log_dropped) {
		struct line note = {.n = 0};
		put_head(&note, LOG_WARN);
		char msg[80];
		snprintf(msg, sizeof msg, "%llu log lines dropped: the log was full", (unsigned long long)log_dropped);
		put_escaped(&note, msg, log_fmt == LOG_FORMAT_JSON ? ESC_JSON : ESC_TEXT);
		put_tail(&note, NULL, 0, NULL);
		if (write(log_fd, note.b, note.n) != (ssize_t)note.n)
			return (void)log_dropped++;
		log_dropped = 0;
	}
	if (write(log_fd, l->b, l->n) != (ssize_t)l->n)
		log_dropped++; /* EAGAIN or worse: never wait, never retry */
}

static void compose(struct line *l, enum log_level level, const struct log_kv *kv, int n, const char *note,
		    const char *fmt, va_list ap)
{
	l->n = 0;
	put_head(l, level);
	char msg[LOG_LINE];
	vsnprintf(msg, sizeof msg, fmt, ap);
	put_escaped(l, msg, log_fmt == LOG_FORMAT_JSON ? ESC_JSON : ESC_TEXT);
	put_tail(l, kv, n, note);
}

/* ---- rate limit ---- */

/* The slot of fmt, or a new one (the stalest is taken when all are used). */
static struct log_kind *kind_of(const char *fmt, enum log_level level)
{
	struct log_kind *stalest = &kinds[0];
	for (int i = 0; i < LOG_KINDS; i++) {
		if (kinds[i].fmt == fmt)
			return &kinds[i];
		if (!kinds[i].fmt || kinds[i].window_end < stalest->window_end)
			stalest = &kinds[i];
		if (!kinds[i].fmt)
			break;
	}
	*stalest = (struct log_kind){.fmt = fmt, .level = level};
	return stalest;
}

static void compose_v(struct line *l, enum log_level level, const char *note, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void compose_v(struct line *l, enum log_level level, const char *note, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	compose(l, level, NULL, 0, note, fmt, ap);
	va_end(ap);
}

/* Says how many lines of a kind were left out, when nothing else did. */
static void summarise(struct log_kind *k)
{
	struct line l;
	compose_v(&l, k->level, NULL, "(%d more like \"%s\" in the last second)", k->skipped, k->fmt);
	emit(&l);
	k->skipped = 0;
}

void log_tick(void)
{
	int64_t now = now_ms();
	pthread_mutex_lock(&log_lock);
	for (int i = 0; i < LOG_KINDS && kinds[i].fmt; i++)
		if (kinds[i].skipped && now >= kinds[i].window_end)
			summarise(&kinds[i]);
	pthread_mutex_unlock(&log_lock);
}

/* Whether a line of this kind goes out now; *note gets the count left out before. */
static bool admit(const char *fmt, enum log_level level, char *note, size_t cap)
{
	int64_t now = now_ms();
	struct log_kind *k = kind_of(fmt, level);
	note[0] = 0;
	if (now >= k->window_end) {
		if (k->skipped)
			snprintf(note, cap, "%d more like this in the last second", k->skipped);
		k->window_end = now + 1000;
		k->lines = k->skipped = 0;
	}
	if (k->lines >= LOG_BURST) {
		k->skipped++;
		return false;
	}
	k->lines++;
	return true;
}

static void log_v(enum log_level level, const struct log_kv *kv, int n, const char *fmt, va_list ap)
{
	if (level > log_max)
		return;
	char note[80] = "";
	pthread_mutex_lock(&log_lock);
	/* debug lines were asked for: every one goes out */
	if (level == LOG_DEBUG || admit(fmt, level, note, sizeof note)) {
		struct line l;
		compose(&l, level, kv, n, note, fmt, ap);
		emit(&l);
	}
	pthread_mutex_unlock(&log_lock);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_v(level, NULL, 0, fmt, ap);
	va_end(ap);
}

void log_event(enum log_level level, const struct log_kv *kv, int n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_v(level, kv, n, fmt, ap);
	va_end(ap);
}

void log_from_signal(enum log_level level, const char *msg)
{
	struct line l;
	compose_v(&l, level, NULL, "%s", msg);
	emit(&l);
}

_Noreturn void log_fatal(const char *fmt, ...)
{
	struct line l;
	va_list ap;
	va_start(ap, fmt);
	pthread_mutex_lock(&log_lock);
	compose(&l, LOG_ERROR, NULL, 0, NULL, fmt, ap); /* never rate-limited: the last word */
	emit(&l);
	pthread_mutex_unlock(&log_lock);
	va_end(ap);
	exit(111);
}

void log_level_option(const char *name)
{
	int lvl = log_level_parse(name);
	if (lvl < 0) {
		fprintf(stderr, "%s: unknown log level %s (error, warn, info, debug)\n", log_ident, name);
		exit(2);
	}
	log_max = (enum log_level)lvl;
}
