/*
 * Logging, one line per event, for every program of switchboard.
 *
 * Where lines go (--log-to) and whether they carry the time is
 * common/log_sink.c's business; this file composes the lines.
 *
 * What a line looks like (--log-format): text, "TIME prog[pid]: level:
 * message key=value ...", or json, one object per line. TIME is UTC with
 * milliseconds, unless the sink's reader adds its own (log_sink.c).
 *
 * Two things keep a flood of log lines from hurting service:
 * - Rate limit: each message (told apart by its format string) gets
 *   LOG_BURST lines per second; the rest are counted, and the next line of
 *   that kind after the second is over says how many were left out.
 * - A slow sink never blocks: every sink is written without blocking
 *   (log_sink.c). A line the sink cannot take now is
 *   dropped and counted, and the count is logged once it takes lines again.
 *   The router's one thread and a worker's loop never wait on whoever reads
 *   the log.
 *
 * Values from clients (paths, origins) are escaped: a line never holds a
 * control character, so no client can forge a line.
 */
#include "log.h"
#include "log_sink.h"
#include "numfmt.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
static enum log_format log_fmt = LOG_FORMAT_TEXT;
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

void log_init(const char *ident)
{
	log_ident = ident;
	const char *env = getenv("SWITCHBOARD_LOG");
	int lvl = env ? log_level_parse(env) : -1;
	if (lvl >= 0)
		log_max = (enum log_level)lvl;
	log_sink_init();
}

void log_set_level(enum log_level level) { log_max = level; }

int log_level_parse(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
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

void log_context(const char *key, const char *value)
{
	pthread_mutex_lock(&log_lock);
	int i = 0;
	while (i < nctx && strcmp(ctx[i].key, key) != 0)
		i++;
	if (i == nctx && nctx < LOG_CTX)
		nctx++;
	if (i < nctx) {
		size_t n = strnlen(value, sizeof ctx_val[i] - 1);
		memcpy(ctx_val[i], value, n);
		ctx_val[i][n] = 0;
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

/* v in decimal, zero-padded to width digits: the head of every line is
 * written this way, not with snprintf (a worker logs a few lines per
 * connection, and formatting them was most of its own instructions). */
static void put_uint(struct line *l, unsigned long long v, int width)
{
	char d[24];
	put(l, d, fmt_uint(d, v, 10, width < 24 ? width : 24));
}

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
	puts_(l, " ");
	puts_(l, kv->key);
	puts_(l, "=");
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
	const long long part[7] = {y, m, d, rem / 3600, rem / 60 % 60, rem % 60, ts.tv_nsec / 1000000};
	static const char after[7] = "--T::.Z";
	for (int i = 0; i < 7; i++) {
		put_uint(l, part[i] < 0 ? 0 : (unsigned long long)part[i], i == 0 ? 4 : i == 6 ? 3 : 2);
		put(l, &after[i], 1);
	}
}

/* "IDENT[PID]" */
static void put_who(struct line *l)
{
	puts_(l, log_ident);
	puts_(l, "[");
	put_uint(l, (unsigned long long)getpid(), 1);
	puts_(l, "]");
}

/* The start of a line: syslog's priority, the time, who, the level. */
static void put_head(struct line *l, enum log_level level)
{
	if (log_out.syslog) {
		puts_(l, "<");
		put_uint(l, (unsigned long long)(3 * 8 /* daemon */ + syslog_severity[level]), 1);
		puts_(l, ">");
		put_who(l);
		puts_(l, ": ");
	}
	if (log_fmt == LOG_FORMAT_JSON) {
		puts_(l, "{\"time\":\"");
		put_time(l);
		putf(l, "\",\"prog\":\"%s\",\"pid\":%d,\"level\":\"%s\",\"msg\":\"", log_ident, (int)getpid(),
		     level_names[level]);
		return;
	}
	if (!log_out.syslog) {
		if (log_out.stamps) {
			put_time(l);
			puts_(l, " ");
		}
		put_who(l);
		puts_(l, ": ");
	}
	puts_(l, level_names[level]);
	puts_(l, ": ");
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
	if (log_out.fd < 0)
		return;
	if (log_dropped) {
		struct line note = {.n = 0};
		put_head(&note, LOG_WARN);
		char msg[80];
		snprintf(msg, sizeof msg, "%llu log lines dropped: the log was full", (unsigned long long)log_dropped);
		put_escaped(&note, msg, log_fmt == LOG_FORMAT_JSON ? ESC_JSON : ESC_TEXT);
		put_tail(&note, NULL, 0, NULL);
		if (write(log_out.fd, note.b, note.n) != (ssize_t)note.n)
			return (void)log_dropped++;
		log_dropped = 0;
	}
	if (write(log_out.fd, l->b, l->n) != (ssize_t)l->n)
		log_dropped++; /* EAGAIN or worse: never wait, never retry */
}

/* Apart, and not inlined: its buffer would make every line's frames a page
 * deeper, a page each forked worker writes anew (issue 12). */
static __attribute__((noinline)) void put_formatted(struct line *l, const char *fmt, va_list ap)
{
	char msg[LOG_LINE];
	vsnprintf(msg, sizeof msg, fmt, ap);
	put_escaped(l, msg, log_fmt == LOG_FORMAT_JSON ? ESC_JSON : ESC_TEXT);
}

static void compose(struct line *l, enum log_level level, const struct log_kv *kv, int n, const char *note,
		    const char *fmt, va_list ap)
{
	l->n = 0;
	put_head(l, level);
	if (strchr(fmt, '%'))
		put_formatted(l, fmt, ap);
	else /* most events ("connect", "close") are plain words */
		put_escaped(l, fmt, log_fmt == LOG_FORMAT_JSON ? ESC_JSON : ESC_TEXT);
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
