/*
 * The worker's seccomp allowlist, as libseccomp rules. They are compiled to
 * BPF at build time (worker/sandbox_gen.c), not in every worker: libseccomp
 * spends a good part of a new connection's CPU building the same program.
 * From the moment the filter is on, the worker can only move bytes between
 * the sockets it has (and reconnect to the router).
 */
#include <stddef.h>
#include <sys/socket.h>

#include "sandbox.h"

static const int allowed[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(writev), SCMP_SYS(close),
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(timerfd_settime),
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep), SCMP_SYS(getrandom),
	SCMP_SYS(connect), SCMP_SYS(getsockopt), SCMP_SYS(setsockopt), SCMP_SYS(shutdown),
	SCMP_SYS(fcntl), SCMP_SYS(getpid), SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap),
	SCMP_SYS(mremap), SCMP_SYS(madvise), SCMP_SYS(futex), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(restart_syscall), SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(newfstatat), SCMP_SYS(fstat),
};

scmp_filter_ctx sandbox_rules(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return NULL;
	/* A binary tree instead of a list: every syscall of the worker runs the
	 * filter, and a list of this length costs a compare per entry. */
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	for (size_t i = 0; i < sizeof allowed / sizeof allowed[0] && rc == 0; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	/* new sockets only of the kinds the bus uses, for reconnects */
	static const int families[] = {AF_UNIX, AF_INET, AF_INET6};
	for (size_t i = 0; i < 3 && rc == 0; i++) {
		/* spelled out: clang's -Wextra rejects the SCMP_A0 macro's partial initializer */
		struct scmp_arg_cmp family = {.arg = 0, .op = SCMP_CMP_EQ, .datum_a = (scmp_datum_t)families[i], .datum_b = 0};
		rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, &family);
	}
	if (rc != 0) {
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}
