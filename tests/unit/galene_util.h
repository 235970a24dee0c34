/* Helpers shared by the Galène unit tests: running a real tool (node,
 * python3) for test vectors, and parsing a password or JSON literal. */
#ifndef SB_TEST_GALENE_UTIL_H
#define SB_TEST_GALENE_UTIL_H
#include <stddef.h>

/* Runs cmd with sh, returns its whole stdout (NUL-terminated, malloc'd),
 * or NULL when it could not run or exited non-zero. */
char *galene_run(const char *cmd);

#endif
