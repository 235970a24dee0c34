/*
 * Enters the worker's seccomp sandbox once the client is upgraded and the
 * bus address is resolved: the filter with socket and connect when the
 * worker dials the bus itself, the one without under the supervisor. The filter was compiled from
 * worker/sandbox_rules.c by libseccomp at build time; loading it is two
 * system calls, which is all that is written by hand here.
 */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox_bpf.h" /* generated: sandbox_filter_dial[], sandbox_filter_handed[] */
#include "session.h"

int sandbox_enter(bool dial)
{
	struct sock_fprog prog = {
		.len = (unsigned short)(dial ? sizeof sandbox_filter_dial / sizeof sandbox_filter_dial[0]
					     : sizeof sandbox_filter_handed / sizeof sandbox_filter_handed[0]),
		.filter = (struct sock_filter *)(dial ? sandbox_filter_dial : sandbox_filter_handed),
	};
	/* no_new_privs lets an unprivileged process install a filter */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0 ? 0 : -1;
}
