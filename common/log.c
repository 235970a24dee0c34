#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *log_ident = "switchboard";
static enum log_level log_max = LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_init(const char *ident)
{
	log_ident = ident;
	const char *env = getenv("SWITCHBOARD_LOG");
	int lvl = env ? log_level_parse(env) : -1;
	if (lvl >= 0)
		log_max = (enum log_level)lvl;
}

void log_set_level(enum log_level level) { log_max = level; }

int log_level_parse(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (level > log_max)
		return;
	/* One write per line so lines of concurrent processes do not interleave. */
	char line[1024];
	int n = snprintf(line, sizeof line, "%s[%d]: %s: ", log_ident, (int)getpid(),
			 level_names[level]);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof line - 2)
		len = sizeof line - 2;
	line[len++] = '\n';
	ssize_t w = write(2, line, len);
	(void)w;
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
