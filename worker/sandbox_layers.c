/*
 * The worker template's seccomp filter (enum sandbox_template), for the
 * build-time compiler worker/sandbox_gen.c.
 *
 * Why the template loads it: loading a filter is not cheap. The kernel
 * checks the program, converts and JIT-compiles it, works out its per-call
 * cache, and frees it through a workqueue and RCU when the process exits:
 * about 40 us of a connection, whatever the program's length. So the
 * template loads one filter, once, before its first fork, and every child
 * inherits it (a reference, at no cost) and loads nothing more, at its
 * upgrade neither: it runs under this filter from its first instruction to
 * its exit. A spawned worker (no template) loads the SANDBOX_HANDED list
 * alone, at its upgrade (worker/sandbox.c).
 *
 * So a forked, upgraded worker may make a few calls a spawned one may not:
 * the additions below, whole calls the list does not name at all (check()
 * fails the build otherwise: libseccomp would OR a rule without arguments
 * with the list's own, and widen it). Why that costs nothing: before its
 * upgrade a forked worker already parses the client's request (untrusted
 * bytes) under this very filter, so what a worker taken over can do was
 * bounded by it all along; a layer refusing the additions at the upgrade
 * narrowed it only for bugs in post-upgrade code. Each addition, for a
 * worker that runs code of an attacker:
 *
 * - clone with fork()'s flags only (no thread, no namespace, no vfork):
 *   RLIMIT_NPROC is 0 from the first instruction after the fork
 *   (sandbox_forked), hard limit too, so it fails with EAGAIN; and a child
 *   would inherit the same filter and limits.
 * - set_robust_list: the list of its own thread's futexes, for its own exit.
 * - wait4: only its own children, and it can have none.
 * - sendto with no address: write on a socket it holds (write is on the
 *   list): no datagram to anywhere else.
 * - dup2, dup3: another number for a descriptor it holds; no new object,
 *   and the number is below RLIMIT_NOFILE.
 * - prctl PR_SET_NAME: its own comm; it can write its own argv (what ps
 *   shows) anyway. No other prctl.
 * - getpeername: its own client's address, which it was told.
 * - setsockopt TCP_NODELAY (IPPROTO_TCP) only: the timing of its own
 *   socket's bytes. No other option (no SO_ATTACH_FILTER).
 * - epoll_create1: new descriptors, each watching only what the
 *   process holds. How many: RLIMIT_NOFILE, which
 *   sandbox_forked lowers to what a worker needs (worker/sandbox.c); each
 *   epoll watch also counts in the user's max_user_watches, as the
 *   epoll_ctl of the list does.
 * - rt_sigaction: its own handlers; SIGKILL cannot be caught, and
 *   rt_sigprocmask (on the list) can already hold back any other.
 * - prlimit64 on pid 0 (itself): a soft limit up to its hard limit, which
 *   it cannot raise: RLIMIT_NPROC, RLIMIT_FSIZE and RLIMIT_NOFILE are set
 *   hard (worker/sandbox.c).
 * - openat2 and pread64, in SANDBOX_TEMPLATE_FILES only: when a set-up
 *   opened a directory of files (--static-dir, a protocol's). Seccomp
 *   cannot read struct open_how, so this one is a real widening: any path
 *   the worker's uid can read, upgraded or not. Without such a directory
 *   the template loads SANDBOX_TEMPLATE_PLAIN, and no worker can open
 *   anything.
 *
 * Not among them: seccomp(2) itself. No worker loads a filter of its own;
 * one could only narrow this one, but would cost kernel work and memory.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>

#include "sandbox.h"

struct template_rule {
	int sys;
	unsigned n; /* argument comparisons in cmp */
	struct scmp_arg_cmp cmp[2];
};

#define EQ(i, v) {.arg = (i), .op = SCMP_CMP_EQ, .datum_a = (scmp_datum_t)(v)}

/* What a forked worker does between the fork and its upgrade (worker/
 * worker.c's set-up, worker/http.c's plain HTTP) that the list does not
 * allow. */
