/*
 * The worker's seccomp allowlist, as libseccomp rules. They are compiled to
 * BPF at build time (worker/sandbox_gen.c), not in every worker: libseccomp
 * spends a good part of a new connection's CPU building the same program.
 * From the moment the filter is on, the worker can only move bytes between
 * the sockets it has, and get a new bus connection: from the supervisor, or
 * (without one: inetd, tcpserver, systemd Accept=yes) by dialling the router
 * over the bus's own address family. Logging to syslog needs nothing more:
 * its socket is connected before the filter goes on, and a line is a write.
 *
 * Calls whose arguments choose what they do are allowed only with the
 * arguments the worker passes: fcntl(F_SETOWN) + F_SETSIG + O_ASYNC would let
 * a worker send any signal to any process of its uid, setsockopt could attach
 * a BPF program, mmap could map executable memory, and socket could open a
 * raw socket.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "sandbox.h"

/* Allowed whatever their arguments. */
static const int allowed[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(writev), SCMP_SYS(close),
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
	SCMP_SYS(poll), SCMP_SYS(ppoll),
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep), SCMP_SYS(getrandom),
	SCMP_SYS(shutdown), SCMP_SYS(getpid), SCMP_SYS(brk), SCMP_SYS(munmap),
	SCMP_SYS(mremap), SCMP_SYS(madvise), SCMP_SYS(futex), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(restart_syscall), SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(newfstatat), SCMP_SYS(fstat),
};

/* spelled out: clang's -Wextra rejects the SCMP_Ax macros' partial initializers */
static struct scmp_arg_cmp arg_eq(unsigned arg, scmp_datum_t v)
{
	return (struct scmp_arg_cmp){.arg = arg, .op = SCMP_CMP_EQ, .datum_a = v, .datum_b = 0};
}

/* (argument & mask) == want */
static struct scmp_arg_cmp arg_masked(unsigned arg, scmp_datum_t mask, scmp_datum_t want)
{
	return (struct scmp_arg_cmp){.arg = arg, .op = SCMP_CMP_MASKED_EQ, .datum_a = mask, .datum_b = want};
}

/* Every call a rule names, whatever its arguments: the template's filter
 * must add only calls not among them (sandbox_rules_names). */
static int named[64];
static size_t nnamed;

static int add(scmp_filter_ctx ctx, int sys, unsigned n, const struct scmp_arg_cmp *cmp)
{
	if (nnamed < sizeof named / sizeof named[0])
		named[nnamed++] = sys;
	else
		return -1;
	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, sys, n, cmp);
}

static int allow(scmp_filter_ctx ctx, int sys, unsigned n, struct scmp_arg_cmp a, struct scmp_arg_cmp b)
{
	struct scmp_arg_cmp cmp[2] = {a, b};
	return add(ctx, sys, n, cmp);
}

/*
 * fcntl: reading the flags, close-on-exec, and F_SETFL with nothing but
 * O_NONBLOCK among the flags F_SETFL can change (never O_ASYNC). F_SETOWN,
 * F_SETSIG, F_SETLEASE, F_NOTIFY, F_DUPFD and the locks are refused.
 */
static int fcntl_rules(scmp_filter_ctx ctx)
{
	const scmp_datum_t settable = O_APPEND | O_ASYNC | O_DIRECT | O_NOATIME;
	struct scmp_arg_cmp none = {0};
	int rc = allow(ctx, SCMP_SYS(fcntl), 1, arg_eq(1, F_GETFL), none);
	if (rc == 0)
		rc = allow(ctx, SCMP_SYS(fcntl), 1, arg_eq(1, F_GETFD), none);
	if (rc == 0)
		rc = allow(ctx, SCMP_SYS(fcntl), 2, arg_eq(1, F_SETFD), arg_masked(2, ~(scmp_datum_t)FD_CLOEXEC, 0));
	if (rc == 0)
		rc = allow(ctx, SCMP_SYS(fcntl), 2, arg_eq(1, F_SETFL), arg_masked(2, settable, 0));
	return rc;
}

/*
 * The socket calls of the bus uplink. Under the supervisor (SANDBOX_HANDED)
 * the worker opens no socket: it receives its bus connections over its
 * control socket (recvmsg) and only checks a connect's outcome (SO_ERROR).
 * Dialling itself, it may open stream sockets of the bus's families with
 * protocol 0 (so no raw, packet or netlink socket), connect, and set
 * TCP_NODELAY: for an ipc:// bus AF_UNIX alone, for tcp:// AF_INET and
 * AF_INET6 alone.
 */
static int socket_rules(scmp_filter_ctx ctx, enum sandbox_bus bus)
{
	struct scmp_arg_cmp none = {0};
	int rc = allow(ctx, SCMP_SYS(getsockopt), 2, arg_eq(1, SOL_SOCKET), arg_eq(2, SO_ERROR));
	if (bus == SANDBOX_HANDED)
		return rc == 0 ? allow(ctx, SCMP_SYS(recvmsg), 0, none, none) : rc;
	if (rc == 0 && bus == SANDBOX_DIAL_INET)
		rc = allow(ctx, SCMP_SYS(setsockopt), 2, arg_eq(1, IPPROTO_TCP), arg_eq(2, TCP_NODELAY));
	static const int unix_only[] = {AF_UNIX}, inet[] = {AF_INET, AF_INET6};
	const int *families = bus == SANDBOX_DIAL_UNIX ? unix_only : inet;
	size_t n = bus == SANDBOX_DIAL_UNIX ? 1 : 2;
	const scmp_datum_t type_mask = 0xffffffffu & ~(scmp_datum_t)(SOCK_NONBLOCK | SOCK_CLOEXEC);
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct scmp_arg_cmp cmp[3] = {arg_eq(0, (scmp_datum_t)families[i]),
					      arg_masked(1, type_mask, SOCK_STREAM), arg_eq(2, 0)};
		rc = add(ctx, SCMP_SYS(socket), 3, cmp);
	}
	if (rc == 0)
		rc = add(ctx, SCMP_SYS(connect), 0, NULL);
	return rc;
}

scmp_filter_ctx sandbox_rules(enum sandbox_bus bus, bool log_only)
{
	/* log_only: SIGSYS to the worker's handler (worker/sandbox.c), which logs
	 * the call and makes it fail with ENOSYS, instead of killing it */
	scmp_filter_ctx ctx = seccomp_init(log_only ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return NULL;
	/* A binary tree instead of a list: every syscall of the worker runs the
	 * filter, and a list of this length costs a compare per entry. */
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	nnamed = 0;
	for (size_t i = 0; i < sizeof allowed / sizeof allowed[0] && rc == 0; i++)
		rc = add(ctx, allowed[i], 0, NULL);
	/* memory, never executable: the worker loads no code after exec, and
	 * mprotect is not on the list at all (nothing it maps changes later) */
	struct scmp_arg_cmp none = {0};
	if (rc == 0)
		rc = allow(ctx, SCMP_SYS(mmap), 1, arg_masked(2, PROT_EXEC, 0), none);
	if (rc == 0)
		rc = fcntl_rules(ctx);
	if (rc == 0)
		rc = socket_rules(ctx, bus);
	if (rc != 0) {
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

bool sandbox_rules_names(int sys)
{
	for (size_t i = 0; i < nnamed; i++)
		if (named[i] == sys)
			return true;
	return false;
}
