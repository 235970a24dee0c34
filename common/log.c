/*
 * Logging to stderr, one line per event, for every program of switchboard.
 *
 * Two things keep a flood of log lines from hurting service:
 * - Rate limit: each message (told apart by its format string) gets
 *   LOG_BURST lines per second; the rest are counted, and the next line of
 *   that kind after the second is over says how many were left out.
 * - A slow sink never blocks: stderr is written without blocking (a pipe or
 *   tty is reopened with O_NONBLOCK through /proc/self/fd/2, so the flag is
 *   ours alone; a socket gets O_NONBLOCK itself, since it cannot be
 *   reopened). A line the sink cannot take now is dropped and counted, and
 *   the count is logged once it takes lines again. The router's one thread
 *   and a worker's loop never wait on whoever reads the log.
 */
#include "log.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_BURST 10     /* lines of one kind per second */
#define LOG_KINDS 32     /* kinds tracked at once; the stalest is forgotten */
#define LOG_LINE 1024

static const char *log_ident = "switchboard";
static enum log_level log_max = LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};
static int log_fd = 2;
static uint64_t log_dropped; /* lines the sink could not take */

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

/* stderr made non-blocking without touching a description others share. */
static void open_sink(void)
{
	if (log_fd != 2)
		close(log_fd);
	log_fd = 2;
	struct stat st;
	if (fstat(2, &st) < 0)
		return;
	if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
		int fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (fd >= 0)
			log_fd = fd;
	} else if (S_ISSOCK(st.st_mode)) {
		int fl = fcntl(2, F_GETFL);
		if (fl >= 0)
			fcntl(2, F_SETFL, fl | O_NONBLOCK);
	}
	/* a regular file never makes us wait for a reader */
}

void log_init(const char *ident)
{
	log_ident = ident;
	const char *env = getenv("SWITCHBOARD_LOG");
	int lvl = env ? log_level_parse(env) : -1;
	if (lvl >= 0)
		log_max = (enum log_level)lvl;
	open_sink(); /* again on a second call: fd 2 may be another file now */
}

void log_set_level(enum log_level level) { log_max = level; }

int log_level_parse(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

/* One write per line so lines of concurrent processes do not interleave. */
static void emit(const char *line, size_t len)
{
	if (log_dropped) {
		char note[128];
		int n = snprintf(note, sizeof note, "%s[%d]: warn: %llu log lines dropped: stderr was full\n",
				 log_ident, (int)getpid(), (unsigned long long)log_dropped);
		if (write(log_fd, note, (size_t)n) != n)
			return (void)log_dropped++;
		log_dropped = 0;
	}
	if (write(log_fd, line, len) != (ssize_t)len)
		log_dropped++; /* EAGAIN or worse: never wait, never retry */
}

static void format_line(char *line, size_t *len, enum log_level level, const char *suffix, const char *fmt,
			va_list ap)
{
	int n = snprintf(line, LOG_LINE, "%s[%d]: %s: ", log_ident, (int)getpid(), level_names[level]);
	int m = vsnprintf(line + n, LOG_LINE - (size_t)n - 1, fmt, ap);
	size_t l = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (l > LOG_LINE - 2)
		l = LOG_LINE - 2;
	if (suffix) {
		size_t k = strlen(suffix);
		if (l + k > LOG_LINE - 2)
			l = LOG_LINE - 2 - k;
		memcpy(line + l, suffix, k);
		l += k;
	}
	line[l++] = '\n';
	*len = l;
}

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

/* Says how many lines of a kind were left out, when nothing else did. */
static void summarise(struct log_kind *k)
{
	char line[LOG_LINE];
	int n = snprintf(line, sizeof line, "%s[%d]: %s: (%d more like \"%s\" in the last second)\n", log_ident,
			 (int)getpid(), level_names[k->level], k->skipped, k->fmt);
	size_t len = n < 0 ? 0 : (size_t)n >= sizeof line ? sizeof line - 1 : (size_t)n;
	if (len > 0 && line[len - 1] != '\n')
		line[len - 1] = '\n';
	emit(line, len);
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
			snprintf(note, cap, " (%d more like this in the last second)", k->skipped);
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

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (level > log_max)
		return;
	char line[LOG_LINE], note[80] = "";
	size_t len;
	pthread_mutex_lock(&log_lock);
	/* debug lines were asked for: every one goes out */
	if (level == LOG_DEBUG || admit(fmt, level, note, sizeof note)) {
		va_list ap;
		va_start(ap, fmt);
		format_line(line, &len, level, note[0] ? note : NULL, fmt, ap);
		va_end(ap);
		emit(line, len);
	}
	pthread_mutex_unlock(&log_lock);
}

_Noreturn void log_fatal(const char *fmt, ...)
{
	char line[LOG_LINE];
	size_t len;
	va_list ap;
	va_start(ap, fmt);
	pthread_mutex_lock(&log_lock);
	format_line(line, &len, LOG_ERROR, NULL, fmt, ap); /* never rate-limited: the last word */
	emit(line, len);
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
