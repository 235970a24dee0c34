/*
 * Enters the worker's sandbox once the client is upgraded and the bus
 * address is resolved: resource limits first (no new process, no file
 * growth), then the seccomp filter for how the worker gets its bus
 * connections (enum sandbox_bus). The filters were compiled from
 * worker/sandbox_rules.c by libseccomp at build time; loading one is two
 * system calls, which is all that is written by hand here.
 *
 * A worker forked by the worker template has it all already: the template
 * loaded its filter once (worker/sandbox_layers.c says why, and why that
 * filter is enough), the child set its limits right after the fork
 * (sandbox_forked), and its upgrade loads nothing.
 *
 * --sandbox-log loads the trapping version instead: a call off the list
 * raises SIGSYS, whose handler logs the call by name and makes it fail with
 * ENOSYS, and the worker goes on. The call is still never made; only the
 * kill is left out. It is for finding what a new code path needs, not for
 * production (a worker that meets a refused call may go on in a state its
 * code did not expect).
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "../common/log.h"
#include "sandbox_bpf.h" /* generated: sandbox_filters[][2], sandbox_syscall_names[] */
#include "session.h"

/* Logs the refused call and sets its result to -ENOSYS. */
static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	int nr = si->si_syscall;
	const char *name = nr >= 0 && nr < SANDBOX_SYSCALL_NAMES ? sandbox_syscall_names[nr] : NULL;
	char msg[128];
	snprintf(msg, sizeof msg, "sandbox: system call %s (%d) is not allowed: it fails with ENOSYS (--sandbox-log)",
		 name ? name : "?", nr);
	log_from_signal(LOG_WARN, msg);
	ucontext_t *uc = ctx;
#if defined(__x86_64__)
	uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
#elif defined(__aarch64__)
	uc->uc_mcontext.regs[0] = (unsigned long long)-ENOSYS;
#else
	(void)uc;
#endif
}

/*
 * No new process (seccomp refuses fork and clone too; this holds if a filter
 * ever lets one through) and no file written past nothing. A log on a
 * regular file (2>>file) is the one file a worker writes: there the file
 * size limit is left alone, or every log line would fail.
 */
static const struct rlimit zero = {0, 0};

static int no_file_growth(void)
{
	struct stat st;
	int fd = log_sink_fd();
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		return 0;
	return setrlimit(RLIMIT_FSIZE, &zero);
}

static int set_limits(void)
{
	if (setrlimit(RLIMIT_NPROC, &zero) < 0)
		return -1;
	return no_file_growth();
}

/* Installs the trap handler for --sandbox-log, then no_new_privs (it lets an
 * unprivileged process install a filter) and the filter. */
static int load(const struct sock_filter *f, size_t n, bool log_only)
{
	if (log_only) {
		struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGSYS, &sa, NULL) < 0)
			return -1;
	}
	struct sock_fprog prog = {.len = (unsigned short)n, .filter = (struct sock_filter *)f};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0 ? 0 : -1;
}

/*
 * The worker template: set in the template and so in every child it forks.
 * Its filter, its --sandbox-log handler and no_new_privs are inherited.
 */
static bool forked_in_filter;

int sandbox_template_enter(bool files, bool log_only)
{
	/* the template writes no file, nor will its children: inherited */
	if (no_file_growth() < 0)
		return -1;
	const int t = files ? SANDBOX_TEMPLATE_FILES : SANDBOX_TEMPLATE_PLAIN;
	if (load(sandbox_templates[t][log_only].f, sandbox_templates[t][log_only].n, log_only) < 0)
		return -1;
	forked_in_filter = true;
	return 0;
}

/*
 * A forked worker's descriptors, at most: 0 and 1 (the client), 2, the log
 * sink, its bus control socket (3), its epoll, the bus
 * connection handed to it (and a new one while the old closes), a set-up's
 * directories and a file it is sending: about a dozen. Without a cap it
 * would have the supervisor's (raised to the hard limit, often a million),
 * and the template's filter lets it make epoll descriptors.
 * Hard as well as soft: prlimit64 on itself is allowed. A handed connection
 * that would not fit is dropped by the kernel (MSG_CTRUNC): the worker takes
 * it as a failed dial and asks again (worker/uplink.c).
 */
static const struct rlimit worker_fds = {64, 64};

int sandbox_forked(void)
{
	if (!forked_in_filter)
		return 0;
	if (setrlimit(RLIMIT_NPROC, &zero) < 0)
		return -1;
	struct rlimit now;
	if (getrlimit(RLIMIT_NOFILE, &now) == 0 && now.rlim_max <= worker_fds.rlim_max)
		return 0; /* lower already */
	return setrlimit(RLIMIT_NOFILE, &worker_fds);
}

int sandbox_enter(enum sandbox_bus bus, bool log_only)
{
	if (bus >= SANDBOX_MODES)
		return -1;
	if (forked_in_filter) /* the template's filter and the limits are on since the fork */
		return bus == SANDBOX_HANDED ? 0 : -1;
	if (set_limits() < 0)
		return -1;
	return load(sandbox_filters[bus][log_only].f, sandbox_filters[bus][log_only].n, log_only);
}
