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

/* Whether the last sandbox_rules built names sys in a rule, whatever its arguments. */
bool sandbox_rules_names(int sys);

/* worker/sandbox_layers.c: the worker template's filter (sandbox_mode.h),
 * or NULL: sandbox_rules(SANDBOX_HANDED) and the template's additions. */
scmp_filter_ctx sandbox_template_rules(enum sandbox_template t, bool log_only);

#endif
