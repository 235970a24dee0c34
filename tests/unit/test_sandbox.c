/*
 * worker/sandbox: the filter compiled at build time is loaded and enforced.
 * Each probe runs in a forked child, which enters the sandbox and then makes
 * one system call: an allowed one must work, a forbidden one must kill the
 * child with SIGSYS.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../worker/session.h"
#include "check.h"

enum probe { P_NOTHING, P_WRITE, P_UNIX_SOCKET, P_OPEN, P_GETPPID, P_NETLINK_SOCKET, P_EXECVE };

static void run_probe(enum probe p)
{
	int fd;
	switch (p) {
	case P_NOTHING: break;
	case P_WRITE: if (write(STDOUT_FILENO, "", 0) < 0) _exit(3); break;
	case P_UNIX_SOCKET: if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0) _exit(3); break;
	case P_OPEN: syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY); break;
	case P_GETPPID: syscall(SYS_getppid); break;
	case P_NETLINK_SOCKET: syscall(SYS_socket, AF_NETLINK, SOCK_RAW, 0); break;
	case P_EXECVE: syscall(SYS_execve, "/bin/true", (char *[]){"true", NULL}, (char *[]){NULL}); break;
	}
}

/* The child's wait status: exit 0 when the probe was allowed. */
static int probe_status(enum probe p)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (sandbox_enter() < 0)
			_exit(2);
		run_probe(p);
		/* the raw call: a sanitizer's _exit does more than the worker's sandbox allows */
		syscall(SYS_exit_group, 0);
	}
	int st = -1;
	if (pid > 0)
		waitpid(pid, &st, 0);
	return st;
}

static bool allowed(int st) { return WIFEXITED(st) && WEXITSTATUS(st) == 0; }
static bool killed(int st) { return WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS; }

void test_sandbox(void)
{
	CHECK("sandbox: loads, and exit is allowed", allowed(probe_status(P_NOTHING)));
	CHECK("sandbox: write is allowed", allowed(probe_status(P_WRITE)));
	CHECK("sandbox: an AF_UNIX socket (bus reconnect) is allowed", allowed(probe_status(P_UNIX_SOCKET)));
	CHECK("sandbox: opening a file kills the process", killed(probe_status(P_OPEN)));
	CHECK("sandbox: getppid (not on the list) kills the process", killed(probe_status(P_GETPPID)));
	CHECK("sandbox: an AF_NETLINK socket kills the process", killed(probe_status(P_NETLINK_SOCKET)));
	CHECK("sandbox: execve kills the process", killed(probe_status(P_EXECVE)));
}
