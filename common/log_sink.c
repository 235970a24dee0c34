/*
 * Where log lines go (--log-to, --log-socket), and whether they carry the
 * time. common/log.c composes the lines; this file picks and opens the sink.
 *
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
 * The time is left out when something downstream adds its own: journald
 * (JOURNAL_STREAM names fd 2) or s6-log (our parent is s6-supervise and fd 2
 * is a pipe). The decision is put in the environment
 * (SWITCHBOARD_LOG_TIMESTAMPS=0/1), so the router and the workers the
 * supervisor starts make the same one; an operator may set it too.
 *
 * A slow sink never blocks: a pipe or tty on fd 2 is reopened with
 * O_NONBLOCK through /proc/self/fd/2, so the flag is ours alone; a socket
 * gets O_NONBLOCK itself, since it cannot be reopened; the syslog socket is
 * ours.
 */
#include "log.h"
#include "log_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct log_out log_out = {.fd = 2, .stamps = true};

static enum log_sink sink_wanted = LOG_TO_AUTO;
static const char *syslog_path = "/dev/log";
static int stderr_fd = 2;    /* stderr, non-blocking (maybe reopened) */
static int syslog_fd = -1;   /* connected to syslog_path */
static bool stderr_unsafe;   /* fd 2 was a client's connection: never written */

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
		log_out.stamps = env[0] == '1';
	else
		log_out.stamps = !stderr_is_journal() && !under_s6_log();
	setenv("SWITCHBOARD_LOG_TIMESTAMPS", log_out.stamps ? "1" : "0", 1); /* for our children */
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

/* Works out log_out.fd from what was asked and what fd 2 is. */
static void choose_sink(void)
{
	enum log_sink s = sink_wanted;
	if (s == LOG_TO_AUTO || (s == LOG_TO_STDERR && stderr_unsafe))
		s = stderr_unsafe ? LOG_TO_SYSLOG : LOG_TO_STDERR;
	log_out.syslog = false;
	log_out.fd = -1;
	if (s == LOG_TO_SYSLOG) {
		if (open_syslog() == 0) {
			log_out.fd = syslog_fd;
			log_out.syslog = true;
			return;
		}
		if (!stderr_unsafe) {
			log_out.fd = stderr_fd;
			log_warn("cannot reach syslog at %s (%s): logging to stderr", syslog_path, strerror(errno));
		}
		return;
	}
	close_syslog();
	if (s == LOG_TO_STDERR)
		log_out.fd = stderr_fd;
}

void log_sink_init(void)
{
	if (!stderr_unsafe && stderr_is_connection())
		hide_connection();
	decide_stamps();
	open_stderr(); /* again on a second call: fd 2 may be another file now */
	choose_sink();
}

bool log_stderr_hidden(void)
{
	return stderr_unsafe;
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

void log_set_timestamps(bool on) { log_out.stamps = on; }

int log_sink_fd(void) { return log_out.fd; }
