/*
 * The worker's seccomp allowlist as libseccomp rules, for the build-time
 * compiler worker/sandbox_gen.c. The worker itself only loads the result
 * (sandbox_enter, worker/session.h) and does not link libseccomp.
 */
#ifndef SB_SANDBOX_H
#define SB_SANDBOX_H
#include <seccomp.h>
#include <stdbool.h>

#include "sandbox_mode.h"

/* worker/sandbox_rules.c: the allowlist as a libseccomp context, or NULL.
 * log_only: a call off the list traps (SIGSYS to a handler) instead of killing. */
scmp_filter_ctx sandbox_rules(enum sandbox_bus bus, bool log_only);

#endif
