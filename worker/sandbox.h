/*
 * The worker's seccomp allowlist as libseccomp rules, for the build-time
 * compiler worker/sandbox_gen.c. The worker itself only loads the result
 * (sandbox_enter, worker/session.h) and does not link libseccomp.
 */
#ifndef SB_SANDBOX_H
#define SB_SANDBOX_H
#include <seccomp.h>
#include <stdbool.h>

/* worker/sandbox_rules.c: the allowlist as a libseccomp context, or NULL.
 * dial: the worker may open and connect its own bus sockets (no supervisor). */
scmp_filter_ctx sandbox_rules(bool dial);

#endif
