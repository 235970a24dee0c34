/* common/buf and common/hmap: the byte buffer and the keyed hash map. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../common/buf.h"
#include "../../common/hmap.h"
#include "check.h"

/* In a child: a size past SIZE_MAX is fatal, never a silent partial append. */
static int huge_reservation_exit(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct buf b = {0};
		buf_append(&b, "x", 1);
		if (!freopen("/dev/null", "w", stderr))
			_exit(1);
		buf_reserve(&b, SIZE_MAX - 10);
		_exit(0);
	}
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_buffer(void)
{
	struct buf b = {0};
	CHECK("buf: empty buffer has no head", buf_used(&b) == 0 && buf_head(&b) == NULL);
	CHECK("buf: appending nothing allocates nothing", buf_append(&b, NULL, 0) == 0 && b.data == NULL);
	buf_append_str(&b, "hello ");
	buf_printf(&b, "%s %d", "world", 42);
	CHECK("buf: append and printf", buf_used(&b) == 14 && memcmp(buf_head(&b), "hello world 42", 14) == 0);
	buf_consume(&b, 6);
	CHECK("buf: consume moves the head", buf_used(&b) == 8 && memcmp(buf_head(&b), "world 42", 8) == 0);
	buf_consume(&b, 8);
	CHECK("buf: consuming everything rewinds", b.off == 0 && b.len == 0 && b.data != NULL);

	/* A consumed prefix is slid away rather than growing the buffer. */
	uint8_t chunk[200];
	for (int i = 0; i < 200; i++)
		chunk[i] = (uint8_t)i;
	buf_append(&b, chunk, 200);
	size_t cap = b.cap;
	buf_consume(&b, 150);
	buf_append(&b, chunk, 200);
	CHECK("buf: compaction keeps the capacity", b.cap == cap && b.off == 0 && buf_used(&b) == 250);
	CHECK("buf: compaction keeps the bytes",
	      memcmp(buf_head(&b), chunk + 150, 50) == 0 && memcmp(buf_head(&b) + 50, chunk, 200) == 0);

	struct buf big = {0};
	bool ok = true;
	for (int i = 0; i < 5000; i++)
		ok = ok && buf_append(&big, chunk, 200) == 0;
	for (size_t i = 0; i < buf_used(&big) && ok; i++)
		ok = buf_head(&big)[i] == (uint8_t)(i % 200);
	CHECK("buf: growth to 1 MB keeps every byte", ok && buf_used(&big) == 1000000);
	CHECK("buf: a reservation past SIZE_MAX ends the process with 111, as out of memory does",
	      huge_reservation_exit() == 111);
	buf_shrink(&big, 65536);
	CHECK("buf: shrink keeps a buffer with live bytes", big.data != NULL);
	buf_reset(&big);
	buf_shrink(&big, 65536);
	CHECK("buf: shrink frees a large idle buffer", big.data == NULL && big.cap == 0);
	buf_append(&big, "x", 1);
	buf_consume(&big, 1);
	buf_shrink(&big, 65536);
	CHECK("buf: shrink keeps a small idle buffer", big.data != NULL);
	buf_free(&big);
	buf_free(&b);
	CHECK("buf: free clears", b.data == NULL && b.cap == 0 && buf_used(&b) == 0);
}

static void count_cb(void *arg, const void *key, size_t klen, void *value)
{
	(void)key;
	(void)klen;
	(void)value;
	(*(int *)arg)++;
}

static void test_map(void)
{
	struct hmap m;
	CHECK("hmap: init", hmap_init(&m) == 0);
	int vals[3] = {1, 2, 3};
	void *old = &m;
	CHECK("hmap: put new", hmap_put(&m, "alice", 5, &vals[0], &old) == 0 && old == NULL);
	hmap_put(&m, "bob", 3, &vals[1], NULL);
	CHECK("hmap: get", hmap_get(&m, "alice", 5) == &vals[0] && hmap_get(&m, "bob", 3) == &vals[1]);
	CHECK("hmap: keys are byte strings of their length", hmap_get(&m, "alic", 4) == NULL && hmap_get(&m, "alice\0", 6) == NULL);
	CHECK("hmap: replace returns the old value", hmap_put(&m, "alice", 5, &vals[2], &old) == 0 && old == &vals[0] &&
							  hmap_get(&m, "alice", 5) == &vals[2] && m.count == 2);
	CHECK("hmap: empty key", hmap_put(&m, "", 0, &vals[1], NULL) == 0 && hmap_get(&m, "", 0) == &vals[1]);
	CHECK("hmap: delete", hmap_del(&m, "bob", 3) == &vals[1] && hmap_get(&m, "bob", 3) == NULL && m.count == 2);
	CHECK("hmap: delete missing", hmap_del(&m, "bob", 3) == NULL);

	/* Enough entries to grow several times. */
	bool ok = true;
	for (uint64_t k = 0; k < 5000; k++)
		ok = ok && hmap_put_u64(&m, k, (void *)(uintptr_t)(k + 1)) == 0;
	for (uint64_t k = 0; k < 5000; k++)
		ok = ok && hmap_get_u64(&m, k) == (void *)(uintptr_t)(k + 1);
	CHECK("hmap: 5000 entries survive growth", ok && m.count == 5002 && m.nslots >= m.count);
	int n = 0;
	hmap_each(&m, count_cb, &n);
	CHECK("hmap: each visits every entry", n == 5002);
	for (uint64_t k = 0; k < 5000; k += 2)
		ok = ok && hmap_del_u64(&m, k) == (void *)(uintptr_t)(k + 1);
	for (uint64_t k = 0; k < 5000; k++)
		ok = ok && hmap_get_u64(&m, k) == (k % 2 ? (void *)(uintptr_t)(k + 1) : NULL);
	CHECK("hmap: half deleted, the rest intact", ok && m.count == 2502);
	hmap_free(&m);
	CHECK("hmap: free", m.slots == NULL && m.count == 0);

	struct hmap a, b;
	hmap_init(&a);
	hmap_init(&b);
	CHECK("hmap: each map has its own random seed", memcmp(a.seed, b.seed, sizeof a.seed) != 0);
	hmap_free(&a);
	hmap_free(&b);
}

void test_buf(void)
{
	test_buffer();
	test_map();
}
