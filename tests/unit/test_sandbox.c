/*
 * worker/sandbox: the filter compiled at build time is loaded and enforced.
 * Each probe runs in a forked child, which enters the sandbox and then makes
 * one system call: an allowed one must work, a forbidden one must kill the
 * child with SIGSYS.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../common/log.h"
#include "../../worker/session.h"
#include "check.h"

/* A socket for the fcntl probes, made before the sandbox. */
static int probe_fd = -1;

static void must(bool ok)
{
	if (!ok)
		syscall(SYS_exit_group, 3);
}

static void p_nothing(void) {}
static void p_write(void) { must(write(STDOUT_FILENO, "", 0) == 0); }
static void p_unix_socket(void) { must(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) >= 0); }
static void p_tcp_socket(void) { must(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0) >= 0); }
static void p_open(void) { syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY); }
static void p_getppid(void) { syscall(SYS_getppid); }
static void p_netlink(void) { syscall(SYS_socket, AF_NETLINK, SOCK_RAW, 0); }
static void p_packet(void) { syscall(SYS_socket, AF_PACKET, SOCK_RAW, 0); }
static void p_raw_inet(void) { syscall(SYS_socket, AF_INET, SOCK_RAW, IPPROTO_TCP); }
static void p_unix_dgram(void) { syscall(SYS_socket, AF_UNIX, SOCK_DGRAM, 0); }
static void p_sctp(void) { syscall(SYS_socket, AF_INET, SOCK_STREAM, IPPROTO_SCTP); }
static void p_execve(void) { syscall(SYS_execve, "/bin/true", (char *[]){"true", NULL}, (char *[]){NULL}); }
static void p_getfl(void) { must(fcntl(probe_fd, F_GETFL) >= 0); }
static void p_nonblock(void) { must(fcntl(probe_fd, F_SETFL, fcntl(probe_fd, F_GETFL) | O_NONBLOCK) == 0); }
static void p_cloexec(void) { must(fcntl(probe_fd, F_SETFD, FD_CLOEXEC) == 0 && fcntl(probe_fd, F_GETFD) == FD_CLOEXEC); }
static void p_setown(void) { syscall(SYS_fcntl, probe_fd, F_SETOWN, 1); }
static void p_setown_ex(void) { syscall(SYS_fcntl, probe_fd, F_SETOWN_EX, 0); }
static void p_setsig(void) { syscall(SYS_fcntl, probe_fd, F_SETSIG, SIGKILL); }
static void p_async(void) { syscall(SYS_fcntl, probe_fd, F_SETFL, O_NONBLOCK | O_ASYNC); }
static void p_dupfd(void) { syscall(SYS_fcntl, probe_fd, F_DUPFD, 100); }
static void p_kill(void) { syscall(SYS_kill, 1, 0); }
static void p_tgkill(void) { syscall(SYS_tgkill, 1, 1, 0); }
static void p_ioctl(void) { syscall(SYS_ioctl, probe_fd, FIOASYNC, &(int){1}); }
static void p_prctl(void) { syscall(SYS_prctl, PR_SET_DUMPABLE, 1, 0, 0, 0); }
static void p_nodelay(void)
{
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
	must(fd >= 0 && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
}
static void p_attach_filter(void)
{
	struct sock_fprog prog = {0};
	syscall(SYS_setsockopt, probe_fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
}
static void p_mmap_rw(void)
{
	must(mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != MAP_FAILED);
}
static void p_mmap_exec(void) { syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); }
static void p_mprotect(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	syscall(SYS_mprotect, p, 4096, PROT_READ | PROT_EXEC);
}

static void p_connect(void)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX, .sun_path = "/nonexistent"};
	syscall(SYS_connect, probe_fd, &sun, sizeof sun);
}
static void p_recvmsg(void)
{
	char b;
	struct iovec iov = {&b, 1};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	must(recvmsg(probe_fd, &msg, MSG_DONTWAIT) < 0 && errno == EAGAIN);
}
/* connect may fail, it must not kill: the bus may be down */
static void p_connect_ok(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX, .sun_path = "/nonexistent"};
	must(fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0);
}
/* a file opened before the sandbox cannot grow: RLIMIT_FSIZE is 0 (SIGXFSZ) */
static int probe_file = -1;
static void p_file_write(void) { must(write(probe_file, "x", 1) == 1); }
static void p_nodelay_set(void)
{
	int one = 1;
	syscall(SYS_setsockopt, probe_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* the worker template's filter (worker/sandbox_layers.c) */
static void p_nproc_zero(void)
{
	struct rlimit r;
	must(getrlimit(RLIMIT_NPROC, &r) == 0 && r.rlim_cur == 0 && r.rlim_max == 0);
}
/* a small descriptor limit, hard too: prlimit64 on itself cannot raise it
 * (unless the tests run with CAP_SYS_RESOURCE, as a worker never does) */
static bool can_raise_hard;
static void p_nofile_small(void)
{
	struct rlimit r, up = {1024, 1024};
	must(getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur == r.rlim_max && r.rlim_max <= 64 &&
	     r.rlim_max >= 16 && (can_raise_hard || (setrlimit(RLIMIT_NOFILE, &up) < 0 && errno == EPERM)));
}
static bool raises_hard_limit(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit down = {64, 64}, up = {1024, 1024};
		_exit(setrlimit(RLIMIT_NOFILE, &down) == 0 && setrlimit(RLIMIT_NOFILE, &up) == 0);
	}
	int st = 0;
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 1;
}
static void p_openat2(void)
{
	struct open_how how = {.flags = O_RDONLY | O_DIRECTORY, .resolve = RESOLVE_BENEATH};
	must(syscall(SYS_openat2, AT_FDCWD, ".", &how, sizeof how) >= 0);
}
static void p_pread(void)
{
	char c;
	must(pread(probe_file, &c, 1, 0) == 0);
}
/* the worker's loop takes SIGTERM in epoll_pwait: no signalfd is made */
static void p_signalfd(void)
{
	sigset_t set;
	sigemptyset(&set);
	syscall(SYS_signalfd4, -1, &set, sizeof(uint64_t), 0);
}
static void p_seccomp(void)
{
	struct sock_filter allow = {BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW};
	struct sock_fprog prog = {1, &allow};
	syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}
static void p_prlimit_other(void) { syscall(SYS_prlimit64, 1, RLIMIT_NOFILE, NULL, &(struct rlimit){0}); }
static void p_enter_dial(void) { must(sandbox_enter(SANDBOX_DIAL_INET, false) < 0); }
static void p_clone_ns(void) { syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0L, 0L, 0L, 0L); }
static void p_sendto_addr(void)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX, .sun_path = "/nonexistent"};
	syscall(SYS_sendto, probe_fd, "x", 1L, 0L, &sun, (long)sizeof sun);
}

