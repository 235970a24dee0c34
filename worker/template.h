/*
 * The worker template (switchboard-worker --template): one worker process,
 * started by the supervisor and set up once (exec, options, every
 * protocol's setup), that forks a fresh worker per connection on the
 * supervisor's request. See worker/template.c; the supervisor's side is
 * worker/supervisor_template.c.
 *
 * The messages, on a SOCK_SEQPACKET socketpair (the template's --bus-fd):
 *   supervisor -> template: 'c' with SCM_RIGHTS {client socket, the new
 *     worker's bus control socket}
 *   template -> supervisor, in the order of the requests: 'p' + pid (the
 *     child started) or 'n' + errno (fork failed: the supervisor spawns a
 *     worker the old way); and at any time 'x' + pid + wait status (a
 *     child ended: the template is its parent and reaps it).
 */
#ifndef SB_TEMPLATE_H
#define SB_TEMPLATE_H
#include <stdbool.h>
#include <stdint.h>

/* The first argument that makes switchboard-worker a template. */
#define TEMPLATE_FLAG "--template"

struct template_msg {
	char type;     /* 'p', 'n', 'x' */
	int32_t pid;   /* 'p', 'x' */
	int32_t value; /* 'n': errno; 'x': the wait status */
};

/*
 * Serves requests on ctl until the supervisor hangs up (then exits), in its
 * seccomp filter when sandbox (--sandbox-log: sandbox_log). Returns
 * only in a forked child, with the client on fd 0 and 1, its own control
 * socket on ctl's number, the template's descriptors closed and signals as
 * a freshly exec'd worker has them.
 */
void template_run(int ctl, bool sandbox, bool sandbox_log);

#endif
