/* worker/memtrim: what an idle worker gives back, and what it keeps. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../worker/memtrim.h"
#include "../../worker/session.h"
#include "check.h"

static uint8_t scratch[2 * 4096] __attribute__((aligned(4096)));

/* Touches a page 64 KB below the caller and returns its address. */
static uintptr_t __attribute__((noinline)) deep_page(void)
{
	volatile uint8_t big[64 * 1024];
	for (size_t i = 0; i < sizeof big; i += 4096)
		big[i] = 1;
	return (uintptr_t)&big[0] & ~(uintptr_t)(getpagesize() - 1);
}

static bool resident(uintptr_t page)
{
	unsigned char v = 0;
	return mincore((void *)page, (size_t)getpagesize(), &v) == 0 && (v & 1);
}

void test_memtrim(void)
{
	struct session s;
	memset(&s, 0, sizeof s);
	s.bus_wanted = true;
	mp_out_init(&s.batch);
	msgpack_pack_int(&s.batch.pk, 7);
	mp_out_reset(&s.batch); /* allocated, empty */
	buf_append(&s.bus.in, "frame", 5);    /* a part of a frame: kept */
	buf_append(&s.out, "sent", 4);
	buf_consume(&s.out, 4);               /* allocated, empty: freed */
	buf_reserve(&s.bus.out, 100);
	memset(scratch, 0xab, sizeof scratch);
	memtrim_scratch(scratch, sizeof scratch);

	memtrim_if_due(&s);
	CHECK("memtrim: nothing is trimmed before it is asked for", s.out.data != NULL && scratch[0] == 0xab);
	memtrim_request(INT64_MAX / 2);
	memtrim_request(0);
	CHECK("memtrim: the sooner of two requests stands", memtrim_deadline() == 1);
	uintptr_t page = deep_page();
	bool was = resident(page);
	memtrim_if_due(&s);
	CHECK("memtrim: an empty output buffer is freed", s.out.data == NULL && s.out.cap == 0);
	CHECK("memtrim: an empty bus queue is freed", s.bus.out.data == NULL);
	CHECK("memtrim: the bus bytes of a frame still coming are kept",
	      buf_used(&s.bus.in) == 5 && memcmp(buf_head(&s.bus.in), "frame", 5) == 0);
	CHECK("memtrim: the empty batch is freed, and packs again", s.batch.sb.data == NULL && s.batch.sb.size == 0);
	msgpack_pack_int(&s.batch.pk, 9);
	CHECK("memtrim: the batch packs after its trim", s.batch.sb.size == 1 && s.batch.sb.data[0] == 9);
	CHECK("memtrim: the scratch buffer's pages are dropped (read as zero)",
	      scratch[0] == 0 && scratch[sizeof scratch - 1] == 0);
#ifndef TEST_ASAN
	CHECK("memtrim: a page below the loop's frame is given back", was && !resident(page));
#else
	(void)was;
#endif
	CHECK("memtrim: a second trim follows the first (a late router)", memtrim_deadline() > 1);
	mp_out_free(&s.batch);
	buf_free(&s.bus.in);
	buf_free(&s.bus.out);
	buf_free(&s.out);
}
