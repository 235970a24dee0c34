/*
 * The worker template's seccomp layers (enum sandbox_layer), for the
 * build-time compiler worker/sandbox_gen.c.
 *
 * Why layers: loading a filter is not cheap on its own. The kernel checks
 * the program, converts and JIT-compiles it, and works out for each system
 * call number whether the answer is always "allow" (its per-filter cache);
 * and it frees the program when the process exits. A worker that loaded the
 * whole list at its upgrade spent about as long on that as on the rest of
 * its set-up. So the template loads the list once, before its first fork,
 * and every child inherits it (a reference, at no cost). The template and a
 * child before its upgrade need a few calls more than an upgraded worker
 * may make; the upgraded layer, stacked at the upgrade, refuses exactly
 * those. The kernel runs every filter of a process and keeps the strictest
 * answer, so an upgraded worker may make the SANDBOX_HANDED calls, with
 * their arguments, and nothing else, as a spawned worker.
 *
 * The additions are whole calls the worker's list does not name at all
 * (check() below fails the build otherwise): refusing one
 * outright at the upgrade can then take nothing from the list.
 *
 * Before its upgrade a forked worker also has RLIMIT_NPROC 0 from the first
 * instruction of its own (worker/sandbox.c), so the template's clone is of
 * no use to it.
 */
#include <fcntl.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>

#include "sandbox.h"

struct layer_rule {
	int sys;
	unsigned n; /* argument comparisons in cmp */
	struct scmp_arg_cmp cmp[2];
};

#define EQ(i, v) {.arg = (i), .op = SCMP_CMP_EQ, .datum_a = (scmp_datum_t)(v)}

/* What a forked worker does between the fork and its upgrade (worker/
 * worker.c's set-up, worker/http.c's plain HTTP, worker/sandbox.c's entry)
 * that the list does not allow. */
static const struct layer_rule before_upgrade[] = {
	{SCMP_SYS(getpeername), 0, {{0}}},          /* the client's address, for the log */
	{SCMP_SYS(setsockopt), 2, {EQ(1, IPPROTO_TCP), EQ(2, TCP_NODELAY)}}, /* on the client */
	{SCMP_SYS(epoll_create1), 0, {{0}}},        /* the worker's own loop and signals */
	{SCMP_SYS(signalfd4), 0, {{0}}},
	{SCMP_SYS(rt_sigaction), 0, {{0}}},
	{SCMP_SYS(openat2), 0, {{0}}},              /* --static-dir files, RESOLVE_BENEATH */
	{SCMP_SYS(pread64), 0, {{0}}},
	{SCMP_SYS(prlimit64), 1, {EQ(0, 0)}},       /* its own limits, at the upgrade */
	{SCMP_SYS(seccomp), 2, {EQ(0, SECCOMP_SET_MODE_FILTER), EQ(1, 0)}}, /* the upgraded layer */
};

/* What the template does (worker/template.c), and a child in the first
 * instructions after the fork, before it is a worker. */
static const struct layer_rule template_only[] = {
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

static int add_all(scmp_filter_ctx ctx, const struct layer_rule *r, size_t n)
{
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, r[i].sys, r[i].n, r[i].cmp);
	return rc;
}

static int refused[COUNT(before_upgrade) + COUNT(template_only)];

const int *sandbox_layer_refused(size_t *n)
{
	/* libseccomp's negative numbers stand for calls this architecture lacks */
	size_t k = 0;
	for (size_t i = 0; i < COUNT(before_upgrade); i++)
		if (before_upgrade[i].sys >= 0)
			refused[k++] = before_upgrade[i].sys;
	for (size_t i = 0; i < COUNT(template_only); i++)
		if (template_only[i].sys >= 0)
			refused[k++] = template_only[i].sys;
	*n = k;
	return refused;
}

/* The additions must be calls the list does not name, and named once. */
static int check(void)
{
	size_t n;
	const int *r = sandbox_layer_refused(&n);
	for (size_t i = 0; i < n; i++) {
		bool twice = false;
		for (size_t j = 0; j < i; j++)
			twice = twice || r[j] == r[i];
		if (twice || sandbox_rules_names(r[i])) {
			fprintf(stderr, "sandbox_layers: system call %d is %s\n", r[i],
				twice ? "added twice" : "on the worker's list already: the upgraded layer would refuse it");
			return -1;
		}
	}
	return 0;
}

scmp_filter_ctx sandbox_layer_rules(enum sandbox_layer layer, bool log_only)
{
	uint32_t refuse = log_only ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS;
	scmp_filter_ctx ctx;
	int rc;
	if (layer == SANDBOX_TEMPLATE) {
		if (!(ctx = sandbox_rules(SANDBOX_HANDED, log_only)))
			return NULL;
		rc = check();
		if (rc == 0)
			rc = add_all(ctx, before_upgrade, COUNT(before_upgrade));
		if (rc == 0)
			rc = add_all(ctx, template_only, COUNT(template_only));
	} else {
		if (!(ctx = seccomp_init(SCMP_ACT_ALLOW)))
			return NULL;
		size_t n;
		const int *r = sandbox_layer_refused(&n);
		/* a tree: the calls the kernel's cache cannot answer run every layer */
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = seccomp_rule_add(ctx, refuse, r[i], 0);
	}
	if (rc != 0) {
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}
