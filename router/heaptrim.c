/*
 * A burst of messages leaves the router's heap full of free chunks: a
 * WebSocketStar announcement round after changes queues a copy of the
 * address list for every member worker at once (80 KB each at 1000 peers,
 * 80 MB in all), and once written and freed those chunks stay resident.
 * glibc gives back only the top of the heap past its trim threshold, and a
 * single live chunk above them (a table grown meanwhile) keeps them all, so
 * an idle router stayed at 115 MB of which 6 MB was in use.
 *
 * So a second after the loop was last busy (a check armed by any turn, run
 * by the first turn after it), when more than HEAPTRIM_FREE bytes of the
 * heap are free, malloc_trim returns their pages. The bufpool's spares are
 * in use, not free: a relay's steady flow keeps its buffers and trims
 * nothing. The check is a walk over malloc's free lists (mallinfo2).
 */
#include "heaptrim.h"

#include <malloc.h>

#define HEAPTRIM_DELAY_MS 1000
#define HEAPTRIM_FREE (1u << 20)

static int64_t due; /* 0: no check armed */

void heaptrim_turn(int64_t now)
{
	if (!due) {
		due = now + HEAPTRIM_DELAY_MS;
		return;
	}
	if (now < due)
		return;
	due = 0;
	struct mallinfo2 mi = mallinfo2();
	if (mi.fordblks > HEAPTRIM_FREE)
		malloc_trim(0);
}

int64_t heaptrim_due(void) { return due; }
