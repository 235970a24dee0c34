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

/* TEST_ASAN: built with AddressSanitizer (clang or gcc), whose allocator keeps
 * freed memory in quarantine, so page-return checks do not apply */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#endif

#endif
