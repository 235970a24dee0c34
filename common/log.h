/*
 * Logging, one line per event, to stderr, syslog or nowhere (--log-to), as
 * text or JSON (--log-format), with a UTC timestamp unless journald or
 * s6-log add their own. Never to a client's connection: an fd 2 that is one
 * (inetd, xinetd) is replaced by /dev/null at log_init. Repeated messages
 * are rate-limited (10 a second per format string, the rest counted and
 * summarised) and a full sink drops lines (counted) rather than block;
 * debug lines are never rate-limited. See log.c.
 */
#ifndef SB_LOG_H
#define SB_LOG_H
#include <stdbool.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

enum log_sink { LOG_TO_AUTO, LOG_TO_STDERR, LOG_TO_SYSLOG, LOG_TO_NONE };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

/* A field of an event: key=value in text, "key":"value" in JSON. A NULL value is left out. */
struct log_kv {
	const char *key, *value;
};

void log_init(const char *ident);
/* --log-to: "auto" (stderr unless it is a connection, then syslog), "stderr",
 * "syslog" or "none"; -1 when unknown. Connects to syslog now. */
int log_set_sink(const char *name);
/* --log-socket: the syslog socket (default /dev/log); -1 when empty. */
int log_set_syslog_path(const char *path);
/* --log-format: "text" or "json"; -1 when unknown. */
int log_set_format(const char *name);
void log_set_timestamps(bool on);
/* True when fd 2 was a client's connection and is /dev/null now (inetd):
 * what a program would print on stderr, an option error, must be logged. */
bool log_stderr_hidden(void);
/* The descriptor lines are written to, -1 for none (for a signal handler's own line). */
int log_sink_fd(void);
/* A field added to every later line of this process (the worker's connection id and peer). */
void log_context(const char *key, const char *value);
void log_set_level(enum log_level level);
/* Parses "error", "warn", "info", "debug"; -1 when unknown. */
int log_level_parse(const char *name);
/* For a --log-level option: sets the level, or says why not and exits 2. */
void log_level_option(const char *name);
/* Logs the counts of rate-limited messages whose second is over; call now and then. */
void log_tick(void);
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A line with fields after the message (rate-limited by fmt, as log_msg). */
void log_event(enum log_level level, const struct log_kv *kv, int n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* One line from a signal handler: no lock, no rate limit (the worker's
 * --sandbox-log trap; the worker has one thread). */
void log_from_signal(enum log_level level, const char *msg);

/* Logs at error level and exits 111 (a system error, in skarnet's convention). */
_Noreturn void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
