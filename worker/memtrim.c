/*
 * An idle worker's own pages are most of what an idle connection costs
 * (one process each, thousands of them), and much of them was touched only
 * once: the handshake's parsing and logging run deeper on the stack than the
 * event loop ever goes again, and the request's buffers leave free chunks
 * in the heap. So a second after the session opens (once the protocol's
 * first exchange with the router is over), again ten seconds later (in
 * case a busy router answered late), and whenever the client has been
 * silent long enough to be pinged, the loop gives back, right before it
 * waits:
 *   - its empty buffers (the bus connection's 16 KB read buffer and its
 *     queue, the batch, the client's output): they come back on demand,
 *     and freed they let the heap's top move down;
 *   - the heap's free pages (malloc_trim);
 *   - the pages of the client's read buffer (scratch between turns);
 *   - the stack below the loop's frame (MADV_DONTNEED: they read as zero if
 *     ever touched again, which for dead frames is no matter).
 * A forked worker's stack pages are its own copies by then (copy on
 * write), so this frees them for real: 12 KB of stack, 8 KB of heap and
 * 4 KB of the read buffer a connection, of about 60 KB of its own pages
 * (x86-64, an idle client that registered an id).
 */
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/clock.h"
#include "memtrim.h"
#include "session.h"

/* How far below the loop's frame to cut: nothing is mapped that close
 * under a stack but the stack itself (the kernel places mmaps at least
 * 128 MB below its top and keeps a guard gap under it), and madvise skips
 * the unmapped part of the range (ENOMEM, ignored). */
#define STACK_TRIM (256 * 1024)

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEMTRIM_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define MEMTRIM_ASAN 1
#endif

#define TRIM_AGAIN_MS 10000

static int64_t trim_at; /* 0: none asked for */
static bool again_done;
static void *scratch;
static size_t scratch_len;

void memtrim_scratch(void *p, size_t n)
{
	scratch = p;
	scratch_len = n;
}

void memtrim_request(int64_t at)
{
	if (at < 1)
		at = 1;
	if (!trim_at || at < trim_at)
		trim_at = at;
}

int64_t memtrim_deadline(void) { return trim_at; }

#if defined(__x86_64__) && !defined(MEMTRIM_ASAN)
/* The system call is made in place: a libc stub would push its return
 * address below the line, on a page being dropped. The line leaves the red
 * zone and this frame above it. */
static void __attribute__((noinline)) trim_stack(void)
{
	uintptr_t sp, page = (uintptr_t)getpagesize();
	__asm__ volatile("mov %%rsp, %0" : "=r"(sp));
	uintptr_t keep = (sp - 256) & ~(page - 1);
	long rc;
	__asm__ volatile("syscall"
			 : "=a"(rc)
			 : "0"((long)SYS_madvise), "D"(keep - STACK_TRIM), "S"((long)STACK_TRIM), "d"((long)MADV_DONTNEED)
			 : "rcx", "r11", "memory");
	(void)rc;
}
#else
/* elsewhere (and under ASan, whose frames are larger): through libc, a page
 * of margin for its frames */
static void __attribute__((noinline)) trim_stack(void)
{
	char here;
	uintptr_t page = (uintptr_t)getpagesize();
	uintptr_t keep = (((uintptr_t)&here - 256) & ~(page - 1)) - 2 * page;
	(void)madvise((void *)(keep - STACK_TRIM), STACK_TRIM, MADV_DONTNEED);
}
#endif

void memtrim_if_due(struct session *s)
{
	if (!trim_at || clock_ms() < trim_at)
		return;
	trim_at = 0;
	if (!again_done) {
		again_done = true;
		trim_at = clock_ms() + TRIM_AGAIN_MS;
	}
	buf_shrink(&s->bus.in, 0);
	buf_shrink(&s->bus.out, 0);
	buf_shrink(&s->out, 0);
	if (s->bus_wanted && s->batch.sb.size == 0) { /* the packer keeps &sb: init leaves it valid */
		mp_out_free(&s->batch);
		msgpack_sbuffer_init(&s->batch.sb);
	}
	malloc_trim(0);
	if (scratch)
		(void)madvise(scratch, scratch_len, MADV_DONTNEED);
	trim_stack();
}
