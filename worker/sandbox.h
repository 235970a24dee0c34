/* The worker's seccomp sandbox: rules (build time) and loading (run time). */
#ifndef SB_SANDBOX_H
#define SB_SANDBOX_H
#include <seccomp.h>

/* worker/sandbox_rules.c: the allowlist as a libseccomp context, or NULL. */
scmp_filter_ctx sandbox_rules(void);

/* worker/sandbox.c: loads the filter built from those rules; 0 or -1. */
int sandbox_enter(void);

#endif