/* Which filter the probes run under: the worker that dials the bus itself
 * (over tcp:// or ipc://), or the one the supervisor hands its connections to. */
static enum sandbox_bus probe_bus = SANDBOX_DIAL_INET;

/* How the probe's process got its sandbox: spawned (sandbox_enter alone), or
 * forked by a template under its filter, before its upgrade or after it;
 * probe_files: the template's filter for a worker that serves files. */
static enum { SPAWNED, FORKED, UPGRADED } probe_stage = SPAWNED;
static bool probe_files;

/* In the probe's process: its sandbox, the probe, exit 0. */
static void run_probe(void (*probe)(void))
{
	if (probe_stage == SPAWNED ? sandbox_enter(probe_bus, false) < 0
				   : sandbox_forked() < 0 || (probe_stage == UPGRADED &&
							      sandbox_enter(SANDBOX_HANDED, false) < 0))
		syscall(SYS_exit_group, 2);
	probe();
	/* the raw call: a sanitizer's _exit does more than the worker's sandbox allows */
	syscall(SYS_exit_group, 0);
}

/* As the worker template: its layer, one child, the child's end passed on
 * as the exit status (128 + the signal). */
static void run_template(void (*probe)(void))
{
	if (sandbox_template_enter(probe_files, false) < 0)
		_exit(2);
	pid_t c = fork();
	if (c == 0)
		run_probe(probe);
	int st = 0;
	if (c < 0 || waitpid(c, &st, 0) != c)
		syscall(SYS_exit_group, 4);
	syscall(SYS_exit_group, WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st));
}

