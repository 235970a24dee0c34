/* router/heaptrim: the router's free heap goes back a second after it was last busy. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../router/heaptrim.h"
#include "check.h"

#define CHUNKS 400
#define CHUNK (16 * 1024)

static bool resident(const void *p)
{
	uintptr_t page = (uintptr_t)p & ~(uintptr_t)(getpagesize() - 1);
	unsigned char v = 0;
	return mincore((void *)page, (size_t)getpagesize(), &v) == 0 && (v & 1);
}

void test_heaptrim(void)
{
	CHECK("heaptrim: nothing armed before the first turn", heaptrim_due() == 0);
	heaptrim_turn(1000);
	CHECK("heaptrim: a turn arms a check a second on", heaptrim_due() == 2000);
	heaptrim_turn(1500);
	CHECK("heaptrim: turns before it leave it where it is", heaptrim_due() == 2000);

	/* a burst's buffers, each with a small live chunk after it (as a table
	 * grown meanwhile): freed, they are 6 MB of holes glibc keeps resident */
	static char *big[CHUNKS], *pin[CHUNKS];
	for (int i = 0; i < CHUNKS; i++) {
		big[i] = malloc(CHUNK);
		pin[i] = malloc(64);
		if (big[i])
			memset(big[i], 1, CHUNK);
	}
	char *mid = big[CHUNKS / 2] + CHUNK / 2; /* a page inside a hole, away from its header */
	for (int i = 0; i < CHUNKS; i++)
		free(big[i]);
	bool was = resident(mid);
	heaptrim_turn(2000);
	CHECK("heaptrim: the check runs when due, and none is armed after it", heaptrim_due() == 0);
#ifndef TEST_ASAN
	CHECK("heaptrim: the pages of the freed chunks are given back", was && !resident(mid));
#else
	(void)was; /* ASan's allocator keeps freed chunks in quarantine */
#endif
	heaptrim_turn(2100);
	CHECK("heaptrim: the next turn arms the next check", heaptrim_due() == 3100);
	for (int i = 0; i < CHUNKS; i++)
		free(pin[i]);
}
