/*
 * inject_syscall PID NR: makes process PID run system call NR (no
 * arguments) once, as an exploit in it would, and puts it back as it was.
 * Used by tests/e2e/sandbox.test.js to check the worker's seccomp filter.
 *
 * Why not gdb's `call`: gdb 13 cannot write the extended register state on
 * CPUs with AMX ("Couldn't write extended state status: Bad address"), so
 * the call never runs there. This touches the general registers only.
 *
 * How: attach (the worker is idle, so it is stopped inside a system call,
 * epoll_wait, with its instruction pointer just after a `syscall`
 * instruction), point the instruction pointer back at that instruction with
 * NR in rax, and put a breakpoint on the instruction after it. The call then
 * runs for real: the filter lets it through, kills the process (printed as
 * "killed by signal N"), or raises SIGSYS, which is passed on to the
 * worker's handler; the handler returns to the breakpoint. There the result
 * is printed ("result N"), the code and registers are restored, and the
 * kernel restarts the interrupted epoll_wait as if nothing had happened.
 * x86_64 only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__x86_64__)

static int fail(const char *what)
{
	fprintf(stderr, "inject_syscall: %s: %s\n", what, errno ? strerror(errno) : "unexpected");
	return 1;
}

/* Waits for the next stop of pid; returns its signal, 0 if pid ended. */
static int next_stop(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, __WALL) < 0)
		return -1;
	if (WIFSIGNALED(st)) {
		printf("killed by signal %d\n", WTERMSIG(st));
		return 0;
	}
	if (WIFEXITED(st)) {
		printf("exited with status %d\n", WEXITSTATUS(st));
		return 0;
	}
	return WSTOPSIG(st);
}

/* Attaches and waits until pid sits just after a syscall instruction. */
static int attach_in_syscall(pid_t pid, struct user_regs_struct *saved)
{
	for (int tries = 0; tries < 50; tries++) {
		if (ptrace(PTRACE_ATTACH, pid, 0, 0) < 0)
			return fail("attach");
		int sig;
		while ((sig = next_stop(pid)) != SIGSTOP)
			if (sig <= 0 || ptrace(PTRACE_CONT, pid, 0, sig) < 0)
				return fail("waiting for the stop");
		if (ptrace(PTRACE_GETREGS, pid, 0, saved) < 0)
			return fail("getregs");
		errno = 0;
		long word = ptrace(PTRACE_PEEKTEXT, pid, saved->rip - 2, 0);
		if (errno)
			return fail("peektext");
		if ((word & 0xffff) == 0x050f && (long long)saved->orig_rax >= 0)
			return 0;
		ptrace(PTRACE_DETACH, pid, 0, 0); /* busy just now: try again */
		usleep(20000);
	}
	errno = 0;
	return fail("never found idle in a system call");
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: inject_syscall PID NR\n");
		return 2;
	}
	pid_t pid = atoi(argv[1]);
	struct user_regs_struct saved, regs;
	if (attach_in_syscall(pid, &saved))
		return 1;
	unsigned long long after = saved.rip;
	errno = 0;
	long code = ptrace(PTRACE_PEEKTEXT, pid, after, 0);
	if (errno)
		return fail("peektext");
	if (ptrace(PTRACE_POKETEXT, pid, after, (code & ~0xffL) | 0xcc) < 0)
		return fail("poketext");
	regs = saved;
	regs.rip = after - 2;
	regs.rax = strtoull(argv[2], NULL, 10);
	regs.orig_rax = (unsigned long long)-1; /* no restart of the old call */
	if (ptrace(PTRACE_SETREGS, pid, 0, &regs) < 0)
		return fail("setregs");
	if (ptrace(PTRACE_CONT, pid, 0, 0) < 0)
		return fail("cont");
	for (;;) {
		int sig = next_stop(pid);
		if (sig == 0)
			return 0; /* the filter killed it */
		if (sig < 0)
			return fail("wait");
		if (sig != SIGTRAP) { /* SIGSYS for the handler, or anything else: theirs */
			if (ptrace(PTRACE_CONT, pid, 0, sig) < 0)
				return fail("cont");
			continue;
		}
		if (ptrace(PTRACE_GETREGS, pid, 0, &regs) < 0)
			return fail("getregs");
		if (regs.rip != after + 1) { /* a trap of its own */
			if (ptrace(PTRACE_CONT, pid, 0, sig) < 0)
				return fail("cont");
			continue;
		}
		printf("result %lld\n", (long long)regs.rax);
		break;
	}
	if (ptrace(PTRACE_POKETEXT, pid, after, code) < 0 || ptrace(PTRACE_SETREGS, pid, 0, &saved) < 0)
		return fail("restoring");
	if (ptrace(PTRACE_DETACH, pid, 0, 0) < 0)
		return fail("detach");
	return 0;
}

#else
int main(void)
{
	fprintf(stderr, "inject_syscall: x86_64 only\n");
	return 2;
}
#endif
