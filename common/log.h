/*
 * Logging to stderr, one line per event; journald / s6-log add timestamps.
 * Repeated messages are rate-limited (10 a second per format string, the
 * rest counted and summarised) and a full sink drops lines (counted) rather
 * than block; debug lines are never rate-limited. See log.c.
 */
#ifndef SB_LOG_H
#define SB_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_init(const char *ident);
void log_set_level(enum log_level level);
/* Parses "error", "warn", "info", "debug"; -1 when unknown. */
int log_level_parse(const char *name);
/* For a --log-level option: sets the level, or says why not and exits 2. */
void log_level_option(const char *name);
/* Logs the counts of rate-limited messages whose second is over; call now and then. */
void log_tick(void);
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Logs at error level and exits 111 (a system error, in skarnet's convention). */
_Noreturn void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