static const struct template_rule before_upgrade[] = {
	{SCMP_SYS(getpeername), 0, {{0}}},          /* the client's address, for the log */
	{SCMP_SYS(setsockopt), 2, {EQ(1, IPPROTO_TCP), EQ(2, TCP_NODELAY)}}, /* on the client */
	{SCMP_SYS(epoll_create1), 0, {{0}}},        /* the worker's own loop */
	{SCMP_SYS(rt_sigaction), 0, {{0}}},         /* its SIGTERM and SIGINT handler */
	{SCMP_SYS(prlimit64), 1, {EQ(0, 0)}},       /* its own limits, right after the fork */
};

/* The files of a set-up's directory, RESOLVE_BENEATH (SANDBOX_TEMPLATE_FILES). */
static const struct template_rule files[] = {
	{SCMP_SYS(openat2), 0, {{0}}},
	{SCMP_SYS(pread64), 0, {{0}}},
};

/* What the template does (worker/template.c), and a child in the first
 * instructions after the fork, before it is a worker. */
static const struct template_rule template_only[] = {
	/* fork() as the C library makes it: no thread, no namespace, no vfork */
	{SCMP_SYS(clone), 1, {EQ(0, CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID | SIGCHLD)}},
	{SCMP_SYS(set_robust_list), 0, {{0}}},      /* the C library, in the child */
	{SCMP_SYS(wait4), 0, {{0}}},                /* its children's ends */
	{SCMP_SYS(sendto), 2, {EQ(4, 0), EQ(5, 0)}}, /* answers: send(), never to an address */
	{SCMP_SYS(dup2), 0, {{0}}},                 /* the child's client on 0 and 1 */
	{SCMP_SYS(dup3), 0, {{0}}},                 /* dup2 where the kernel has no dup2 (arm64) */
	{SCMP_SYS(prctl), 1, {EQ(0, PR_SET_NAME)}}, /* the child's name */
};

#define COUNT(a) (sizeof a / sizeof a[0])

static const struct {
	const struct template_rule *r;
	size_t n;
} lists[] = {{before_upgrade, COUNT(before_upgrade)}, {template_only, COUNT(template_only)}, {files, COUNT(files)}};

static int add_all(scmp_filter_ctx ctx, const struct template_rule *r, size_t n)
{
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, r[i].sys, r[i].n, r[i].cmp);
	return rc;
}

static bool added_before(int sys, size_t list, size_t at)
{
	for (size_t l = 0; l <= list; l++)
		for (size_t i = 0; i < (l == list ? at : lists[l].n); i++)
			if (lists[l].r[i].sys == sys)
				return true;
	return false;
}

/* The additions must be calls the list does not name, and named once
 * (libseccomp's negative numbers stand for calls this architecture lacks). */
static int check(void)
{
	for (size_t l = 0; l < COUNT(lists); l++)
		for (size_t i = 0; i < lists[l].n; i++) {
			int sys = lists[l].r[i].sys;
			bool twice = added_before(sys, l, i);
			if (sys >= 0 && (twice || sandbox_rules_names(sys))) {
				fprintf(stderr, "sandbox_layers: system call %d is %s\n", sys,
					twice ? "added twice" : "on the worker's list already: a rule of ours would widen it");
				return -1;
			}
		}
	return 0;
}

scmp_filter_ctx sandbox_template_rules(enum sandbox_template t, bool log_only)
{
	scmp_filter_ctx ctx = sandbox_rules(SANDBOX_HANDED, log_only);
	if (!ctx)
		return NULL;
	int rc = check();
	if (rc == 0)
		rc = add_all(ctx, before_upgrade, COUNT(before_upgrade));
	if (rc == 0)
		rc = add_all(ctx, template_only, COUNT(template_only));
	if (rc == 0 && t == SANDBOX_TEMPLATE_FILES)
		rc = add_all(ctx, files, COUNT(files));
	if (rc != 0) {
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}