/* The probe's wait status: exit 0 when the probe was allowed. */
static int probe_status(void (*probe)(void))
{
	pid_t pid = fork();
	if (pid == 0) {
		log_set_sink("none"); /* a log on a regular file would keep RLIMIT_FSIZE off */
		if (probe_stage == SPAWNED)
			run_probe(probe);
		run_template(probe);
	}
	int st = -1;
	if (pid > 0)
		waitpid(pid, &st, 0);
	if (probe_stage != SPAWNED && WIFEXITED(st) && WEXITSTATUS(st) > 128)
		st = WEXITSTATUS(st) - 128; /* the wait status of a process killed by that signal */
	return st;
}

static bool allowed(void (*probe)(void))
{
	int st = probe_status(probe);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static bool killed(void (*probe)(void))
{
	int st = probe_status(probe);
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS;
}

/*
 * --sandbox-log: the child enters the trapping filter with its log on a
 * pipe, makes a forbidden call, and must live on with ENOSYS from it and a
 * line naming the call.
 */
static void test_sandbox_log(void)
{
	int p[2];
	if (pipe(p) < 0) {
		CHECK("sandbox --sandbox-log: pipe", false);
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 2);
		log_init("unit-sandbox");
		if (sandbox_enter(SANDBOX_HANDED, true) < 0)
			_exit(2);
		long r = syscall(SYS_getppid);
		must(r == -1 && errno == ENOSYS);
		syscall(SYS_exit_group, 0);
	}
	close(p[1]);
	int st = -1;
	if (pid > 0)
		waitpid(pid, &st, 0);
	char buf[4096];
	ssize_t n = read(p[0], buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	close(p[0]);
	CHECK("sandbox --sandbox-log: a forbidden call fails with ENOSYS and the worker lives on",
	      WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK("sandbox --sandbox-log: the call is logged by name",
	      strstr(buf, "warn: sandbox: system call getppid (") != NULL);
}

/*
 * The worker template's way: the template's filter, inherited by a forked
 * child and its only one, upgraded or not. Before its upgrade the child may
 * do its set-up and plain HTTP, but start no process; its upgrade loads
 * nothing, and what the filter refuses stays refused. openat2 and pread
 * only in the variant for a worker with a directory of files.
 */
static void test_forked(void)
{
	probe_stage = FORKED;
	can_raise_hard = raises_hard_limit();
	CHECK("sandbox template: its child has RLIMIT_NPROC 0", allowed(p_nproc_zero));
	CHECK("sandbox template: its child has a small RLIMIT_NOFILE, hard too", allowed(p_nofile_small));
	CHECK("sandbox template, before the upgrade: recvmsg and write are allowed", allowed(p_recvmsg) && allowed(p_write));
	CHECK("sandbox template, before the upgrade: open kills the process", killed(p_open));
	CHECK("sandbox template, before the upgrade: execve kills the process", killed(p_execve));
	CHECK("sandbox template, before the upgrade: getppid kills the process", killed(p_getppid));
	CHECK("sandbox template, before the upgrade: a socket kills the process", killed(p_unix_socket));
	CHECK("sandbox template, before the upgrade: a clone into a namespace kills the process", killed(p_clone_ns));
	CHECK("sandbox template, before the upgrade: sendto an address kills the process", killed(p_sendto_addr));
	CHECK("sandbox template, before the upgrade: prctl other than PR_SET_NAME kills the process", killed(p_prctl));
	CHECK("sandbox template, without files: openat2 and pread kill the process",
	      killed(p_openat2) && killed(p_pread));
	CHECK("sandbox template: seccomp (a filter of its own) kills the process", killed(p_seccomp));
	CHECK("sandbox template: signalfd kills the process", killed(p_signalfd));
	CHECK("sandbox template: prlimit64 on another process kills the process", killed(p_prlimit_other));
	int st = probe_status(p_file_write);
	CHECK("sandbox template: a file opened before cannot grow (RLIMIT_FSIZE 0 from the template)",
	      probe_file >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGXFSZ);
}

static void test_upgraded(void)
{
	probe_stage = UPGRADED;
	CHECK("sandbox template, upgraded: write, recvmsg, F_SETFL O_NONBLOCK, read-write mmap are allowed",
	      allowed(p_write) && allowed(p_recvmsg) && allowed(p_nonblock) && allowed(p_mmap_rw));
	CHECK("sandbox template, upgraded: open, getppid, execve, a socket, connect kill the process",
	      killed(p_open) && killed(p_getppid) && killed(p_execve) && killed(p_unix_socket) && killed(p_connect));
	CHECK("sandbox template, upgraded: F_SETOWN, executable mmap, SO_ATTACH_FILTER kill the process",
	      killed(p_setown) && killed(p_mmap_exec) && killed(p_attach_filter));
	CHECK("sandbox template, upgraded, without files: openat2, pread, seccomp kill the process",
	      killed(p_openat2) && killed(p_pread) && killed(p_seccomp));
	CHECK("sandbox template, upgraded: the limits hold", allowed(p_nproc_zero) && allowed(p_nofile_small));
	CHECK("sandbox template: a forked child cannot enter a dialling worker's sandbox", allowed(p_enter_dial));
	probe_files = true;
	CHECK("sandbox template with files: openat2 (RESOLVE_BENEATH) and pread are allowed, upgraded too",
	      allowed(p_openat2) && allowed(p_pread));
	CHECK("sandbox template with files: open, execve, a socket still kill the process",
	      killed(p_open) && killed(p_execve) && killed(p_unix_socket));
	probe_stage = FORKED;
	CHECK("sandbox template with files, before the upgrade: openat2 and pread are allowed",
	      allowed(p_openat2) && allowed(p_pread));
	probe_files = false;
	probe_stage = SPAWNED;
}

void test_sandbox(void)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0)
		probe_fd = sv[0];
	CHECK("sandbox: loads, and exit is allowed", allowed(p_nothing));
	char tmpl[] = "/tmp/sb-sandbox-XXXXXX";
	probe_file = mkstemp(tmpl);
	if (probe_file >= 0)
		unlink(tmpl);
	int st = probe_status(p_file_write);
	CHECK("sandbox: writing a file opened before it fails (RLIMIT_FSIZE 0: SIGXFSZ)",
	      probe_file >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGXFSZ);
	CHECK("sandbox: write is allowed", allowed(p_write));
	CHECK("sandbox (tcp:// bus): an AF_INET6 stream socket (bus reconnect) is allowed", allowed(p_tcp_socket));
	CHECK("sandbox (tcp:// bus): an AF_UNIX stream socket kills the process", killed(p_unix_socket));
	CHECK("sandbox: opening a file kills the process", killed(p_open));
	CHECK("sandbox: getppid (not on the list) kills the process", killed(p_getppid));
	CHECK("sandbox: an AF_NETLINK socket kills the process", killed(p_netlink));
	CHECK("sandbox: an AF_PACKET socket kills the process", killed(p_packet));
	CHECK("sandbox: a raw AF_INET socket kills the process", killed(p_raw_inet));
	CHECK("sandbox: an AF_UNIX datagram socket kills the process", killed(p_unix_dgram));
	CHECK("sandbox: a stream socket of another protocol (SCTP) kills the process", killed(p_sctp));
	CHECK("sandbox: execve kills the process", killed(p_execve));
	CHECK("sandbox: fcntl F_GETFL is allowed", allowed(p_getfl));
	CHECK("sandbox: fcntl F_SETFL O_NONBLOCK is allowed", allowed(p_nonblock));
	CHECK("sandbox: fcntl F_SETFD FD_CLOEXEC, F_GETFD are allowed", allowed(p_cloexec));
	CHECK("sandbox: fcntl F_SETOWN kills the process", killed(p_setown));
	CHECK("sandbox: fcntl F_SETOWN_EX kills the process", killed(p_setown_ex));
	CHECK("sandbox: fcntl F_SETSIG kills the process", killed(p_setsig));
	CHECK("sandbox: fcntl F_SETFL with O_ASYNC kills the process", killed(p_async));
	CHECK("sandbox: fcntl F_DUPFD kills the process", killed(p_dupfd));
	CHECK("sandbox: kill kills the process", killed(p_kill));
	CHECK("sandbox: tgkill kills the process", killed(p_tgkill));
	CHECK("sandbox: ioctl (FIOASYNC) kills the process", killed(p_ioctl));
	CHECK("sandbox: prctl kills the process", killed(p_prctl));
	CHECK("sandbox: setsockopt TCP_NODELAY is allowed", allowed(p_nodelay));
	CHECK("sandbox: setsockopt SO_ATTACH_FILTER kills the process", killed(p_attach_filter));
	CHECK("sandbox: mmap of read-write memory is allowed", allowed(p_mmap_rw));
	CHECK("sandbox: mmap of executable memory kills the process", killed(p_mmap_exec));
	CHECK("sandbox: mprotect kills the process", killed(p_mprotect));
	CHECK("sandbox: recvmsg is not allowed to a worker that dials", killed(p_recvmsg));

	probe_bus = SANDBOX_DIAL_UNIX;
	CHECK("sandbox (ipc:// bus): an AF_UNIX stream socket (bus reconnect) is allowed", allowed(p_unix_socket));
	CHECK("sandbox (ipc:// bus): an AF_INET6 stream socket kills the process", killed(p_tcp_socket));
	CHECK("sandbox (ipc:// bus): setsockopt kills the process", killed(p_nodelay_set));
	CHECK("sandbox (ipc:// bus): an AF_UNIX datagram socket kills the process", killed(p_unix_dgram));
	CHECK("sandbox (ipc:// bus): connect is allowed", allowed(p_connect_ok));

	/* under the supervisor: no new sockets at all */
	probe_bus = SANDBOX_HANDED;
	CHECK("sandbox (supervisor mode): loads, write is allowed", allowed(p_write));
	CHECK("sandbox (supervisor mode): recvmsg (a handed connection) is allowed", allowed(p_recvmsg));
	CHECK("sandbox (supervisor mode): an AF_UNIX stream socket kills the process", killed(p_unix_socket));
	CHECK("sandbox (supervisor mode): an AF_INET6 stream socket kills the process", killed(p_tcp_socket));
	CHECK("sandbox (supervisor mode): connect kills the process", killed(p_connect));
	CHECK("sandbox (supervisor mode): an AF_NETLINK socket kills the process", killed(p_netlink));
	CHECK("sandbox (supervisor mode): an AF_PACKET socket kills the process", killed(p_packet));
	CHECK("sandbox (supervisor mode): a raw AF_INET socket kills the process", killed(p_raw_inet));
	CHECK("sandbox (supervisor mode): setsockopt kills the process", killed(p_nodelay_set));
	CHECK("sandbox (supervisor mode): fcntl F_SETOWN kills the process", killed(p_setown));
	CHECK("sandbox (supervisor mode): fcntl F_SETFL O_NONBLOCK is allowed", allowed(p_nonblock));
	probe_bus = SANDBOX_DIAL_INET;
	test_forked();
	test_upgraded();
	if (probe_file >= 0)
		close(probe_file);
	test_sandbox_log();
	if (probe_fd >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
}
