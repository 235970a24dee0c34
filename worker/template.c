/*
 * The worker template (see template.h): an exec'd, set-up worker that never
 * serves a client itself. Per request it forks; the child takes the client
 * and its own bus control socket and goes on as a worker that has just
 * started, through the rest of worker/worker.c's main (its id, its
 * descriptors and loop, the sandbox when the client is upgraded). So the
 * exec, the C library's and libsodium's start-up, the options and every
 * protocol's setup happen once, and a new connection costs one fork of a
 * small, static process.
 *
 * What a child gets from the template is what every worker has anyway: the
 * options, the bus key (--bus-key -: the supervisor gives it to every
 * worker), directory descriptors opened by setups. The template reads
 * nothing from any client and keeps nothing of a request once it has forked,
 * so no client's state reaches another. Randomness is not inherited:
 * libsodium's default source is getrandom per call, and is stirred in the
 * child besides; connection ids come from getrandom in the child.
 *
 * The template is not dumpable (nor so its children): a worker that is taken
 * over before its upgrade cannot ptrace the template, and with it every
 * later connection, nor its siblings.
 *
 * The sandbox (unless --no-sandbox): the template loads its seccomp filter
 * once, before its first fork, and no child loads one: each inherits it,
 * is refused new processes (RLIMIT_NPROC 0) and held to a few descriptors
 * right after the fork, and keeps that filter to its exit, its upgrade
 * included (worker/sandbox_layers.c says what it allows beyond a spawned
 * worker's list, and why that is harmless; openat2 only with a directory
 * of files). So a forked worker runs under a filter from its first
 * instruction, plain HTTP included, where a spawned one has none before
 * its upgrade; and the template itself can do little more than fork: it
 * opens nothing, execs nothing, dials nothing.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/log.h"
#include "session.h"
#include "template.h"

static void tell(int ctl, char type, int32_t pid, int32_t value)
{
	struct template_msg m = {.type = type, .pid = pid, .value = value};
	for (;;) {
		/* blocking: the supervisor never waits on us, so it reads soon */
		ssize_t w = send(ctl, &m, sizeof m, MSG_NOSIGNAL);
		if (w == (ssize_t)sizeof m)
			return;
		if (w < 0 && errno == EINTR)
			continue;
		log_error("template: cannot answer the supervisor: %s", strerror(errno));
		exit(1); /* the supervisor restarts us; our children go on */
	}
}

/* 1: a request (its two descriptors, or -1 in *conn if they did not come
 * whole: it is answered 'n' all the same, the answers keep the order);
 * 0: nothing yet; -1: the supervisor hung up. */
static int take_request(int ctl, int *conn, int *wctl)
{
	char b;
	struct iovec iov = {&b, 1};
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(2 * sizeof(int))];
	} cm;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof cm.b};
	*conn = *wctl = -1;
	ssize_t r = recvmsg(ctl, &msg, MSG_CMSG_CLOEXEC);
	if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
		return -1;
	if (r < 0)
		return 0;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
		int fds[2];
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		memcpy(fds, CMSG_DATA(c), (n > 2 ? 2 : n) * sizeof(int));
		if (n == 2 && !(msg.msg_flags & MSG_CTRUNC) && b == 'c') {
			*conn = fds[0];
			*wctl = fds[1];
		} else {
			for (size_t i = 0; i < n && i < 2; i++)
				close(fds[i]);
		}
	}
	return 1;
}

/* In the child: the client on 0 and 1, its control socket on ctl's number. */
static void become_worker(int ctl, int sig_fd, int conn, int wctl)
{
	if (sandbox_forked() < 0)
		log_fatal("template: cannot set a worker's limits: %s", strerror(errno));
	close(sig_fd);
	if (dup2(conn, 0) < 0 || dup2(conn, 1) < 0 || dup2(wctl, ctl) < 0)
		log_fatal("template: cannot set up a worker: %s", strerror(errno));
	close(conn);
	close(wctl);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	randombytes_stir();
	prctl(PR_SET_NAME, "switchboard-wor", 0, 0, 0); /* as a spawned worker is named */
}

static void reap(int ctl, int sig_fd)
{
	struct signalfd_siginfo si;
	while (read(sig_fd, &si, sizeof si) == (ssize_t)sizeof si)
		;
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		tell(ctl, 'x', pid, status);
}

void template_run(int ctl, bool sandbox, bool sandbox_log)
{
	/* told apart from the workers in ps and /proc (comm is 15 bytes at most) */
	prctl(PR_SET_NAME, "switchboard-tpl", 0, 0, 0);
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		log_fatal("template: PR_SET_DUMPABLE: %s", strerror(errno));
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int sig_fd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sig_fd < 0)
		log_fatal("template: signalfd: %s", strerror(errno));
	if (sandbox && sandbox_template_enter(http_serves_files(), sandbox_log) < 0)
		log_fatal("template: cannot enter the sandbox: %s", strerror(errno));
	log_debug("template ready");
	for (;;) {
		struct pollfd p[2] = {{.fd = ctl, .events = POLLIN}, {.fd = sig_fd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_fatal("template: poll: %s", strerror(errno));
		}
		if (p[1].revents)
			reap(ctl, sig_fd);
		if (!p[0].revents)
			continue;
		int conn, wctl, got = take_request(ctl, &conn, &wctl);
		if (got < 0)
			exit(0); /* the supervisor is gone: our children finish on their own */
		if (got == 0)
			continue;
		if (conn < 0) { /* e.g. out of descriptors: MSG_CTRUNC */
			tell(ctl, 'n', 0, EMFILE);
			continue;
		}
		/* _Fork: the clone alone, without fork()'s locking of the C
		 * library (malloc's arenas, the loader's and stdio's locks) around
		 * it and its atfork handlers. Those are for other threads, and the
		 * template has none: what they write is pages that both sides would
		 * then copy on their next write, once per connection. */
		pid_t pid = _Fork();
		if (pid == 0) {
			become_worker(ctl, sig_fd, conn, wctl);
			return;
		}
		int err = errno;
		close(conn);
		close(wctl);
		if (pid < 0)
			tell(ctl, 'n', 0, err);
		else
			tell(ctl, 'p', pid, 0);
	}
}
