/*
 * Enters the worker's sandbox once the client is upgraded and the bus
 * address is resolved: resource limits first (no new process, no file
 * growth), then the seccomp filter for how the worker gets its bus
 * connections (enum sandbox_bus). The filters were compiled from
 * worker/sandbox_rules.c by libseccomp at build time; loading one is two
 * system calls, which is all that is written by hand here.
 *
 * A worker forked by the worker template has most of it already: the
 * template loaded its layer once, and the worker stacks a small one at its
 * upgrade (worker/sandbox_layers.c).
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
 * The worker template (worker/sandbox_layers.c says why): layered is set in
 * the template and so in every child it forks, with the template's
 * --sandbox-log. Its handler and no_new_privs are inherited too.
 */
static bool layered, layered_log;

int sandbox_template_enter(bool log_only)
{
	/* the template writes no file, nor will its children: inherited */
	if (no_file_growth() < 0)
		return -1;
	const int l = SANDBOX_TEMPLATE;
	if (load(sandbox_layers[l][log_only].f, sandbox_layers[l][log_only].n, log_only) < 0)
		return -1;
	layered = true;
	layered_log = log_only;
	return 0;
}

const int *sandbox_upgrade_refuses(size_t *n)
{
	*n = sizeof sandbox_layer_refused / sizeof sandbox_layer_refused[0];
	return sandbox_layer_refused;
}

int sandbox_forked(void)
{
	return layered ? setrlimit(RLIMIT_NPROC, &zero) : 0;
}

int sandbox_enter(enum sandbox_bus bus, bool log_only)
{
	if (bus >= SANDBOX_MODES)
		return -1;
	if (layered) {
		/* the limits are on since the fork; one filter of a few instructions */
		const int l = SANDBOX_UPGRADED;
		struct sock_fprog prog = {
			.len = (unsigned short)sandbox_layers[l][layered_log].n,
			.filter = (struct sock_filter *)sandbox_layers[l][layered_log].f,
		};
		if (bus != SANDBOX_HANDED)
			return -1;
		return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0 ? 0 : -1;
	}
	if (set_limits() < 0)
		return -1;
	return load(sandbox_filters[bus][log_only].f, sandbox_filters[bus][log_only].n, log_only);
}
