/*
 * Where log lines go: shared by common/log.c, which composes the lines, and
 * common/log_sink.c, which picks and opens the sink. Every other file uses
 * common/log.h.
 */
#ifndef SB_LOG_SINK_H
#define SB_LOG_SINK_H

#include <stdbool.h>

struct log_out {
	int fd;      /* where lines go; -1: nowhere */
	bool syslog; /* fd is the syslog socket: a line starts with its <PRI> */
	bool stamps; /* a text line starts with the time */
};
extern struct log_out log_out;

/* Called by log_init: hides a client's connection on fd 2, decides on the
 * time stamps, opens stderr without blocking and picks the sink. */
void log_sink_init(void);

#endif
