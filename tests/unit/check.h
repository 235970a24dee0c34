/* A minimal TAP-like harness: each check prints ok/not ok with its name. */
#ifndef SB_CHECK_H
#define SB_CHECK_H
#include <stdio.h>

extern int check_passed, check_failed;

#define CHECK(name, cond)                                                                \
	do {                                                                             \
		if (cond) {                                                              \
			check_passed++;                                                  \
			printf("ok - %s\n", name);                                       \
		} else {                                                                 \
			check_failed++;                                                  \
			printf("not ok - %s (%s:%d: %s)\n", name, __FILE__, __LINE__, #cond); \
		}                                                                        \
	} while (0)

#endif
